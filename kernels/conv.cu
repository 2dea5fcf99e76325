// kernels/conv.cu — CUDA twin of kernels/conv_cpu.cpp: cuDNN's legacy convolution API (float32,
// NCHW). Forward = cudnnConvolutionForward + cudnnAddTensor for the bias; backward =
// cudnnConvolutionBackwardData / BackwardFilter / BackwardBias, each only when asked for.
//
// Plans. Per geometry (every field of ConvShape) and mode (TF32 allowed, deterministic) a Plan
// holds the cuDNN descriptors, made once, and per direction (forward, backward data, backward
// filter) the ordered list of candidate algorithms, chosen on the direction's first call:
//   - default (as PyTorch's cudnn.benchmark): measured. cudnnFind*AlgorithmEx times every
//     algorithm on the call's own tensors with a workspace of the largest size any algorithm asks
//     for within the bound (kMaxWorkspace, and half the free device memory); entries with a
//     non-success status, a workspace over the bound or an unwanted math type are dropped; the
//     rest are kept fastest first.
//   - deterministic() (engine/config.h): cuDNN's heuristics (cudnnGet*Algorithm_v7, no timing
//     runs), keeping only CUDNN_DETERMINISTIC entries.
// Either list ends with a fallback that supports every geometry we allow (and is deterministic).
// A call runs the first candidate; if execution returns a NOT_SUPPORTED status the candidate is
// dropped for good and the next one runs; if its workspace cannot be allocated the next one is
// tried for this call. When none runs the call fails, listing why, and the next call chooses
// again. Each direction has its own convolution descriptor, so the math type of its chosen
// algorithm is set once, not on every call. One mutex serialises the plans (all work goes to one
// stream anyway).
//
// Math mode: with allow_tf32() off the descriptors ask for CUDNN_FMA_MATH, not
// CUDNN_DEFAULT_MATH — on sm_80 and later DEFAULT already permits TF32 tensor-core kernels, which
// would break the 1e-5 agreement with the CPU. With TF32 allowed: CUDNN_DEFAULT_MATH, accepting
// the tensor-op variants cuDNN proposes except those that down-convert to half precision.
#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <tuple>
#include <vector>

#include "kernels/conv.h"
#include "kernels/cuda_common.cuh"

namespace ff::cuda {

namespace {

constexpr size_t kMaxWorkspace = size_t{1} << 30;

std::string geometry(const ConvShape& s) {
  return detail::cat("x [", s.n, ", ", s.cin, ", ", s.h, ", ", s.w, "], w [", s.cout, ", ", s.cin, ", ", s.k, ", ",
                     s.k, "], stride ", s.stride, ", pad ", s.pad, " -> y [", s.n, ", ", s.cout, ", ", s.ho, ", ", s.wo,
                     "]");
}

// The descriptors of one geometry, made once (in its Plan) and destroyed with it.
struct Descs {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, b = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv[3] = {nullptr, nullptr, nullptr};  // per direction (its math type)

  explicit Descs(const ConvShape& s) {
    try {
      CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
      CUDNN_CHECK(cudnnCreateTensorDescriptor(&y));
      CUDNN_CHECK(cudnnCreateTensorDescriptor(&b));
      CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
      CUDNN_CHECK(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)s.n, (int)s.cin,
                                             (int)s.h, (int)s.w));
      CUDNN_CHECK(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)s.n, (int)s.cout,
                                             (int)s.ho, (int)s.wo));
      CUDNN_CHECK(cudnnSetTensor4dDescriptor(b, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, (int)s.cout, 1, 1));
      CUDNN_CHECK(cudnnSetFilter4dDescriptor(w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, (int)s.cout, (int)s.cin,
                                             (int)s.k, (int)s.k));
      for (auto& c : conv) {
        CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&c));
        CUDNN_CHECK(cudnnSetConvolution2dDescriptor(c, (int)s.pad, (int)s.pad, (int)s.stride, (int)s.stride, 1, 1,
                                                    CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
      }
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
    for (auto& c : conv)
      if (c) cudnnDestroyConvolutionDescriptor(c);
    x = y = b = nullptr;
    w = nullptr;
    for (auto& c : conv) c = nullptr;
  }
};

// The tensors of one call; a direction reads and writes only its own.
struct Ptrs {
  const float* x = nullptr;
  const float* w = nullptr;
  const float* gy = nullptr;
  float* y = nullptr;
  float* gx = nullptr;
  float* gw = nullptr;
};

