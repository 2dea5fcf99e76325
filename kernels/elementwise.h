// kernels/elementwise.h — element-wise ops and full reductions: the cpu:: reference and its cuda::
// twin with the same signature over raw pointers. CPU versions exist for float and double, CUDA
// versions for float. All pointers are to contiguous arrays of n elements on the function's device.
#pragma once
#include <cstdint>

namespace ff {
enum class BinaryOp : int { Add, Sub, Mul };
}

#define FF_ELEMENTWISE_DECLS(T)                                                               \
  /* y = a (op) b */                                                                          \
  void binary(BinaryOp op, const T* a, const T* b, T* y, int64_t n);                           \
  /* y = alpha * x + beta (x may equal y) */                                                   \
  void affine(const T* x, T* y, int64_t n, T alpha, T beta);                                   \
  /* y = value */                                                                              \
  void fill(T* y, int64_t n, T value);                                                         \
  /* y += alpha * x */                                                                         \
  void axpy(T* y, T alpha, const T* x, int64_t n);                                             \
  /* y = max(x, 0) */                                                                          \
  void relu_forward(const T* x, T* y, int64_t n);                                              \
  /* gx = gy where y > 0, else 0 (y is relu's output) */                                       \
  void relu_backward(const T* gy, const T* y, T* gx, int64_t n);                               \
  /* y = sqrt(x) */                                                                            \
  void sqrt_forward(const T* x, T* y, int64_t n);                                              \
  /* gx = gy / (2 y) where y > 0, else 0 (y is sqrt's output) */                               \
  void sqrt_backward(const T* gy, const T* y, T* gx, int64_t n);                               \
  /* y = min(max(x, lo), hi) */                                                                \
  void clamp_forward(const T* x, T* y, int64_t n, T lo, T hi);                                 \
  /* gx = gy where lo <= x <= hi, else 0 (torch.clamp: the bounds pass the gradient; NaN: 0) */ \
  void clamp_backward(const T* gy, const T* x, T* gx, int64_t n, T lo, T hi);                  \
  /* y = 1 where x > threshold, else 0 */                                                      \
  void greater_mask(const T* x, T* y, int64_t n, T threshold);                                 \
  /* out[0] = sum of x (accumulated in double on the CPU, float tree on the GPU) */            \
  void sum_all(const T* x, T* out, int64_t n);                                                 \
  /* y[i] = factor * s[0], s a one-element array on the same device (no host read) */          \
  void fill_from_scalar(const T* s, T factor, T* y, int64_t n);                                \
  /* y[i] = x[i] * s[0], s a one-element array on the same device (no host read) */             \
  void mul_by_scalar(const T* x, const T* s, T* y, int64_t n);

namespace ff::cpu {
FF_ELEMENTWISE_DECLS(float)
FF_ELEMENTWISE_DECLS(double)
}  // namespace ff::cpu

namespace ff::cuda {
FF_ELEMENTWISE_DECLS(float)
}  // namespace ff::cuda
