// kernels/linear.h — matrix products, bias rows and row-wise L2 normalisation: the cpu:: reference
// (OpenBLAS for the products) and its cuda:: twin (cuBLAS) with the same signatures over raw
// pointers. CPU versions exist for float and double, CUDA versions for float. All matrices are
// row-major and contiguous, on the function's device.
#pragma once
#include <cstdint>

#include "engine/error.h"

namespace ff {
// cuBLAS (cublasSgemm) and OpenBLAS's cblas_?gemm take int dimensions and leading dimensions; both
// gemm twins call this first, so a dimension of 2^31 or more fails with the shapes instead of
// being truncated by the cast to int (the leading dimensions are row lengths, i.e. m, n or k).
inline void check_gemm_size(const char* backend, int64_t m, int64_t n, int64_t k) {
  const int64_t lim = int64_t{1} << 31;
  FF_CHECK(m < lim && n < lim && k < lim, "gemm (", backend, "): dimensions of 2^31 or more are not supported by ",
           "the BLAS int interface: m ", m, ", n ", n, ", k ", k);
}
}  // namespace ff

#define FF_LINEAR_DECLS(T)                                                                         \
  /* c [m, n] = alpha * op(a) op(b) + beta * c, row-major; op(a) [m, k] is a [m, k] or, with      \
     trans_a, aᵀ of a [k, m]; op(b) [k, n] is b [k, n] or, with trans_b, bᵀ of b [n, k].          \
     beta == 0 overwrites c (its old contents may be NaN). On CUDA, TF32 tensor-core math is      \
     used when ff::allow_tf32() is on (kernels/cuda_context.cuh). */                              \
  void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,     \
            const T* b, T beta, T* c);                                                             \
  /* y [rows, cols] += bias [cols] on every row */                                                 \
  void add_bias_rows(T* y, const T* bias, int64_t rows, int64_t cols);                             \
  /* out [cols] = sum over rows of g [rows, cols] (the bias gradient); overwrites out */           \
  void sum_rows(const T* g, T* out, int64_t rows, int64_t cols);                                   \
  /* Row-wise L2 normalisation of x [rows, cols]: norm [rows] = ||x_r||, y = x / max(norm, eps) */ \
  void l2_normalize_forward(const T* x, T* y, T* norm, int64_t rows, int64_t cols, T eps);         \
  /* Its gradient, from the output y, the norms and gy (all as above); overwrites gx:             \
     gx = (gy - y (y·gy)) / norm where norm >= eps, else gy / eps (the clamp is constant there) */ \
  void l2_normalize_backward(const T* gy, const T* y, const T* norm, T* gx, int64_t rows,          \
                             int64_t cols, T eps);

namespace ff::cpu {
FF_LINEAR_DECLS(float)
FF_LINEAR_DECLS(double)
}  // namespace ff::cpu

namespace ff::cuda {
FF_LINEAR_DECLS(float)
}  // namespace ff::cuda
