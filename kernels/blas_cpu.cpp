// kernels/blas_cpu.cpp — see blas_cpu.h.
#include "kernels/blas_cpu.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <mutex>

namespace ff::cpu {

namespace {

void blas_single_threaded_once() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

void call(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(m),
              static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb),
              beta, c, static_cast<int>(ldc));
}
void call(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
          const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(m),
              static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb),
              beta, c, static_cast<int>(ldc));
}

template <typename T>
void gemm_impl(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
               int64_t ldb, T beta, T* c, int64_t ldc) {
  blas_single_threaded_once();
  const int max_threads = omp_in_parallel() ? 1 : std::max(1, omp_get_max_threads());
  const bool big = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) >= double(1 << 18);
  // Blocks of C of at least 16 rows / 64 columns, so each thread's product stays efficient.
  const bool by_rows = m >= n;
  const int64_t extent = by_rows ? m : n, min_block = by_rows ? 16 : 64;
  const int threads = static_cast<int>(std::min<int64_t>(max_threads, std::max<int64_t>(1, extent / min_block)));
  if (!big || threads <= 1) {
    call(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    const int64_t lo = extent * t / threads, hi = extent * (t + 1) / threads;
    if (hi > lo) {
      if (by_rows) {  // rows lo..hi of op(A) and of C
        const T* ab = ta ? a + lo : a + lo * lda;
        call(ta, tb, hi - lo, n, k, alpha, ab, lda, b, ldb, beta, c + lo * ldc, ldc);
      } else {  // columns lo..hi of op(B) and of C
        const T* bb = tb ? b + lo * ldb : b + lo;
        call(ta, tb, m, hi - lo, k, alpha, a, lda, bb, ldb, beta, c + lo, ldc);
      }
    }
  }
}

}  // namespace

void gemm_rm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
             const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  gemm_impl(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void gemm_rm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
             const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  gemm_impl(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace ff::cpu
