// kernels/loss.cu — CUDA twin of kernels/loss_cpu.cpp (float32). Reductions run in a fixed order
// (no atomics), so results repeat bit for bit.
#include <cfloat>

#include "kernels/cuda_common.cuh"
#include "kernels/loss.h"

namespace ff::cuda {

namespace {
constexpr int kReduceThreads = 1024;

// Sum of v over the block (blockDim.x a multiple of 32, at most 1024); every thread gets it.
template <typename A>
__device__ A block_sum(A v) {
  __shared__ A sh[32];  FF_EMU_SHARED(sh);
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  __syncthreads();  // sh may still be read by a previous call
  if (lane == 0) sh[warp] = v;
  __syncthreads();
  A t = 0;
  for (int w = 0; w < nw; ++w) t += sh[w];
  return t;
}
__device__ float block_max(float v) {
  __shared__ float sh[32];  FF_EMU_SHARED(sh);
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) sh[warp] = v;
  __syncthreads();
  float t = -FLT_MAX;
  for (int w = 0; w < nw; ++w) t = fmaxf(t, sh[w]);
  return t;
}

// One block: strided partial sums in double, then the block sum.
__global__ void mse_fwd_k(const float* x, const float* t, float* out, int64_t n) {
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    double d = static_cast<double>(x[i]) - static_cast<double>(t[i]);
    s += d * d;
  }
  s = block_sum(s);
  if (threadIdx.x == 0) out[0] = static_cast<float>(s / static_cast<double>(n));
}
__global__ void mse_bwd_k(const float* x, const float* t, const float* g, float* gx, float* gt, int64_t n) {
  const float f = g[0] * 2.f / static_cast<float>(n);
  FF_KERNEL_LOOP(i, n) {
    float v = f * (x[i] - t[i]);
    if (gx) gx[i] = v;
    if (gt) gt[i] = -v;
  }
}

// One block per row (grid-stride over rows): max, then sum of exp(l - max), both block reductions.
__global__ void ce_stats_k(const float* logits, float* stats, int64_t rows, int64_t k) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* l = logits + r * k;
    float m = -FLT_MAX;
    for (int64_t j = threadIdx.x; j < k; j += blockDim.x) m = fmaxf(m, l[j]);
    m = block_max(m);
    float s = 0.f;
    for (int64_t j = threadIdx.x; j < k; j += blockDim.x) s += expf(l[j] - m);
    s = block_sum(s);
    if (threadIdx.x == 0) {
      stats[2 * r] = m;
      stats[2 * r + 1] = logf(s);
    }
  }
}
// One block: mean over rows of (m - logit[label]) + logsum, partial sums in double.
__global__ void ce_mean_k(const float* logits, const int64_t* labels, const float* stats, float* out,
                          int64_t rows, int64_t k) {
  double s = 0.0;
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x)
    s += static_cast<double>(stats[2 * r] - logits[r * k + labels[r]]) + static_cast<double>(stats[2 * r + 1]);
  s = block_sum(s);
  if (threadIdx.x == 0) out[0] = static_cast<float>(s / static_cast<double>(rows));
}
__global__ void ce_bwd_k(const float* logits, const int64_t* labels, const float* stats, const float* g,
                         float* gl, int64_t rows, int64_t k) {
  const float f = g[0] / static_cast<float>(rows);
  FF_KERNEL_LOOP(i, rows * k) {
    int64_t r = i / k, j = i - r * k;
    float p = expf((logits[i] - stats[2 * r]) - stats[2 * r + 1]);
    gl[i] = f * (p - (j == labels[r] ? 1.f : 0.f));
  }
}

// One block: count of labels outside [0, k) and the first such index (block min), then its label.
__global__ void bad_labels_k(const int64_t* labels, int64_t n, int64_t k, int64_t* out) {
  __shared__ int64_t first[32];  FF_EMU_SHARED(first);
  int64_t count = 0, idx = INT64_MAX;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    int64_t v = labels[i];
    if (v < 0 || v >= k) {
      ++count;
      if (i < idx) idx = i;
    }
  }
  count = block_sum(count);
  for (int o = 16; o > 0; o >>= 1) {
    int64_t other = __shfl_xor_sync(0xffffffffu, idx, o);
    idx = other < idx ? other : idx;
  }
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  if (lane == 0) first[warp] = idx;
  __syncthreads();
  if (threadIdx.x == 0) {
    int64_t m = INT64_MAX;
    for (int w = 0; w < nw; ++w) m = first[w] < m ? first[w] : m;
    out[0] = count;
    out[1] = count > 0 ? m : -1;
    out[2] = count > 0 ? labels[m] : 0;
  }
}
}  // namespace

void mse_forward(const float* x, const float* t, float* out, int64_t n) {
  FF_LAUNCH(mse_fwd_k, 1, kReduceThreads, 0)(x, t, out, n);
  CUDA_CHECK_LAUNCH();
}
void mse_backward(const float* x, const float* t, const float* g, float* gx, float* gt, int64_t n) {
  if (n == 0) return;
  FF_LAUNCH(mse_bwd_k, blocks_for(n), kBlock, 0)(x, t, g, gx, gt, n);
  CUDA_CHECK_LAUNCH();
}

void cross_entropy_forward(const float* logits, const int64_t* labels, float* stats, float* out,
                           int64_t rows, int64_t k) {
  int grid = static_cast<int>(rows < 65535 ? (rows < 1 ? 1 : rows) : 65535);
  FF_LAUNCH(ce_stats_k, grid, kBlock, 0)(logits, stats, rows, k);
  CUDA_CHECK_LAUNCH();
  FF_LAUNCH(ce_mean_k, 1, kReduceThreads, 0)(logits, labels, stats, out, rows, k);
  CUDA_CHECK_LAUNCH();
}
void cross_entropy_backward(const float* logits, const int64_t* labels, const float* stats, const float* g,
                            float* glogits, int64_t rows, int64_t k) {
  if (rows * k == 0) return;
  FF_LAUNCH(ce_bwd_k, blocks_for(rows * k), kBlock, 0)(logits, labels, stats, g, glogits, rows, k);
  CUDA_CHECK_LAUNCH();
}

void count_bad_labels(const int64_t* labels, int64_t n, int64_t k, int64_t* out) {
  FF_LAUNCH(bad_labels_k, 1, kReduceThreads, 0)(labels, n, k, out);
  CUDA_CHECK_LAUNCH();
}

}  // namespace ff::cuda