// cuDNN's entry points for one direction of the convolution: the algorithm enum and its perf
// record, the heuristics, the measurement, the workspace query, the call itself, and a fallback
// that supports every geometry we allow and is deterministic.
struct ForwardApi {
  using Algo = cudnnConvolutionFwdAlgo_t;
  using Perf = cudnnConvolutionFwdAlgoPerf_t;
  static constexpr int kDir = 0;
  static constexpr const char* kName = "forward";
  static constexpr int kAlgoCount = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
  static constexpr Algo kFallback = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  static int max_count(cudnnHandle_t h) {
    int n = 0;
    CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &n));
    return n;
  }
  static int heuristics(cudnnHandle_t h, const Descs& d, int n, Perf* perf) {
    int count = 0;
    CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, d.x, d.w, d.conv[kDir], d.y, n, &count, perf));
    return count;
  }
  static int find(cudnnHandle_t h, const Descs& d, const Ptrs& p, int n, Perf* perf, void* ws, size_t ws_size) {
    int count = 0;
    CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(h, d.x, p.x, d.w, p.w, d.conv[kDir], d.y, p.y, n, &count, perf,
                                                       ws, ws_size));
    return count;
  }
  static cudnnStatus_t workspace_size(cudnnHandle_t h, const Descs& d, Algo a, size_t* bytes) {
    return cudnnGetConvolutionForwardWorkspaceSize(h, d.x, d.w, d.conv[kDir], d.y, a, bytes);
  }
  static cudnnStatus_t run(cudnnHandle_t h, const Descs& d, Algo a, void* ws, size_t ws_size, const Ptrs& p) {
    const float one = 1.f, zero = 0.f;
    return cudnnConvolutionForward(h, &one, d.x, p.x, d.w, p.w, d.conv[kDir], a, ws, ws_size, &zero, d.y, p.y);
  }
};

struct BackwardDataApi {
  using Algo = cudnnConvolutionBwdDataAlgo_t;
  using Perf = cudnnConvolutionBwdDataAlgoPerf_t;
  static constexpr int kDir = 1;
  static constexpr const char* kName = "backward data";
  static constexpr int kAlgoCount = CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
  static constexpr Algo kFallback = CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
  static int max_count(cudnnHandle_t h) {
    int n = 0;
    CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &n));
    return n;
  }
  static int heuristics(cudnnHandle_t h, const Descs& d, int n, Perf* perf) {
    int count = 0;
    CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, d.w, d.y, d.conv[kDir], d.x, n, &count, perf));
    return count;
  }
  static int find(cudnnHandle_t h, const Descs& d, const Ptrs& p, int n, Perf* perf, void* ws, size_t ws_size) {
    int count = 0;
    CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(h, d.w, p.w, d.y, p.gy, d.conv[kDir], d.x, p.gx, n, &count,
                                                            perf, ws, ws_size));
    return count;
  }
  static cudnnStatus_t workspace_size(cudnnHandle_t h, const Descs& d, Algo a, size_t* bytes) {
    return cudnnGetConvolutionBackwardDataWorkspaceSize(h, d.w, d.y, d.conv[kDir], d.x, a, bytes);
  }
  static cudnnStatus_t run(cudnnHandle_t h, const Descs& d, Algo a, void* ws, size_t ws_size, const Ptrs& p) {
    const float one = 1.f, zero = 0.f;
    return cudnnConvolutionBackwardData(h, &one, d.w, p.w, d.y, p.gy, d.conv[kDir], a, ws, ws_size, &zero, d.x, p.gx);
  }
};

struct BackwardFilterApi {
  using Algo = cudnnConvolutionBwdFilterAlgo_t;
  using Perf = cudnnConvolutionBwdFilterAlgoPerf_t;
  static constexpr int kDir = 2;
  static constexpr const char* kName = "backward filter";
  static constexpr int kAlgoCount = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
  static constexpr Algo kFallback = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1;
  static int max_count(cudnnHandle_t h) {
    int n = 0;
    CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &n));
    return n;
  }
  static int heuristics(cudnnHandle_t h, const Descs& d, int n, Perf* perf) {
    int count = 0;
    CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, d.x, d.y, d.conv[kDir], d.w, n, &count, perf));
    return count;
  }
  static int find(cudnnHandle_t h, const Descs& d, const Ptrs& p, int n, Perf* perf, void* ws, size_t ws_size) {
    int count = 0;
    CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(h, d.x, p.x, d.y, p.gy, d.conv[kDir], d.w, p.gw, n,
                                                              &count, perf, ws, ws_size));
    return count;
  }
  static cudnnStatus_t workspace_size(cudnnHandle_t h, const Descs& d, Algo a, size_t* bytes) {
    return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, d.x, d.y, d.conv[kDir], d.w, a, bytes);
  }
  static cudnnStatus_t run(cudnnHandle_t h, const Descs& d, Algo a, void* ws, size_t ws_size, const Ptrs& p) {
    const float one = 1.f, zero = 0.f;
    return cudnnConvolutionBackwardFilter(h, &one, d.x, p.x, d.y, p.gy, d.conv[kDir], a, ws, ws_size, &zero, d.w, p.gw);
  }
};

