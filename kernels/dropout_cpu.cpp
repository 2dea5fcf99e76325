// kernels/dropout_cpu.cpp — CPU reference for kernels/dropout.h (OpenMP).
#include "kernels/dropout.h"

#include "kernels/philox.h"

namespace ff::cpu {

namespace {
template <typename T>
void apply_impl(const T* x, T* y, int64_t n, float p, T scale, uint64_t seed, uint64_t first) {
#pragma omp parallel for if (n > 32768)
  for (int64_t i = 0; i < n; ++i)
    y[i] = philox_uniform(seed, first + static_cast<uint64_t>(i)) < p ? T(0) : x[i] * scale;
}
}  // namespace

void dropout_apply(const float* x, float* y, int64_t n, float p, float scale, uint64_t seed, uint64_t first) {
  apply_impl(x, y, n, p, scale, seed, first);
}
void dropout_apply(const double* x, double* y, int64_t n, float p, double scale, uint64_t seed, uint64_t first) {
  apply_impl(x, y, n, p, scale, seed, first);
}

}  // namespace ff::cpu
