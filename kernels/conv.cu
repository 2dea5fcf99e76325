// kernels/conv.cu — CUDA twin of kernels/conv_cpu.cpp: cuDNN's legacy convolution API (float32,
// NCHW). Forward = cudnnConvolutionForward + cudnnAddTensor for the bias; backward =
// cudnnConvolutionBackwardData / BackwardFilter / BackwardBias, each only when asked for.
//
// Algorithms are chosen once per geometry and math mode from cuDNN's heuristics
// (cudnnGet*Algorithm_v7: no trial runs, no allocations) and cached with their workspace sizes.
// The choice prefers deterministic algorithms (runs repeat exactly), then speed, within a 1 GiB
// workspace; the workspace itself comes from workspace() (kernels/cuda_context.cuh).
//
// Math mode: with allow_tf32() off the descriptors ask for CUDNN_FMA_MATH, not
// CUDNN_DEFAULT_MATH — on sm_80 and later DEFAULT already permits TF32 tensor-core kernels, which
// would break the 1e-5 agreement with the CPU. With TF32 allowed: CUDNN_DEFAULT_MATH, accepting
// the tensor-op variants cuDNN proposes except those that down-convert to half precision.
#include <algorithm>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "kernels/conv.h"
#include "kernels/cuda_common.cuh"

namespace ff::cuda {

namespace {

constexpr size_t kMaxWorkspace = size_t{1} << 30;

// Descriptors for one call, destroyed on every path out.
struct Descs {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, b = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;

  explicit Descs(const ConvShape& s) {
    try {
      CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
      CUDNN_CHECK(cudnnCreateTensorDescriptor(&y));
      CUDNN_CHECK(cudnnCreateTensorDescriptor(&b));
      CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
      CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
      CUDNN_CHECK(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)s.n, (int)s.cin,
                                             (int)s.h, (int)s.w));
      CUDNN_CHECK(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)s.n, (int)s.cout,
                                             (int)s.ho, (int)s.wo));
      CUDNN_CHECK(cudnnSetTensor4dDescriptor(b, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, (int)s.cout, 1, 1));
      CUDNN_CHECK(cudnnSetFilter4dDescriptor(w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, (int)s.cout, (int)s.cin,
                                             (int)s.k, (int)s.k));
      CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv, (int)s.pad, (int)s.pad, (int)s.stride, (int)s.stride, 1, 1,
                                                  CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    } catch (...) {
      release();
      throw;
    }
  }
  ~Descs() { release(); }
  Descs(const Descs&) = delete;
  Descs& operator=(const Descs&) = delete;

  // Destroy calls cannot usefully fail here (and a destructor must not throw): status ignored.
  void release() {
    if (x) cudnnDestroyTensorDescriptor(x);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (b) cudnnDestroyTensorDescriptor(b);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
    x = y = b = nullptr;
    w = nullptr;
    conv = nullptr;
  }
};

// One chosen algorithm: which, under which math type, and how much workspace it needs.
template <typename Algo>
struct Choice {
  Algo algo{};
  cudnnMathType_t math = CUDNN_FMA_MATH;
  size_t workspace = 0;
};
struct Algos {
  bool has_fwd = false, has_bwd_data = false, has_bwd_filter = false;
  Choice<cudnnConvolutionFwdAlgo_t> fwd;
  Choice<cudnnConvolutionBwdDataAlgo_t> bwd_data;
  Choice<cudnnConvolutionBwdFilterAlgo_t> bwd_filter;
};

using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, bool>;
std::mutex g_mu;
std::map<Key, Algos>& cache() {
  static auto* m = new std::map<Key, Algos>();  // leaked on purpose: used until process exit
  return *m;
}

