// kernels/dropout.cu — CUDA twin of kernels/dropout_cpu.cpp (float32): one thread per element,
// each computing its own Philox draw (no state, so any launch shape gives the same mask).
#include "kernels/cuda_common.cuh"
#include "kernels/dropout.h"
#include "kernels/philox.h"

namespace ff::cuda {

namespace {
__global__ void dropout_k(const float* x, float* y, int64_t n, float p, float scale, uint64_t seed,
                          uint64_t first) {
  FF_KERNEL_LOOP(i, n) {
    y[i] = philox_uniform(seed, first + static_cast<uint64_t>(i)) < p ? 0.f : x[i] * scale;
  }
}
}  // namespace

void dropout_apply(const float* x, float* y, int64_t n, float p, float scale, uint64_t seed, uint64_t first) {
  if (n == 0) return;
  FF_LAUNCH(dropout_k, blocks_for(n), kBlock, 0)(x, y, n, p, scale, seed, first);
  CUDA_CHECK_LAUNCH();
}

}  // namespace ff::cuda