// One candidate algorithm: which, under which math type, with how much workspace; the time
// cudnnFind measured (ms), or -1 when it came from the heuristics or is the fallback.
template <typename Algo>
struct Candidate {
  Algo algo{};
  cudnnMathType_t math = CUDNN_FMA_MATH;
  size_t workspace = 0;
  float ms = -1.f;
};

// A direction of a plan: its candidates, best first (empty until the direction's first call).
template <typename Api>
struct Direction {
  bool chosen = false;
  std::vector<Candidate<typename Api::Algo>> candidates;
  bool math_set = false;           // the descriptor's math type is that of candidates[0]...
  cudnnMathType_t math = CUDNN_FMA_MATH;  // ...namely this one
};

struct Plan {
  explicit Plan(const ConvShape& s) : d(s) {}
  Descs d;
  Direction<ForwardApi> fwd;
  Direction<BackwardDataApi> bwd_data;
  Direction<BackwardFilterApi> bwd_filter;
};

// Geometry and mode: every ConvShape field, TF32 allowed, deterministic.
using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                       bool, bool>;

std::mutex g_mu;  // guards the plans, their descriptors and every cuDNN call made with them
std::map<Key, std::unique_ptr<Plan>>& plans() {
  static auto* m = new std::map<Key, std::unique_ptr<Plan>>();  // leaked on purpose: used until process exit
  return *m;
}
std::atomic<int64_t> g_finds{0}, g_heuristics{0}, g_not_supported{0}, g_workspace_failures{0};

cudnnMathType_t requested_math(bool tf32) { return tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH; }
bool acceptable_math(cudnnMathType_t m, bool tf32) {
  if (!tf32) return m == CUDNN_FMA_MATH;
  return m != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

// The workspace bound for a measurement: kMaxWorkspace, and at most half the free device memory.
size_t workspace_bound() {
  size_t free_bytes = 0, total = 0;
  if (cudaMemGetInfo(&free_bytes, &total) != cudaSuccess) {
    (void)cudaGetLastError();
    return kMaxWorkspace;
  }
  return std::min(kMaxWorkspace, free_bytes / 2);
}

// Appends the fallback (requested math type) unless the list has it or cuDNN cannot size its
// workspace; leaves the descriptor at the requested math type.
template <typename Api>
void add_fallback(cudnnHandle_t h, const Descs& d, bool tf32, std::vector<Candidate<typename Api::Algo>>& list) {
  for (const auto& c : list)
    if (c.algo == Api::kFallback && c.math == requested_math(tf32)) return;
  Candidate<typename Api::Algo> c;
  c.algo = Api::kFallback;
  c.math = requested_math(tf32);
  CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv[Api::kDir], c.math));
  if (Api::workspace_size(h, d, c.algo, &c.workspace) == CUDNN_STATUS_SUCCESS) list.push_back(c);
}

// Deterministic mode: the heuristics' CUDNN_DETERMINISTIC entries within kMaxWorkspace, in their order.
template <typename Api>
std::vector<Candidate<typename Api::Algo>> by_heuristics(const Descs& d, bool tf32) {
  cudnnHandle_t h = cudnn();
  CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv[Api::kDir], requested_math(tf32)));
  const int max_count = std::max(Api::max_count(h), 1);
  std::vector<typename Api::Perf> perf(max_count);
  const int count = Api::heuristics(h, d, max_count, perf.data());
  ++g_heuristics;
  std::vector<Candidate<typename Api::Algo>> list;
  for (int i = 0; i < count; ++i) {
    const auto& p = perf[i];
    if (p.status != CUDNN_STATUS_SUCCESS || p.determinism != CUDNN_DETERMINISTIC || p.memory > kMaxWorkspace ||
        !acceptable_math(p.mathType, tf32))
      continue;
    list.push_back({p.algo, p.mathType, p.memory, -1.f});
  }
  add_fallback<Api>(h, d, tf32, list);
  return list;
}

