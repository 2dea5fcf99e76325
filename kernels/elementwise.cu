// kernels/elementwise.cu — CUDA twin of kernels/elementwise_cpu.cpp (float32).
#include "kernels/cuda_common.cuh"
#include "kernels/elementwise.h"

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
__global__ void axpy_k(float* y, float alpha, const float* x, int64_t n) {
  FF_KERNEL_LOOP(i, n) y[i] += alpha * x[i];
}
__global__ void relu_fwd_k(const float* x, float* y, int64_t n) {
  FF_KERNEL_LOOP(i, n) y[i] = (x[i] > 0.f || isnan(x[i])) ? x[i] : 0.f;  // NaN passes, as torch.relu
}
__global__ void relu_bwd_k(const float* gy, const float* y, float* gx, int64_t n) {
  FF_KERNEL_LOOP(i, n) gx[i] = y[i] > 0.f ? gy[i] : 0.f;
}
// One block of 1024 threads: each thread sums a strided slice in double, then a shared-memory
// tree. One launch, deterministic order.
__global__ void sum_k(const float* x, float* out, int64_t n) {
  __shared__ double sh[1024];
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += x[i];
  sh[threadIdx.x] = s;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w >>= 1) {
    if (threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[0] = static_cast<float>(sh[0]);
}
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
}  // namespace

void mul_by_scalar(const float* x, const float* s, float* y, int64_t n) {
  if (n == 0) return;
  mul_by_scalar_k<<<blocks_for(n), kBlock, 0, stream()>>>(x, s, y, n);
  CUDA_CHECK_LAUNCH();
}

void binary(BinaryOp op, const float* a, const float* b, float* y, int64_t n) {
  if (n == 0) return;
  binary_k<<<blocks_for(n), kBlock, 0, stream()>>>(static_cast<int>(op), a, b, y, n);
  CUDA_CHECK_LAUNCH();
}
void affine(const float* x, float* y, int64_t n, float alpha, float beta) {
  if (n == 0) return;
  affine_k<<<blocks_for(n), kBlock, 0, stream()>>>(x, y, n, alpha, beta);
  CUDA_CHECK_LAUNCH();
}
void fill(float* y, int64_t n, float value) {
  if (n == 0) return;
  fill_k<<<blocks_for(n), kBlock, 0, stream()>>>(y, n, value);
  CUDA_CHECK_LAUNCH();
}
void axpy(float* y, float alpha, const float* x, int64_t n) {
  if (n == 0) return;
  axpy_k<<<blocks_for(n), kBlock, 0, stream()>>>(y, alpha, x, n);
  CUDA_CHECK_LAUNCH();
}
void relu_forward(const float* x, float* y, int64_t n) {
  if (n == 0) return;
  relu_fwd_k<<<blocks_for(n), kBlock, 0, stream()>>>(x, y, n);
  CUDA_CHECK_LAUNCH();
}
void relu_backward(const float* gy, const float* y, float* gx, int64_t n) {
  if (n == 0) return;
  relu_bwd_k<<<blocks_for(n), kBlock, 0, stream()>>>(gy, y, gx, n);
  CUDA_CHECK_LAUNCH();
}
void sum_all(const float* x, float* out, int64_t n) {
  sum_k<<<1, 1024, 0, stream()>>>(x, out, n);
  CUDA_CHECK_LAUNCH();
}
void fill_from_scalar(const float* s, float factor, float* y, int64_t n) {
  if (n == 0) return;
  fill_from_scalar_k<<<blocks_for(n), kBlock, 0, stream()>>>(s, factor, y, n);
  CUDA_CHECK_LAUNCH();
}

void sqrt_forward(const float* x, float* y, int64_t n) {
  if (n == 0) return;
  sqrt_fwd_k<<<blocks_for(n), kBlock, 0, stream()>>>(x, y, n);
  CUDA_CHECK_LAUNCH();
}
void sqrt_backward(const float* gy, const float* y, float* gx, int64_t n) {
  if (n == 0) return;
  sqrt_bwd_k<<<blocks_for(n), kBlock, 0, stream()>>>(gy, y, gx, n);
  CUDA_CHECK_LAUNCH();
}
void clamp_forward(const float* x, float* y, int64_t n, float lo, float hi) {
  if (n == 0) return;
  clamp_fwd_k<<<blocks_for(n), kBlock, 0, stream()>>>(x, y, n, lo, hi);
  CUDA_CHECK_LAUNCH();
}
void clamp_backward(const float* gy, const float* x, float* gx, int64_t n, float lo, float hi) {
  if (n == 0) return;
  clamp_bwd_k<<<blocks_for(n), kBlock, 0, stream()>>>(gy, x, gx, n, lo, hi);
  CUDA_CHECK_LAUNCH();
}
void greater_mask(const float* x, float* y, int64_t n, float t) {
  if (n == 0) return;
  greater_mask_k<<<blocks_for(n), kBlock, 0, stream()>>>(x, y, n, t);
  CUDA_CHECK_LAUNCH();
}

}  // namespace ff::cuda
