// kernels/pool_cpu.cpp — CPU reference for kernels/pool.h (OpenMP over planes).
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/pool.h"

namespace ff::cpu {

namespace {

template <typename T>
void max_fwd_impl(const PoolShape& s, const T* x, T* y, int32_t* idx) {
  const int64_t planes = s.n * s.c, HW = s.h * s.w, P = s.ho * s.wo;
#pragma omp parallel for schedule(static) if (planes * P * s.k * s.k > 65536)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const T* xp = x + pl * HW;
    for (int64_t oh = 0; oh < s.ho; ++oh) {
      const int64_t h0 = std::max<int64_t>(oh * s.stride - s.pad, 0);
      const int64_t h1 = std::min<int64_t>(oh * s.stride - s.pad + s.k, s.h);
      for (int64_t ow = 0; ow < s.wo; ++ow) {
        const int64_t w0 = std::max<int64_t>(ow * s.stride - s.pad, 0);
        const int64_t w1 = std::min<int64_t>(ow * s.stride - s.pad + s.k, s.w);
        int64_t best = h0 * s.w + w0;
        T m = -std::numeric_limits<T>::infinity();
        for (int64_t ih = h0; ih < h1; ++ih)
          for (int64_t iw = w0; iw < w1; ++iw) {
            T v = xp[ih * s.w + iw];
            if (v > m || std::isnan(v)) {  // strict: the first maximum wins ties; NaN propagates
              m = v;
              best = ih * s.w + iw;
            }
          }
        const int64_t o = pl * P + oh * s.wo + ow;
        y[o] = m;
        if (idx) idx[o] = static_cast<int32_t>(best);
      }
    }
  }
}

template <typename T>
void max_bwd_impl(const PoolShape& s, const T* gy, const int32_t* idx, T* gx) {
  const int64_t planes = s.n * s.c, HW = s.h * s.w, P = s.ho * s.wo;
#pragma omp parallel for schedule(static) if (planes * (HW + P) > 65536)
  for (int64_t pl = 0; pl < planes; ++pl) {
    T* g = gx + pl * HW;
    std::fill(g, g + HW, T(0));
    // Outputs in order, so each input sums its windows' gradients in increasing (oh, ow) order,
    // the same order as the CUDA gather.
    for (int64_t o = 0; o < P; ++o) g[idx[pl * P + o]] += gy[pl * P + o];
  }
}

template <typename T>
void avg_fwd_impl(int64_t planes, int64_t hw, const T* x, T* y) {
#pragma omp parallel for schedule(static) if (planes * hw > 65536)
  for (int64_t pl = 0; pl < planes; ++pl) {
    double acc = 0;
    const T* p = x + pl * hw;
    for (int64_t i = 0; i < hw; ++i) acc += p[i];
    y[pl] = static_cast<T>(acc / static_cast<double>(hw));
  }
}

template <typename T>
void avg_bwd_impl(int64_t planes, int64_t hw, const T* gy, T* gx) {
#pragma omp parallel for schedule(static) if (planes * hw > 65536)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const T v = static_cast<T>(gy[pl] / static_cast<double>(hw));
    std::fill(gx + pl * hw, gx + (pl + 1) * hw, v);
  }
}

}  // namespace

#define FF_POOL_CPU_DEFS(T)                                                                   \
  void max_pool2d_forward(const PoolShape& s, const T* x, T* y, int32_t* idx) {               \
    max_fwd_impl(s, x, y, idx);                                                               \
  }                                                                                           \
  void max_pool2d_backward(const PoolShape& s, const T* gy, const int32_t* idx, T* gx) {      \
    max_bwd_impl(s, gy, idx, gx);                                                             \
  }                                                                                           \
  void global_avg_pool_forward(int64_t planes, int64_t hw, const T* x, T* y) {                \
    avg_fwd_impl(planes, hw, x, y);                                                           \
  }                                                                                           \
  void global_avg_pool_backward(int64_t planes, int64_t hw, const T* gy, T* gx) {             \
    avg_bwd_impl(planes, hw, gy, gx);                                                         \
  }

FF_POOL_CPU_DEFS(float)
FF_POOL_CPU_DEFS(double)

}  // namespace ff::cpu