// Default mode: cudnnFind*AlgorithmEx on this call's tensors, fastest first.
template <typename Api>
std::vector<Candidate<typename Api::Algo>> by_measuring(const Descs& d, const Ptrs& p, bool tf32) {
  cudnnHandle_t h = cudnn();
  CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv[Api::kDir], requested_math(tf32)));
  // The largest workspace any algorithm asks for within the bound; halved while it cannot be had.
  const size_t bound = workspace_bound();
  size_t want = 0;
  for (int a = 0; a < Api::kAlgoCount; ++a) {
    size_t bytes = 0;
    if (Api::workspace_size(h, d, static_cast<typename Api::Algo>(a), &bytes) == CUDNN_STATUS_SUCCESS &&
        bytes <= bound)
      want = std::max(want, bytes);
  }
  void* ws = nullptr;
  while (want > 0) {
    try {
      ws = workspace(want);
      break;
    } catch (const Error&) {
      (void)cudaGetLastError();  // an out-of-memory error is not sticky; clear it
      ++g_workspace_failures;
      want /= 2;
    }
  }
  const int max_count = std::max(Api::max_count(h), 1);
  std::vector<typename Api::Perf> perf(max_count);
  const int count = Api::find(h, d, p, max_count, perf.data(), ws, want);
  ++g_finds;
  std::vector<Candidate<typename Api::Algo>> list;
  for (int i = 0; i < count; ++i) {
    const auto& r = perf[i];
    if (r.status != CUDNN_STATUS_SUCCESS || r.memory > want || !acceptable_math(r.mathType, tf32)) continue;
    list.push_back({r.algo, r.mathType, r.memory, r.time});
  }
  add_fallback<Api>(h, d, tf32, list);
  return list;
}

// Runs one direction of a plan: chooses its candidates on the first call, then the first one that runs.
template <typename Api>
void run(const ConvShape& s, Plan& plan, Direction<Api>& dir, const Ptrs& p, bool tf32, bool det) {
  const Descs& d = plan.d;
  if (!dir.chosen) {
    dir.candidates = det ? by_heuristics<Api>(d, tf32) : by_measuring<Api>(d, p, tf32);
    dir.chosen = true;
    dir.math_set = false;  // the choice left the descriptor at the requested math type
  }
  cudnnHandle_t h = cudnn();
  std::string skipped;  // why candidates did not run, for the error if none does
  for (size_t i = 0; i < dir.candidates.size();) {
    const Candidate<typename Api::Algo> c = dir.candidates[i];
    void* ws = nullptr;
    if (c.workspace > 0) {
      try {
        ws = workspace(c.workspace);
      } catch (const Error& e) {  // this call only: try the next candidate, keep this one
        (void)cudaGetLastError();
        ++g_workspace_failures;
        skipped += detail::cat("; algo ", static_cast<int>(c.algo), " (workspace ", c.workspace, " B): ", e.what());
        ++i;
        continue;
      }
    }
    if (!dir.math_set || dir.math != c.math) {
      CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv[Api::kDir], c.math));
      dir.math = c.math;
      dir.math_set = true;
    }
    const cudnnStatus_t st = Api::run(h, d, c.algo, ws, c.workspace, p);
    if (st == CUDNN_STATUS_SUCCESS) return;
    if (CUDNN_STATUS_CATEGORY(st) != CUDNN_STATUS_NOT_SUPPORTED)
      FF_FAIL("conv2d ", Api::kName, " (cuda): cuDNN algorithm ", static_cast<int>(c.algo), " failed: ",
              cudnnGetErrorString(st), " (", geometry(s), ")");
    ++g_not_supported;  // for good: drop it, the next one becomes the choice
    skipped += detail::cat("; algo ", static_cast<int>(c.algo), ": ", cudnnGetErrorString(st));
    dir.candidates.erase(dir.candidates.begin() + static_cast<std::ptrdiff_t>(i));
  }
  dir.chosen = false;  // the next call chooses again rather than failing on an exhausted list
  FF_FAIL("conv2d ", Api::kName, " (cuda): no cuDNN algorithm could run for ", geometry(s), skipped);
}

// The plan of this geometry in the current mode, made on first use. Call with g_mu held.
Plan& plan_for(const ConvShape& s, bool tf32, bool det) {
  const Key key{s.n, s.cin, s.h, s.w, s.cout, s.k, s.stride, s.pad, s.ho, s.wo, tf32, det};
  auto it = plans().find(key);
  if (it != plans().end()) return *it->second;
  auto plan = std::make_unique<Plan>(s);
  int n = 0, c = 0, h = 0, w = 0;  // once per geometry: cuDNN must agree with our output size
  CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(plan->d.conv[0], plan->d.x, plan->d.w, &n, &c, &h, &w));
  if (n != s.n || c != s.cout || h != s.ho || w != s.wo)
    FF_FAIL("conv2d: cuDNN output size [", n, ", ", c, ", ", h, ", ", w, "] differs from [", s.n, ", ", s.cout, ", ",
            s.ho, ", ", s.wo, "]");
  return *plans().emplace(key, std::move(plan)).first->second;
}

