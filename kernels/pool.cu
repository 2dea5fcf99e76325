// kernels/pool.cu — CUDA twin of kernels/pool_cpu.cpp (float32). Own kernels rather than cuDNN
// pooling: cuDNN does not document which element of a tied window receives the gradient, and
// PyTorch's rule (first maximum in row-major order, NaN wins) must hold on both backends.
//
// Max-pool backward is a gather, not a scatter: one thread per input element visits the windows
// that contain it and adds the gradients of those whose argmax is that element, in increasing
// output order — no atomics, deterministic, and the same summation order as the CPU.
#include <cmath>

#include "kernels/cuda_common.cuh"
#include "kernels/pool.h"

namespace ff::cuda {

namespace {

__global__ void max_fwd_k(PoolShape s, const float* x, float* y, int32_t* idx, int64_t total) {
  FF_KERNEL_LOOP(i, total) {
    const int64_t ow = i % s.wo, t = i / s.wo, oh = t % s.ho, pl = t / s.ho;
    const int64_t h0 = max(oh * s.stride - s.pad, int64_t{0}), h1 = min(oh * s.stride - s.pad + s.k, s.h);
    const int64_t w0 = max(ow * s.stride - s.pad, int64_t{0}), w1 = min(ow * s.stride - s.pad + s.k, s.w);
    const float* xp = x + pl * s.h * s.w;
    int64_t best = h0 * s.w + w0;
    float m = -INFINITY;
    for (int64_t ih = h0; ih < h1; ++ih)
      for (int64_t iw = w0; iw < w1; ++iw) {
        const float v = xp[ih * s.w + iw];
        if (v > m || isnan(v)) {
          m = v;
          best = ih * s.w + iw;
        }
      }
    y[i] = m;
    if (idx) idx[i] = static_cast<int32_t>(best);
  }
}

__global__ void max_bwd_k(PoolShape s, const float* gy, const int32_t* idx, float* gx, int64_t total) {
  FF_KERNEL_LOOP(i, total) {
    const int64_t iw = i % s.w, t = i / s.w, ih = t % s.h, pl = t / s.h;
    // Windows oh with oh*stride - pad <= ih <= oh*stride - pad + k - 1.
    const int64_t oh0 = ih + s.pad < s.k ? 0 : (ih + s.pad - s.k) / s.stride + 1;
    const int64_t oh1 = min((ih + s.pad) / s.stride + 1, s.ho);
    const int64_t ow0 = iw + s.pad < s.k ? 0 : (iw + s.pad - s.k) / s.stride + 1;
    const int64_t ow1 = min((iw + s.pad) / s.stride + 1, s.wo);
    const int32_t self = static_cast<int32_t>(ih * s.w + iw);
    const int64_t base = pl * s.ho * s.wo;
    float acc = 0.f;
    for (int64_t oh = oh0; oh < oh1; ++oh)
      for (int64_t ow = ow0; ow < ow1; ++ow) {
        const int64_t o = base + oh * s.wo + ow;
        if (idx[o] == self) acc += gy[o];
      }
    gx[i] = acc;
  }
}

// One warp per plane (grid-stride over planes): lanes sum a strided slice, then shuffle down.
__global__ void avg_fwd_k(int64_t planes, int64_t hw, const float* x, float* y) {
  const int lane = threadIdx.x & 31;
  const int64_t warp = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) >> 5;
  const int64_t warps = ((int64_t)gridDim.x * blockDim.x) >> 5;
  for (int64_t pl = warp; pl < planes; pl += warps) {  // uniform across the warp: full-mask shuffles are safe
    const float* p = x + pl * hw;
    float s = 0.f;
    for (int64_t i = lane; i < hw; i += 32) s += p[i];
    for (int off = 16; off > 0; off >>= 1) s += __shfl_down_sync(0xffffffffu, s, off);
    if (lane == 0) y[pl] = s / static_cast<float>(hw);
  }
}

__global__ void avg_bwd_k(int64_t planes, int64_t hw, const float* gy, float* gx) {
  FF_KERNEL_LOOP(i, planes * hw) gx[i] = gy[i / hw] / static_cast<float>(hw);
}

}  // namespace

void max_pool2d_forward(const PoolShape& s, const float* x, float* y, int32_t* idx) {
  const int64_t total = s.n * s.c * s.ho * s.wo;
  if (total == 0) return;
  FF_LAUNCH(max_fwd_k, blocks_for(total), kBlock, 0)(s, x, y, idx, total);
  CUDA_CHECK_LAUNCH();
}

void max_pool2d_backward(const PoolShape& s, const float* gy, const int32_t* idx, float* gx) {
  const int64_t total = s.n * s.c * s.h * s.w;
  if (total == 0) return;
  FF_LAUNCH(max_bwd_k, blocks_for(total), kBlock, 0)(s, gy, idx, gx, total);
  CUDA_CHECK_LAUNCH();
}

void global_avg_pool_forward(int64_t planes, int64_t hw, const float* x, float* y) {
  if (planes == 0) return;
  FF_LAUNCH(avg_fwd_k, blocks_for(planes * 32), kBlock, 0)(planes, hw, x, y);
  CUDA_CHECK_LAUNCH();
}

void global_avg_pool_backward(int64_t planes, int64_t hw, const float* gy, float* gx) {
  if (planes * hw == 0) return;
  FF_LAUNCH(avg_bwd_k, blocks_for(planes * hw), kBlock, 0)(planes, hw, gy, gx);
  CUDA_CHECK_LAUNCH();
}

}  // namespace ff::cuda
