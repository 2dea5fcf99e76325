// kernels/arcface.h — label-indexed gathers/scatters and the fused ArcFace margin + softmax +
// cross-entropy kernel. cpu:: reference and cuda:: twin.
#pragma once
#include <cstdint>

#include "kernels/hd.h"

#define FF_ARCFACE_DECLS(T)                                                                        \
  /* y[i] = x[i*K + labels[i]]                                     x [N,K], labels [N], y [N] */   \
  void gather_label(const T* x, const int64_t* labels, T* y, int64_t n, int64_t k);              \
  /* x[i*K + labels[i]] += v[i] (in place)                                                      */ \
  void scatter_label_add(T* x, const int64_t* labels, const T* v, int64_t n, int64_t k);         \
  /* Fused ArcFace. cos [N,C], labels [N] -> row_loss [N] and dcos [N,C] = d(mean loss)/d cos. */ \
  void arcface_forward(const T* cos, const int64_t* labels, T* row_loss, T* dcos, int64_t n, int64_t c, \
                       T s, T m);

namespace ff::cpu {
FF_ARCFACE_DECLS(float)
FF_ARCFACE_DECLS(double)
}  // namespace ff::cpu

namespace ff::cuda {
FF_ARCFACE_DECLS(float)
}  // namespace ff::cuda

namespace ff {
// The margin function and its derivative, shared by both backends (host and device).
template <typename T>
struct ArcMargin {
  T cos_m, sin_m, th, mm;  // cos m, sin m, cos(pi - m), sin(pi - m) * m
  // phi(c) and d phi / d c for a target cosine c.
  FF_HD void apply(T c_raw, T* phi, T* dphi) const {
    T c = c_raw < T(-1) ? T(-1) : (c_raw > T(1) ? T(1) : c_raw);
    T dc = (c_raw >= T(-1) && c_raw <= T(1)) ? T(1) : T(0);  // clamp's gradient, bounds included (torch.clamp)
    T one_minus = T(1) - c * c;
    bool bound = !(one_minus >= T(1e-12));  // clamp(min = 1e-12) binds: no gradient through the sine
    T sin = bound ? T(1e-6) : sqrt_(one_minus);             // sqrt(1e-12) where the clamp binds
    T dsin = bound ? T(0) : -c / sin;
    if (c > th) {
      *phi = c * cos_m - sin * sin_m;
      *dphi = (cos_m - dsin * sin_m) * dc;
    } else {
      *phi = c - mm;
      *dphi = dc;
    }
  }
  static FF_HD T sqrt_(T v);
};
template <>
FF_HD float ArcMargin<float>::sqrt_(float v) { return sqrtf(v); }
template <>
FF_HD double ArcMargin<double>::sqrt_(double v) { return ::sqrt(v); }
}  // namespace ff