void check_size(const ConvShape& s) {
  // cuDNN's 4-D descriptors take int dimensions; keep every tensor below 2^31 elements.
  const int64_t lim = int64_t{1} << 31;
  FF_CHECK(s.n * s.cin * s.h * s.w < lim && s.n * s.cout * s.ho * s.wo < lim && s.cout * s.cin * s.k * s.k < lim,
           "conv2d: tensors of 2^31 or more elements are not supported on CUDA (x [", s.n, ", ", s.cin, ", ", s.h,
           ", ", s.w, "], ", s.cout, " output channels)");
}

const char* math_name(cudnnMathType_t m) {
  switch (m) {
    case CUDNN_FMA_MATH: return "FMA";
    case CUDNN_DEFAULT_MATH: return "DEFAULT";
    case CUDNN_TENSOR_OP_MATH: return "TENSOR_OP";
    default: return "TENSOR_OP_ALLOW_CONVERSION";
  }
}

template <typename Api>
void report_direction(std::ostringstream& out, const Direction<Api>& dir) {
  out << "  " << Api::kName << ": ";
  if (!dir.chosen || dir.candidates.empty()) {
    out << (dir.chosen ? "no candidate left" : "not run") << "\n";
    return;
  }
  const auto& c = dir.candidates[0];
  out << "algo " << static_cast<int>(c.algo) << ", " << math_name(c.math) << " math, workspace " << c.workspace
      << " B";
  if (c.ms >= 0) out << ", " << c.ms << " ms measured";
  out << " (" << dir.candidates.size() - 1 << " more candidates)\n";
}

}  // namespace

void conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y) {
  check_size(s);
  const bool tf32 = allow_tf32(), det = deterministic();
  std::lock_guard<std::mutex> lock(g_mu);
  Plan& plan = plan_for(s, tf32, det);
  Ptrs p;
  p.x = x;
  p.w = w;
  p.y = y;
  run(s, plan, plan.fwd, p, tf32, det);
  const float one = 1.f;
  if (b) CUDNN_CHECK(cudnnAddTensor(cudnn(), &one, plan.d.b, b, &one, plan.d.y, y));  // y += b over N, H, W
}

void conv2d_backward(const ConvShape& s, const float* x, const float* w, const float* gy, float* gx, float* gw,
                     float* gb) {
  check_size(s);
  const bool tf32 = allow_tf32(), det = deterministic();
  std::lock_guard<std::mutex> lock(g_mu);
  Plan& plan = plan_for(s, tf32, det);
  const float one = 1.f, zero = 0.f;
  if (gb) CUDNN_CHECK(cudnnConvolutionBackwardBias(cudnn(), &one, plan.d.y, gy, &zero, plan.d.b, gb));
  Ptrs p;
  p.x = x;
  p.w = w;
  p.gy = gy;
  p.gx = gx;
  p.gw = gw;
  if (gw) run(s, plan, plan.bwd_filter, p, tf32, det);
  if (gx) run(s, plan, plan.bwd_data, p, tf32, det);
}

ConvAlgoStats conv_algo_stats() {
  ConvAlgoStats st;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    st.plans = static_cast<int64_t>(plans().size());
  }
  st.finds = g_finds;
  st.heuristic_queries = g_heuristics;
  st.not_supported = g_not_supported;
  st.workspace_failures = g_workspace_failures;
  return st;
}

void conv_algo_cache_clear() {
  std::lock_guard<std::mutex> lock(g_mu);
  plans().clear();
}

std::string conv_algo_report() {
  std::lock_guard<std::mutex> lock(g_mu);
  std::ostringstream out;
  for (const auto& [key, plan] : plans()) {
    const ConvShape s{std::get<0>(key), std::get<1>(key), std::get<2>(key), std::get<3>(key), std::get<4>(key),
                      std::get<5>(key), std::get<6>(key), std::get<7>(key), std::get<8>(key), std::get<9>(key)};
    out << "conv2d " << geometry(s) << (std::get<10>(key) ? ", TF32" : ", FP32")
        << (std::get<11>(key) ? ", deterministic (heuristics)" : ", measured") << ":\n";
    report_direction(out, plan->fwd);
    report_direction(out, plan->bwd_data);
    report_direction(out, plan->bwd_filter);
  }
  return out.str();
}

}  // namespace ff::cuda