cudnnMathType_t requested_math(bool tf32) { return tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH; }
bool acceptable_math(cudnnMathType_t m, bool tf32) {
  if (!tf32) return m == CUDNN_FMA_MATH;
  return m != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

// Index of the heuristics' best acceptable entry: deterministic first, then any; -1 if none.
template <typename Perf>
int pick(const Perf* perf, int count, bool tf32) {
  for (int pass = 0; pass < 2; ++pass)
    for (int i = 0; i < count; ++i) {
      const Perf& p = perf[i];
      if (p.status != CUDNN_STATUS_SUCCESS || p.memory > kMaxWorkspace || !acceptable_math(p.mathType, tf32)) continue;
      if (pass == 0 && p.determinism != CUDNN_DETERMINISTIC) continue;
      return i;
    }
  return -1;
}

// cuDNN's entry points for one direction of the convolution: the algorithm enum and its perf
// record, the heuristics query, the workspace query and a fallback that supports every geometry we
// allow. The CUDNN_CHECKs sit here so an error names the real cuDNN function.
struct ForwardApi {
  using Algo = cudnnConvolutionFwdAlgo_t;
  using Perf = cudnnConvolutionFwdAlgoPerf_t;
  static constexpr Algo kFallback = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  static int max_count(cudnnHandle_t h) {
    int n = 0;
    CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &n));
    return n;
  }
  static int heuristics(cudnnHandle_t h, const Descs& d, int n, Perf* perf) {
    int count = 0;
    CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, d.x, d.w, d.conv, d.y, n, &count, perf));
    return count;
  }
  static size_t workspace(cudnnHandle_t h, const Descs& d, Algo a) {
    size_t bytes = 0;
    CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(h, d.x, d.w, d.conv, d.y, a, &bytes));
    return bytes;
  }
};

struct BackwardDataApi {
  using Algo = cudnnConvolutionBwdDataAlgo_t;
  using Perf = cudnnConvolutionBwdDataAlgoPerf_t;
  static constexpr Algo kFallback = CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
  static int max_count(cudnnHandle_t h) {
    int n = 0;
    CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &n));
    return n;
  }
  static int heuristics(cudnnHandle_t h, const Descs& d, int n, Perf* perf) {
    int count = 0;
    CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, d.w, d.y, d.conv, d.x, n, &count, perf));
    return count;
  }
  static size_t workspace(cudnnHandle_t h, const Descs& d, Algo a) {
    size_t bytes = 0;
    CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(h, d.w, d.y, d.conv, d.x, a, &bytes));
    return bytes;
  }
};

struct BackwardFilterApi {
  using Algo = cudnnConvolutionBwdFilterAlgo_t;
  using Perf = cudnnConvolutionBwdFilterAlgoPerf_t;
  static constexpr Algo kFallback = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1;
  static int max_count(cudnnHandle_t h) {
    int n = 0;
    CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &n));
    return n;
  }
  static int heuristics(cudnnHandle_t h, const Descs& d, int n, Perf* perf) {
    int count = 0;
    CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, d.x, d.y, d.conv, d.w, n, &count, perf));
    return count;
  }
  static size_t workspace(cudnnHandle_t h, const Descs& d, Algo a) {
    size_t bytes = 0;
    CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(h, d.x, d.y, d.conv, d.w, a, &bytes));
    return bytes;
  }
};

// The heuristics' best acceptable algorithm for one direction (pick), else the fallback.
template <typename Api>
Choice<typename Api::Algo> choose(const Descs& d, bool tf32) {
  cudnnHandle_t h = cudnn();
  CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, requested_math(tf32)));
  const int max_count = std::max(Api::max_count(h), 1);
  std::vector<typename Api::Perf> perf(max_count);
  const int count = Api::heuristics(h, d, max_count, perf.data());
  Choice<typename Api::Algo> c;
  const int i = pick(perf.data(), count, tf32);
  if (i >= 0) {
    c.algo = perf[i].algo;
    c.math = perf[i].mathType;
    c.workspace = perf[i].memory;
  } else {
    c.algo = Api::kFallback;
    c.math = requested_math(tf32);
    c.workspace = Api::workspace(h, d, c.algo);
  }
  return c;
}

