// kernels/upsample.cu — CUDA twin of kernels/upsample_cpu.cpp (float32). One thread per output
// element, consecutive threads along a row (coalesced writes). The backward zeroes gx and scatters
// with atomicAdd: several output pixels feed one input pixel, so the float sum order (and its last
// bits) can differ from run to run.
#include "kernels/cuda_common.cuh"
#include "kernels/upsample.h"

namespace ff::cuda {

namespace {

__global__ void upsample_fwd_k(const float* x, float* y, int64_t total, int64_t H, int64_t W, int64_t OH,
                               int64_t OW, float sh, float sw, bool align_corners) {
  FF_KERNEL_LOOP(i, total) {
    int64_t ow = i % OW, oh = (i / OW) % OH, p = i / (OW * OH);
    LinearTap<float> a = upsample_tap<float>(oh, H, sh, align_corners);
    LinearTap<float> b = upsample_tap<float>(ow, W, sw, align_corners);
    const float* r0 = x + (p * H + a.i0) * W;
    const float* r1 = x + (p * H + a.i1) * W;
    y[i] = a.w0 * (b.w0 * r0[b.i0] + b.w1 * r0[b.i1]) + a.w1 * (b.w0 * r1[b.i0] + b.w1 * r1[b.i1]);
  }
}

__global__ void upsample_bwd_k(const float* gy, float* gx, int64_t total, int64_t H, int64_t W, int64_t OH,
                               int64_t OW, float sh, float sw, bool align_corners) {
  FF_KERNEL_LOOP(i, total) {
    int64_t ow = i % OW, oh = (i / OW) % OH, p = i / (OW * OH);
    LinearTap<float> a = upsample_tap<float>(oh, H, sh, align_corners);
    LinearTap<float> b = upsample_tap<float>(ow, W, sw, align_corners);
    float v = gy[i];
    float* r0 = gx + (p * H + a.i0) * W;
    float* r1 = gx + (p * H + a.i1) * W;
    atomicAdd(r0 + b.i0, a.w0 * b.w0 * v);
    atomicAdd(r0 + b.i1, a.w0 * b.w1 * v);
    atomicAdd(r1 + b.i0, a.w1 * b.w0 * v);
    atomicAdd(r1 + b.i1, a.w1 * b.w1 * v);
  }
}

}  // namespace

void upsample_bilinear_forward(const float* x, float* y, int64_t NC, int64_t H, int64_t W, int64_t OH,
                               int64_t OW, bool align_corners) {
  int64_t total = NC * OH * OW;
  if (total == 0) return;
  float sh = upsample_scale<float>(H, OH, align_corners), sw = upsample_scale<float>(W, OW, align_corners);
  FF_LAUNCH(upsample_fwd_k, blocks_for(total), kBlock, 0)(x, y, total, H, W, OH, OW, sh, sw,
                                                                     align_corners);
  CUDA_CHECK_LAUNCH();
}

void upsample_bilinear_backward(const float* gy, float* gx, int64_t NC, int64_t H, int64_t W, int64_t OH,
                                int64_t OW, bool align_corners) {
  if (NC * H * W == 0) return;
  CUDA_CHECK(cudaMemsetAsync(gx, 0, static_cast<size_t>(NC * H * W) * sizeof(float), stream()));
  int64_t total = NC * OH * OW;
  if (total == 0) return;
  float sh = upsample_scale<float>(H, OH, align_corners), sw = upsample_scale<float>(W, OW, align_corners);
  FF_LAUNCH(upsample_bwd_k, blocks_for(total), kBlock, 0)(gy, gx, total, H, W, OH, OW, sh, sw,
                                                                     align_corners);
  CUDA_CHECK_LAUNCH();
}

}  // namespace ff::cuda
