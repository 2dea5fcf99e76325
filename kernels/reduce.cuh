// kernels/reduce.cuh — block reductions and the deterministic two-stage grid reduction shared by
// the CUDA kernels (kernels/elementwise.cu: sum_all; kernels/loss.cu: MSE, cross-entropy mean,
// label counts). Included only by .cu files, after kernels/cuda_common.cuh.
//
// The grid reduction: stage 1 runs reduce_blocks(n) blocks of kReduceThreads threads over the
// whole grid; each thread keeps four independent double accumulators (four loads in flight, each
// coalesced across the warp) over a grid-stride walk, the block sums them in a fixed tree and
// writes one double partial per block to scratch memory (ff::cuda::workspace()); stage 2 is one
// block that sums the partials in a fixed order. The grid size depends only on n, never on the
// device or on timing, and there are no atomics, so the result is the same bits on every run.
// With one block (n <= kReduceThreads * kReducePerThread) stage 1 writes the result itself: one
// launch, as the single-block kernels it replaces.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace ff::cuda {

constexpr int kReduceThreads = 256;       // stage 1 and stage 2 blocks
constexpr int kReducePerThread = 8;       // elements per thread below which fewer blocks are used
constexpr int kReduceMaxBlocks = 1024;    // 262 144 threads: about one full H200 (132 SMs x 2048)
// Scratch requested from ff::cuda::workspace() for the partials, whatever n: the most any grid
// reduction here needs (two 8-byte values per block), so the workspace grows (a synchronising
// reallocation) at most once for them, not again each time a larger n comes along.
constexpr size_t kReduceScratchBytes = 2 * sizeof(int64_t) * kReduceMaxBlocks;

// Blocks of stage 1 for n elements: enough for kReducePerThread elements per thread, at most
// kReduceMaxBlocks (then every thread walks more), at least 1.
inline int reduce_blocks(int64_t n) {
  const int64_t per_block = int64_t{kReduceThreads} * kReducePerThread;
  const int64_t b = (n + per_block - 1) / per_block;
  return static_cast<int>(b < 1 ? 1 : (b > kReduceMaxBlocks ? kReduceMaxBlocks : b));
}

// The block reductions' operators.
struct SumOp {
  template <typename A>
  __device__ A operator()(A a, A b) const { return a + b; }
};
struct MinOp {
  template <typename A>
  __device__ A operator()(A a, A b) const { return b < a ? b : a; }
};
// max that propagates NaN (the CPU twins' loops do: a NaN makes the max NaN), unlike fmaxf,
// which returns the other operand.
__device__ __forceinline__ float max_nan(float a, float b) { return (a != a || a > b) ? a : b; }
struct MaxNanOp {
  __device__ float operator()(float a, float b) const { return max_nan(a, b); }
};

// op(...) of v over the block (blockDim.x a multiple of 32, at most 1024), `identity` the value
// that changes nothing; every thread gets the result. The order is fixed (xor shuffles within
// each warp, then the warps' results in order), so the result is deterministic.
template <typename A, typename Op>
__device__ __forceinline__ A block_reduce(A v, Op op, A identity) {
  __shared__ A sh[32];  FF_EMU_SHARED(sh);
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  __syncthreads();  // sh may still be read by a previous call
  if (lane == 0) sh[warp] = v;
  __syncthreads();
  A t = identity;
  for (int w = 0; w < nw; ++w) t = op(t, sh[w]);
  return t;
}
template <typename A>
__device__ __forceinline__ A block_sum(A v) { return block_reduce(v, SumOp{}, A(0)); }
// NaN-propagating max over the block; -inf for a block of -inf.
__device__ __forceinline__ float block_max_nan(float v) { return block_reduce(v, MaxNanOp{}, -INFINITY); }

// Stage 1 of the grid reduction of sum_{i < n} r.value(i) (a double). R is a small struct of
// pointers with __device__ double value(int64_t i) const and __device__ void finish(double sum)
// const (writes the result); one block: finish here, else partials[blockIdx.x].
template <typename R>
__global__ void __launch_bounds__(kReduceThreads) reduce_stage1_k(R r, int64_t n, double* partials) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
  for (; i + 3 * stride < n; i += 4 * stride) {
    const double v0 = r.value(i), v1 = r.value(i + stride), v2 = r.value(i + 2 * stride), v3 = r.value(i + 3 * stride);
    a0 += v0;
    a1 += v1;
    a2 += v2;
    a3 += v3;
  }
  for (; i < n; i += stride) a0 += r.value(i);
  const double s = block_sum((a0 + a1) + (a2 + a3));
  if (threadIdx.x == 0) {
    if (gridDim.x == 1)
      r.finish(s);
    else
      partials[blockIdx.x] = s;
  }
}

// Stage 2: one block sums the `blocks` partials in a fixed order and finishes.
template <typename R>
__global__ void __launch_bounds__(kReduceThreads) reduce_stage2_k(R r, const double* partials, int blocks) {
  double s = 0.0;
  for (int b = threadIdx.x; b < blocks; b += blockDim.x) s += partials[b];
  s = block_sum(s);
  if (threadIdx.x == 0) r.finish(s);
}

// Runs the two stages on the stream (stage 2 only with more than one block). n may be 0: the
// sum is then 0.
template <typename R>
void grid_sum(const R& r, int64_t n) {
  const int blocks = reduce_blocks(n);
  double* partials = blocks > 1 ? static_cast<double*>(workspace(kReduceScratchBytes)) : nullptr;
  FF_LAUNCH(reduce_stage1_k<R>, blocks, kReduceThreads, 0)(r, n, partials);
  CUDA_CHECK_LAUNCH();
  if (blocks == 1) return;
  FF_LAUNCH(reduce_stage2_k<R>, 1, kReduceThreads, 0)(r, partials, blocks);
  CUDA_CHECK_LAUNCH();
}

}  // namespace ff::cuda
