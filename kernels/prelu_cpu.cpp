// kernels/prelu_cpu.cpp — CPU reference for kernels/prelu.h (OpenMP over the elements, and over
// the channels for the slope gradient, each channel summed in double in (image, element) order).
#include "kernels/prelu.h"

namespace ff::cpu {

namespace {

template <typename T>
void fwd_impl(int64_t n, int64_t c, int64_t inner, const T* x, const T* w, T* y) {
  const int64_t total = n * c * inner;
#pragma omp parallel for schedule(static) if (total > 65536)
  for (int64_t i = 0; i < total; ++i) y[i] = prelu_math::fwd(x[i], w[(i / inner) % c]);
}

template <typename T>
void bwd_impl(int64_t n, int64_t c, int64_t inner, const T* x, const T* w, const T* gy, T* gx, T* gw) {
  const int64_t total = n * c * inner;
  if (gx) {
#pragma omp parallel for schedule(static) if (total > 65536)
    for (int64_t i = 0; i < total; ++i) gx[i] = prelu_math::gx(x[i], w[(i / inner) % c], gy[i]);
  }
  if (gw) {
#pragma omp parallel for schedule(static) if (total > 65536)
    for (int64_t ch = 0; ch < c; ++ch) {
      double acc = 0;
      for (int64_t b = 0; b < n; ++b) {
        const int64_t base = (b * c + ch) * inner;
        for (int64_t j = 0; j < inner; ++j) acc += static_cast<double>(prelu_math::gw_term(x[base + j], gy[base + j]));
      }
      gw[ch] = static_cast<T>(acc);
    }
  }
}

}  // namespace

#define FF_PRELU_CPU_DEFS(T)                                                                                    \
  void prelu_forward(int64_t n, int64_t c, int64_t inner, const T* x, const T* w, T* y) {                       \
    fwd_impl(n, c, inner, x, w, y);                                                                             \
  }                                                                                                             \
  void prelu_backward(int64_t n, int64_t c, int64_t inner, const T* x, const T* w, const T* gy, T* gx, T* gw) { \
    bwd_impl(n, c, inner, x, w, gy, gx, gw);                                                                    \
  }

FF_PRELU_CPU_DEFS(float)
FF_PRELU_CPU_DEFS(double)

}  // namespace ff::cpu