// The cached algorithms for this geometry and math mode, filling in the directions asked for.
Algos algos_for(const ConvShape& s, const Descs& d, bool fwd, bool bwd_data, bool bwd_filter) {
  const bool tf32 = allow_tf32();
  const Key key{s.n, s.cin, s.h, s.w, s.cout, s.k, s.stride, s.pad, tf32};
  std::lock_guard<std::mutex> lock(g_mu);
  auto [it, fresh] = cache().try_emplace(key);
  Algos& a = it->second;
  if (fresh) {  // once per geometry: cuDNN must agree with our output size
    int n = 0, c = 0, h = 0, w = 0;
    CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(d.conv, d.x, d.w, &n, &c, &h, &w));
    if (n != s.n || c != s.cout || h != s.ho || w != s.wo) {
      cache().erase(it);
      FF_FAIL("conv2d: cuDNN output size [", n, ", ", c, ", ", h, ", ", w, "] differs from [", s.n, ", ", s.cout,
              ", ", s.ho, ", ", s.wo, "]");
    }
  }
  if (fwd && !a.has_fwd) {
    a.fwd = choose<ForwardApi>(d, tf32);
    a.has_fwd = true;
  }
  if (bwd_data && !a.has_bwd_data) {
    a.bwd_data = choose<BackwardDataApi>(d, tf32);
    a.has_bwd_data = true;
  }
  if (bwd_filter && !a.has_bwd_filter) {
    a.bwd_filter = choose<BackwardFilterApi>(d, tf32);
    a.has_bwd_filter = true;
  }
  return a;
}

void check_size(const ConvShape& s) {
  // cuDNN's 4-D descriptors take int dimensions; keep every tensor below 2^31 elements.
  const int64_t lim = int64_t{1} << 31;
  FF_CHECK(s.n * s.cin * s.h * s.w < lim && s.n * s.cout * s.ho * s.wo < lim && s.cout * s.cin * s.k * s.k < lim,
           "conv2d: tensors of 2^31 or more elements are not supported on CUDA (x [", s.n, ", ", s.cin, ", ", s.h,
           ", ", s.w, "], ", s.cout, " output channels)");
}

}  // namespace

void conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y) {
  check_size(s);
  Descs d(s);
  const Algos a = algos_for(s, d, true, false, false);
  cudnnHandle_t h = cudnn();
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, a.fwd.math));
  void* ws = a.fwd.workspace ? workspace(a.fwd.workspace) : nullptr;
  CUDNN_CHECK(cudnnConvolutionForward(h, &one, d.x, x, d.w, w, d.conv, a.fwd.algo, ws, a.fwd.workspace, &zero, d.y, y));
  if (b) CUDNN_CHECK(cudnnAddTensor(h, &one, d.b, b, &one, d.y, y));  // y += b broadcast over N, H, W
}

void conv2d_backward(const ConvShape& s, const float* x, const float* w, const float* gy, float* gx, float* gw,
                     float* gb) {
  check_size(s);
  Descs d(s);
  cudnnHandle_t h = cudnn();
  const float one = 1.f, zero = 0.f;
  if (gb) CUDNN_CHECK(cudnnConvolutionBackwardBias(h, &one, d.y, gy, &zero, d.b, gb));
  if (!gx && !gw) return;
  const Algos a = algos_for(s, d, false, gx != nullptr, gw != nullptr);
  if (gw) {
    CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, a.bwd_filter.math));
    void* ws = a.bwd_filter.workspace ? workspace(a.bwd_filter.workspace) : nullptr;
    CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &one, d.x, x, d.y, gy, d.conv, a.bwd_filter.algo, ws,
                                               a.bwd_filter.workspace, &zero, d.w, gw));
  }
  if (gx) {
    CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, a.bwd_data.math));
    void* ws = a.bwd_data.workspace ? workspace(a.bwd_data.workspace) : nullptr;
    CUDNN_CHECK(cudnnConvolutionBackwardData(h, &one, d.w, w, d.y, gy, d.conv, a.bwd_data.algo, ws,
                                             a.bwd_data.workspace, &zero, d.x, gx));
  }
}

}  // namespace ff::cuda
