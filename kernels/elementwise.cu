// kernels/elementwise.cu — CUDA twin of kernels/elementwise_cpu.cpp (float32).
#include "kernels/cuda_common.cuh"
#include "kernels/elementwise.h"
#include "kernels/reduce.cuh"

namespace ff::cuda {

namespace {
__global__ void binary_k(int op, const float* a, const float* b, float* y, int64_t n) {
  FF_KERNEL_LOOP(i, n) {
    float u = a[i], v = b[i];
    y[i] = op == 0 ? u + v : (op == 1 ? u - v : u * v);
  }
}
__global__ void affine_k(const float* x, float* y, int64_t n, float alpha, float beta) {
  FF_KERNEL_LOOP(i, n) y[i] = alpha * x[i] + beta;
}
__global__ void fill_k(float* y, int64_t n, float v) { FF_KERNEL_LOOP(i, n) y[i] = v; }
__global__ void axpy_k(float* y, float alpha, const float* x, int64_t n) { FF_KERNEL_LOOP(i, n) y[i] += alpha * x[i]; }
__global__ void relu_fwd_k(const float* x, float* y, int64_t n) {
  FF_KERNEL_LOOP(i, n) y[i] = (x[i] > 0.f || isnan(x[i])) ? x[i] : 0.f;  // NaN passes, as torch.relu
}
__global__ void relu_bwd_k(const float* gy, const float* y, float* gx, int64_t n) {
  FF_KERNEL_LOOP(i, n) gx[i] = y[i] > 0.f ? gy[i] : 0.f;
}
// sum_all: the deterministic two-stage grid reduction of kernels/reduce.cuh, in double.
struct SumReduce {
  const float* x;
  float* out;
  __device__ double value(int64_t i) const { return x[i]; }
  __device__ void finish(double s) const { out[0] = static_cast<float>(s); }
};
__global__ void fill_from_scalar_k(const float* s, float factor, float* y, int64_t n) {
  float v = s[0] * factor;
  FF_KERNEL_LOOP(i, n) y[i] = v;
}
__global__ void mul_by_scalar_k(const float* x, const float* s, float* y, int64_t n) {
  float v = s[0];
  FF_KERNEL_LOOP(i, n) y[i] = x[i] * v;
}
__global__ void sqrt_fwd_k(const float* x, float* y, int64_t n) { FF_KERNEL_LOOP(i, n) y[i] = sqrtf(x[i]); }
__global__ void sqrt_bwd_k(const float* gy, const float* y, float* gx, int64_t n) {
  FF_KERNEL_LOOP(i, n) gx[i] = y[i] > 0.f ? gy[i] / (2.f * y[i]) : 0.f;
}
__global__ void clamp_fwd_k(const float* x, float* y, int64_t n, float lo, float hi) {
  FF_KERNEL_LOOP(i, n) y[i] = x[i] < lo ? lo : (x[i] > hi ? hi : x[i]);
}
__global__ void clamp_bwd_k(const float* gy, const float* x, float* gx, int64_t n, float lo, float hi) {
  FF_KERNEL_LOOP(i, n) gx[i] = (x[i] >= lo && x[i] <= hi) ? gy[i] : 0.f;  // torch.clamp: bounds included
}
__global__ void greater_mask_k(const float* x, float* y, int64_t n, float t) {
  FF_KERNEL_LOOP(i, n) y[i] = x[i] > t ? 1.f : 0.f;
}

// Launches a grid-stride kernel over n elements on the stream (nothing to do for n = 0).
template <typename... P, typename... A>
void launch_1d(void (*kernel)(P...), int64_t n, A... args) {
  if (n == 0) return;
  FF_LAUNCH(kernel, blocks_for(n), kBlock, 0)(args...);
  CUDA_CHECK_LAUNCH();
}
}  // namespace

void mul_by_scalar(const float* x, const float* s, float* y, int64_t n) { launch_1d(mul_by_scalar_k, n, x, s, y, n); }

void binary(BinaryOp op, const float* a, const float* b, float* y, int64_t n) {
  launch_1d(binary_k, n, static_cast<int>(op), a, b, y, n);
}
void affine(const float* x, float* y, int64_t n, float alpha, float beta) {
  launch_1d(affine_k, n, x, y, n, alpha, beta);
}
void fill(float* y, int64_t n, float value) { launch_1d(fill_k, n, y, n, value); }
void axpy(float* y, float alpha, const float* x, int64_t n) { launch_1d(axpy_k, n, y, alpha, x, n); }
void relu_forward(const float* x, float* y, int64_t n) { launch_1d(relu_fwd_k, n, x, y, n); }
void relu_backward(const float* gy, const float* y, float* gx, int64_t n) { launch_1d(relu_bwd_k, n, gy, y, gx, n); }
void sum_all(const float* x, float* out, int64_t n) { grid_sum(SumReduce{x, out}, n); }
void fill_from_scalar(const float* s, float factor, float* y, int64_t n) {
  launch_1d(fill_from_scalar_k, n, s, factor, y, n);
}

void sqrt_forward(const float* x, float* y, int64_t n) { launch_1d(sqrt_fwd_k, n, x, y, n); }
void sqrt_backward(const float* gy, const float* y, float* gx, int64_t n) { launch_1d(sqrt_bwd_k, n, gy, y, gx, n); }
void clamp_forward(const float* x, float* y, int64_t n, float lo, float hi) {
  launch_1d(clamp_fwd_k, n, x, y, n, lo, hi);
}
void clamp_backward(const float* gy, const float* x, float* gx, int64_t n, float lo, float hi) {
  launch_1d(clamp_bwd_k, n, gy, x, gx, n, lo, hi);
}
void greater_mask(const float* x, float* y, int64_t n, float t) { launch_1d(greater_mask_k, n, x, y, n, t); }

}  // namespace ff::cuda
