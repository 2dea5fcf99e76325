// kernels/detect_loss.cu — CUDA twin of kernels/detect_loss_cpu.cpp (float32). The per-element
// formulas are kernels/detect_loss.h's, shared with the CPU. Each loss is two deterministic grid
// reductions of kernels/reduce.cuh in double, in stream order: the first writes the denominator
// (the positives counted on the device, or C * sum of mask), the second the loss, reading the
// denominator on the device. No atomics, no host synchronisation.
#include "kernels/cuda_common.cuh"
#include "kernels/detect_loss.h"
#include "kernels/reduce.cuh"

namespace ff::cuda {

namespace {

__global__ void sigmoid_fwd_k(const float* x, float* y, int64_t n) {
  FF_KERNEL_LOOP(i, n) y[i] = detect::sigmoid(x[i]);
}
__global__ void sigmoid_bwd_k(const float* gy, const float* y, float* gx, int64_t n) {
  FF_KERNEL_LOOP(i, n) gx[i] = gy[i] * y[i] * (1.f - y[i]);
}

// denom[0] = max(1, number of targets exactly 1).
struct FocalPositives {
  const float* t;
  float* denom;
  __device__ double value(int64_t i) const { return t[i] == 1.f ? 1.0 : 0.0; }
  __device__ void finish(double s) const { denom[0] = detect::at_least_one(static_cast<float>(s)); }
};
// out[0] = sum of the focal terms / denom[0].
struct FocalSum {
  const float* x;
  const float* t;
  const float* denom;
  float* out;
  float alpha, beta;
  __device__ double value(int64_t i) const { return detect::focal_term(x[i], t[i], alpha, beta); }
  __device__ void finish(double s) const { out[0] = static_cast<float>(s / static_cast<double>(denom[0])); }
};
__global__ void focal_bwd_k(const float* x, const float* t, const float* denom, const float* g, float* gx, int64_t n,
                            float alpha, float beta) {
  const float f = g[0] / denom[0];
  FF_KERNEL_LOOP(i, n) gx[i] = f * detect::focal_grad(x[i], t[i], alpha, beta);
}

// denom[0] = max(1, c * sum of mask [n * hw]).
struct MaskSum {
  const float* m;
  float* denom;
  int64_t c;
  __device__ double value(int64_t i) const { return m[i]; }
  __device__ void finish(double s) const {
    denom[0] = detect::at_least_one(static_cast<float>(static_cast<double>(c) * s));
  }
};
// out[0] = sum over [n, c, hw] of the masked L1 terms / denom[0].
struct MaskedL1Sum {
  const float* p;
  const float* t;
  const float* m;
  const float* denom;
  float* out;
  int64_t c, hw;
  __device__ double value(int64_t i) const {
    const int64_t b = i / (c * hw), j = i % hw;
    return detect::masked_l1_term(p[i], t[i], m[b * hw + j]);
  }
  __device__ void finish(double s) const { out[0] = static_cast<float>(s / static_cast<double>(denom[0])); }
};
__global__ void masked_l1_bwd_k(const float* p, const float* t, const float* m, const float* denom, const float* g,
                                float* gp, int64_t total, int64_t c, int64_t hw) {
  const float f = g[0] / denom[0];
  FF_KERNEL_LOOP(i, total) {
    const int64_t b = i / (c * hw), j = i % hw;
    gp[i] = f * detect::masked_l1_grad(p[i], t[i], m[b * hw + j]);
  }
}

}  // namespace

void sigmoid_forward(const float* x, float* y, int64_t n) {
  if (n == 0) return;
  FF_LAUNCH(sigmoid_fwd_k, blocks_for(n), kBlock, 0)(x, y, n);
  CUDA_CHECK_LAUNCH();
}
void sigmoid_backward(const float* gy, const float* y, float* gx, int64_t n) {
  if (n == 0) return;
  FF_LAUNCH(sigmoid_bwd_k, blocks_for(n), kBlock, 0)(gy, y, gx, n);
  CUDA_CHECK_LAUNCH();
}

void focal_loss_forward(const float* x, const float* t, float* denom, float* out, int64_t n, float alpha,
                        float beta) {
  grid_sum(FocalPositives{t, denom}, n);
  grid_sum(FocalSum{x, t, denom, out, alpha, beta}, n);
}
void focal_loss_backward(const float* x, const float* t, const float* denom, const float* g, float* gx, int64_t n,
                         float alpha, float beta) {
  if (n == 0) return;
  FF_LAUNCH(focal_bwd_k, blocks_for(n), kBlock, 0)(x, t, denom, g, gx, n, alpha, beta);
  CUDA_CHECK_LAUNCH();
}

void masked_l1_forward(const float* p, const float* t, const float* m, float* denom, float* out, int64_t n,
                       int64_t c, int64_t hw) {
  grid_sum(MaskSum{m, denom, c}, n * hw);
  grid_sum(MaskedL1Sum{p, t, m, denom, out, c, hw}, n * c * hw);
}
void masked_l1_backward(const float* p, const float* t, const float* m, const float* denom, const float* g,
                        float* gp, int64_t n, int64_t c, int64_t hw) {
  const int64_t total = n * c * hw;
  if (total == 0) return;
  FF_LAUNCH(masked_l1_bwd_k, blocks_for(total), kBlock, 0)(p, t, m, denom, g, gp, total, c, hw);
  CUDA_CHECK_LAUNCH();
}

}  // namespace ff::cuda
