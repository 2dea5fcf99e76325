// kernels/linear_cpu.cpp — CPU reference for kernels/linear.h: OpenBLAS for the products
// (kernels/blas_cpu.h),
// OpenMP loops for the bias and the normalisation.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/blas_cpu.h"
#include "kernels/linear.h"

namespace ff::cpu {

namespace {
template <typename T>
void gemm_impl(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, const T* b,
               T beta, T* c) {
  check_gemm_size("cpu", m, n, k);
  if (m == 0 || n == 0) return;
  if (k == 0) {  // BLAS would scale c by beta; with beta == 0 the old contents must not leak (NaN * 0)
    for (int64_t i = 0; i < m * n; ++i) c[i] = beta == T(0) ? T(0) : beta * c[i];
    return;
  }
  // The leading dimension must be >= 1 even for empty matrices.
  gemm_rm(ta, tb, m, n, k, alpha, a, std::max<int64_t>(1, ta ? m : k), b, std::max<int64_t>(1, tb ? k : n), beta, c,
          std::max<int64_t>(1, n));
}

template <typename T>
void add_bias_impl(T* y, const T* bias, int64_t rows, int64_t cols) {
#pragma omp parallel for if (rows * cols > 32768)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) y[r * cols + j] += bias[j];
}

template <typename T>
void sum_rows_impl(const T* g, T* out, int64_t rows, int64_t cols) {
  // Rows outer so the walk over g is sequential; partial sums in double.
  std::vector<double> acc(cols, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) acc[j] += static_cast<double>(g[r * cols + j]);
  for (int64_t j = 0; j < cols; ++j) out[j] = static_cast<T>(acc[j]);
}

template <typename T>
void l2_fwd_impl(const T* x, T* y, T* norm, int64_t rows, int64_t cols, T eps) {
#pragma omp parallel for if (rows * cols > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    double s = 0.0;
    for (int64_t j = 0; j < cols; ++j) s += static_cast<double>(xr[j]) * xr[j];
    double nrm = std::sqrt(s);
    double d = std::max(nrm, static_cast<double>(eps));
    for (int64_t j = 0; j < cols; ++j) y[r * cols + j] = static_cast<T>(xr[j] / d);
    norm[r] = static_cast<T>(nrm);
  }
}

template <typename T>
void l2_bwd_impl(const T* gy, const T* y, const T* norm, T* gx, int64_t rows, int64_t cols, T eps) {
#pragma omp parallel for if (rows * cols > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    const T* yr = y + r * cols;
    const T* gr = gy + r * cols;
    bool clamped = !(norm[r] >= eps);
    double dot = 0.0;
    if (!clamped)
      for (int64_t j = 0; j < cols; ++j) dot += static_cast<double>(yr[j]) * gr[j];
    double d = clamped ? static_cast<double>(eps) : static_cast<double>(norm[r]);
    for (int64_t j = 0; j < cols; ++j) gx[r * cols + j] = static_cast<T>((gr[j] - yr[j] * dot) / d);
  }
}
}  // namespace

#define FF_LINEAR_CPU_DEFS(T)                                                                     \
  void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,    \
            const T* b, T beta, T* c) {                                                           \
    gemm_impl(trans_a, trans_b, m, n, k, alpha, a, b, beta, c);                                   \
  }                                                                                               \
  void add_bias_rows(T* y, const T* bias, int64_t rows, int64_t cols) {                           \
    add_bias_impl(y, bias, rows, cols);                                                           \
  }                                                                                               \
  void sum_rows(const T* g, T* out, int64_t rows, int64_t cols) { sum_rows_impl(g, out, rows, cols); } \
  void l2_normalize_forward(const T* x, T* y, T* norm, int64_t rows, int64_t cols, T eps) {       \
    l2_fwd_impl(x, y, norm, rows, cols, eps);                                                     \
  }                                                                                               \
  void l2_normalize_backward(const T* gy, const T* y, const T* norm, T* gx, int64_t rows,         \
                             int64_t cols, T eps) {                                               \
    l2_bwd_impl(gy, y, norm, gx, rows, cols, eps);                                                \
  }

FF_LINEAR_CPU_DEFS(float)
FF_LINEAR_CPU_DEFS(double)

}  // namespace ff::cpu
