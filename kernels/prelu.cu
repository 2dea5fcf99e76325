// kernels/prelu.cu — CUDA twin of kernels/prelu_cpu.cpp (float32). Forward and the input gradient
// are one thread per element; the slope gradient is one block per channel (grid-stride over
// channels), each thread summing a strided slice of the channel in double, then a fixed-order
// block reduction (kernels/reduce.cuh): deterministic, no atomics.
#include "kernels/cuda_common.cuh"
#include "kernels/prelu.h"
#include "kernels/reduce.cuh"

namespace ff::cuda {

namespace {

__global__ void prelu_fwd_k(int64_t c, int64_t inner, const float* x, const float* w, float* y, int64_t total) {
  FF_KERNEL_LOOP(i, total) y[i] = prelu_math::fwd(x[i], w[(i / inner) % c]);
}

__global__ void prelu_gx_k(int64_t c, int64_t inner, const float* x, const float* w, const float* gy, float* gx,
                           int64_t total) {
  FF_KERNEL_LOOP(i, total) gx[i] = prelu_math::gx(x[i], w[(i / inner) % c], gy[i]);
}

// Block-uniform loop over channels, so every thread reaches each block_sum.
__global__ void prelu_gw_k(int64_t n, int64_t c, int64_t inner, const float* x, const float* gy, float* gw) {
  const int64_t per = n * inner;
  for (int64_t ch = blockIdx.x; ch < c; ch += gridDim.x) {
    double acc = 0;
    for (int64_t k = threadIdx.x; k < per; k += blockDim.x) {
      const int64_t b = k / inner, j = k % inner, o = (b * c + ch) * inner + j;
      acc += static_cast<double>(prelu_math::gw_term(x[o], gy[o]));
    }
    acc = block_sum(acc);
    if (threadIdx.x == 0) gw[ch] = static_cast<float>(acc);
  }
}

}  // namespace

void prelu_forward(int64_t n, int64_t c, int64_t inner, const float* x, const float* w, float* y) {
  const int64_t total = n * c * inner;
  if (total == 0) return;
  FF_LAUNCH(prelu_fwd_k, blocks_for(total), kBlock, 0)(c, inner, x, w, y, total);
  CUDA_CHECK_LAUNCH();
}

void prelu_backward(int64_t n, int64_t c, int64_t inner, const float* x, const float* w, const float* gy, float* gx,
                    float* gw) {
  const int64_t total = n * c * inner;
  if (gx && total > 0) {
    FF_LAUNCH(prelu_gx_k, blocks_for(total), kBlock, 0)(c, inner, x, w, gy, gx, total);
    CUDA_CHECK_LAUNCH();
  }
  if (gw && c > 0) {
    const int grid = static_cast<int>(c < 1024 ? c : 1024);
    FF_LAUNCH(prelu_gw_k, grid, kBlock, 0)(n, c, inner, x, gy, gw);
    CUDA_CHECK_LAUNCH();
  }
}

}  // namespace ff::cuda
