// kernels/blas_cpu.h — the CPU backend's one matrix product: row-major
//   C [m, n] = alpha op(A) op(B) + beta C   (op = transpose when ta / tb)
// with explicit leading dimensions, on OpenBLAS.
//
// Threads: OpenBLAS is held at ONE thread for the whole process (set on first use), and the
// product is split over OpenMP threads here instead — by rows of C, or by columns when C is wide —
// once it is big enough (m n k >= 2^18) and only when not already inside a parallel region (the
// convolution runs chunks of its batch on OpenMP threads and calls this from each). Why: the
// networks' products are small (tens to hundreds of channels), and OpenBLAS's pthread workers,
// after each call, spin in sched_yield on the cores the next OpenMP loop needs: perf on the small
// hourglass's training step showed sched_yield plus the kernel time it causes at ~40% and sgemm at
// 14%, and the step ran faster with OpenBLAS at one thread than at two. One pool of threads.
// Each thread's block is an ordinary single-threaded product on slices of the same matrices; a
// given thread count repeats its results exactly.
#pragma once
#include <cstdint>

namespace ff::cpu {

void gemm_rm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
             const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void gemm_rm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
             const double* b, int64_t ldb, double beta, double* c, int64_t ldc);

}  // namespace ff::cpu
