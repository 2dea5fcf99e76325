// kernels/prelu.h — PReLU with one slope per channel (PyTorch's nn.PReLU(C)), forward and
// backward: the cpu:: reference and its cuda:: twin with the same signatures over raw pointers.
// CPU versions exist for float and double, CUDA versions for float. x is contiguous
// [n, c, inner] (inner = the product of the dimensions after the channel one, 1 for [n, c]).
//
// Semantics as PyTorch's: y = x > 0 ? x : w[c] * x (NaN gives NaN through w * x);
// gx = x > 0 ? gy : w[c] * gy; gw[c] = sum over the channel's elements with x <= 0 (not x > 0:
// NaN counts too) of x * gy, summed in double.
//
// Backward contract: gx and gw are overwritten, never accumulated into; either may be null (its
// gradient is then not computed).
#pragma once
#include <cstdint>

#include "kernels/hd.h"

namespace ff::prelu_math {
template <typename T>
FF_HD T fwd(T x, T w) {
  return x > T(0) ? x : w * x;
}
template <typename T>
FF_HD T gx(T x, T w, T g) {
  return x > T(0) ? g : w * g;
}
// The element's term of gw: x * g where x <= 0 or NaN, else 0.
template <typename T>
FF_HD T gw_term(T x, T g) {
  return x > T(0) ? T(0) : x * g;
}
}  // namespace ff::prelu_math

#define FF_PRELU_DECLS(T)                                                                \
  /* x [n, c, inner], w [c] -> y [n, c, inner] (y may alias x) */                        \
  void prelu_forward(int64_t n, int64_t c, int64_t inner, const T* x, const T* w, T* y); \
  /* gy [n, c, inner] -> gx [n, c, inner], gw [c] (either may be null) */                \
  void prelu_backward(int64_t n, int64_t c, int64_t inner, const T* x, const T* w, const T* gy, T* gx, T* gw);

namespace ff::cpu {
FF_PRELU_DECLS(float)
FF_PRELU_DECLS(double)
}  // namespace ff::cpu

namespace ff::cuda {
FF_PRELU_DECLS(float)
}  // namespace ff::cuda
