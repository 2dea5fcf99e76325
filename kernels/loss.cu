// kernels/loss.cu — CUDA twin of kernels/loss_cpu.cpp (float32). Reductions run in a fixed order
// (no atomics: the two-stage grid reduction of kernels/reduce.cuh), so results repeat bit for bit.
#include "kernels/cuda_common.cuh"
#include "kernels/loss.h"
#include "kernels/reduce.cuh"

namespace ff::cuda {

namespace {

// mean of (x - t)^2: the differences and their squares in double, as the CPU twin.
struct MseReduce {
  const float* x;
  const float* t;
  float* out;
  int64_t n;
  __device__ double value(int64_t i) const {
    const double d = static_cast<double>(x[i]) - static_cast<double>(t[i]);
    return d * d;
  }
  __device__ void finish(double s) const { out[0] = static_cast<float>(s / static_cast<double>(n)); }
};
__global__ void mse_bwd_k(const float* x, const float* t, const float* g, float* gx, float* gt, int64_t n) {
  const float f = g[0] * 2.f / static_cast<float>(n);
  FF_KERNEL_LOOP(i, n) {
    float v = f * (x[i] - t[i]);
    if (gx) gx[i] = v;
    if (gt) gt[i] = -v;
  }
}

// One block per row (grid-stride over rows): max, then sum of exp(l - max), both block reductions.
// The max propagates NaN, as the CPU twin's (a NaN logit makes the row's max, log-sum and loss
// NaN; fmaxf would skip it), and a row of -inf has max -inf there too.
__global__ void ce_stats_k(const float* logits, float* stats, int64_t rows, int64_t k) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* l = logits + r * k;
    float m = -INFINITY;
    for (int64_t j = threadIdx.x; j < k; j += blockDim.x) m = max_nan(m, l[j]);
    m = block_max_nan(m);
    float s = 0.f;
    for (int64_t j = threadIdx.x; j < k; j += blockDim.x) s += expf(l[j] - m);
    s = block_sum(s);
    if (threadIdx.x == 0) {
      stats[2 * r] = m;
      stats[2 * r + 1] = logf(s);
    }
  }
}
// mean over rows of (m - logit[label]) + logsum, in double.
struct CeMeanReduce {
  const float* logits;
  const int64_t* labels;
  const float* stats;
  float* out;
  int64_t rows, k;
  __device__ double value(int64_t r) const {
    const int64_t y = labels[r];  // a label outside [0, k) gives NaN, never a read outside the row
    if (y < 0 || y >= k) return NAN;
    return static_cast<double>(stats[2 * r] - logits[r * k + y]) + static_cast<double>(stats[2 * r + 1]);
  }
  __device__ void finish(double s) const { out[0] = static_cast<float>(s / static_cast<double>(rows)); }
};
__global__ void ce_bwd_k(const float* logits, const int64_t* labels, const float* stats, const float* g,
                         float* gl, int64_t rows, int64_t k) {
  const float f = g[0] / static_cast<float>(rows);
  FF_KERNEL_LOOP(i, rows * k) {
    int64_t r = i / k, j = i - r * k;
    float p = expf((logits[i] - stats[2 * r]) - stats[2 * r + 1]);
    gl[i] = f * (p - (j == labels[r] ? 1.f : 0.f));
  }
}

// Labels outside [0, k): stage 1 of a two-stage grid reduction (kernels/reduce.cuh's grid and
// block sizes): per block the count and the first bad index (INT64_MAX: none), to part[2 b] and
// part[2 b + 1], or with one block the result itself (bad_labels_finish).
__device__ void bad_labels_finish(const int64_t* labels, int64_t count, int64_t first, int64_t* out) {
  out[0] = count;
  out[1] = count > 0 ? first : -1;
  out[2] = count > 0 ? labels[first] : 0;
}
__global__ void __launch_bounds__(kReduceThreads) bad_labels_k(const int64_t* labels, int64_t n, int64_t k,
                                                               int64_t* part, int64_t* out) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  int64_t count = 0, first = INT64_MAX;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const int64_t v = labels[i];
    if (v < 0 || v >= k) {
      ++count;
      if (i < first) first = i;
    }
  }
  count = block_sum(count);
  first = block_reduce(first, MinOp{}, int64_t{INT64_MAX});
  if (threadIdx.x != 0) return;
  if (gridDim.x == 1) {
    bad_labels_finish(labels, count, first, out);
  } else {
    part[2 * blockIdx.x] = count;
    part[2 * blockIdx.x + 1] = first;
  }
}
// Stage 2: one block combines the blocks' counts (sum) and first indices (min).
__global__ void __launch_bounds__(kReduceThreads) bad_labels_merge_k(const int64_t* labels, const int64_t* part,
                                                                     int blocks, int64_t* out) {
  int64_t count = 0, first = INT64_MAX;
  for (int b = threadIdx.x; b < blocks; b += blockDim.x) {
    count += part[2 * b];
    first = part[2 * b + 1] < first ? part[2 * b + 1] : first;
  }
  count = block_sum(count);
  first = block_reduce(first, MinOp{}, int64_t{INT64_MAX});
  if (threadIdx.x == 0) bad_labels_finish(labels, count, first, out);
}
}  // namespace

void mse_forward(const float* x, const float* t, float* out, int64_t n) { grid_sum(MseReduce{x, t, out, n}, n); }
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
  grid_sum(CeMeanReduce{logits, labels, stats, out, rows, k}, rows);
}
void cross_entropy_backward(const float* logits, const int64_t* labels, const float* stats, const float* g,
                            float* glogits, int64_t rows, int64_t k) {
  if (rows * k == 0) return;
  FF_LAUNCH(ce_bwd_k, blocks_for(rows * k), kBlock, 0)(logits, labels, stats, g, glogits, rows, k);
  CUDA_CHECK_LAUNCH();
}

void count_bad_labels(const int64_t* labels, int64_t n, int64_t k, int64_t* out) {
  const int blocks = reduce_blocks(n);
  int64_t* part = blocks > 1 ? static_cast<int64_t*>(workspace(kReduceScratchBytes)) : nullptr;
  FF_LAUNCH(bad_labels_k, blocks, kReduceThreads, 0)(labels, n, k, part, out);
  CUDA_CHECK_LAUNCH();
  if (blocks == 1) return;
  FF_LAUNCH(bad_labels_merge_k, 1, kReduceThreads, 0)(labels, part, blocks, out);
  CUDA_CHECK_LAUNCH();
}

}  // namespace ff::cuda
