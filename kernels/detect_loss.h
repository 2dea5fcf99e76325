// kernels/detect_loss.h — the detector's training ops: sigmoid, CenterNet's penalty-reduced focal
// loss on logits, and the masked L1 loss of the box-size and landmark-offset heads, forward and
// backward. The cpu:: reference and its cuda:: twin have the same signatures over raw pointers;
// CPU versions exist for float and double, CUDA versions for float. Scalars (the loss, its
// denominator, the upstream gradient) live in one-element arrays on the function's device, so
// nothing is read back to the host. The per-element formulas below are written once (FF_HD) for
// both backends, so the two agree on every input, NaN and infinities included.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/hd.h"

namespace ff::detect {

// exp, log1p and pow in the element type (the float overloads on the device: expf and friends).
FF_HD float exp_(float v) { return expf(v); }
FF_HD double exp_(double v) { return ::exp(v); }
FF_HD float log1p_(float v) { return log1pf(v); }
FF_HD double log1p_(double v) { return ::log1p(v); }
FF_HD float pow_(float b, float e) { return powf(b, e); }
FF_HD double pow_(double b, double e) { return ::pow(b, e); }

// 1 / (1 + exp(-x)) without overflow: exp of a non-positive number only. NaN gives NaN.
template <typename T>
FF_HD T sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + exp_(-x));
  const T e = exp_(x);
  return e / (T(1) + e);
}
// log(1 + exp(x)) without overflow; +inf -> +inf, -inf -> 0, NaN -> NaN.
template <typename T>
FF_HD T softplus(T x) {
  return x > T(0) ? x + log1p_(exp_(-x)) : log1p_(exp_(x));
}

// The focal loss's term of one element with logit x and target t, with its sign (>= 0), before the
// division by the positives: with p = sigmoid(x), q = 1 - p = sigmoid(-x),
//   positive (t == 1):  q^alpha * softplus(-x)                   = -(1-p)^alpha log p
//   negative:           (1-t)^beta * p^alpha * softplus(x)       = -(1-t)^beta p^alpha log(1-p)
template <typename T>
FF_HD T focal_term(T x, T t, T alpha, T beta) {
  if (t == T(1)) return pow_(sigmoid(-x), alpha) * softplus(-x);
  return pow_(T(1) - t, beta) * pow_(sigmoid(x), alpha) * softplus(x);
}
// d focal_term / dx:
//   positive: -q^alpha * (alpha p softplus(-x) + q)
//   negative: (1-t)^beta p^alpha (alpha q softplus(x) + p)
template <typename T>
FF_HD T focal_grad(T x, T t, T alpha, T beta) {
  const T p = sigmoid(x), q = sigmoid(-x);
  if (t == T(1)) return -pow_(q, alpha) * (alpha * p * softplus(-x) + q);
  return pow_(T(1) - t, beta) * pow_(p, alpha) * (alpha * q * softplus(x) + p);
}
// max(1, v) that keeps NaN (a NaN denominator makes the loss NaN, never 1).
template <typename T>
FF_HD T at_least_one(T v) {
  return v < T(1) ? T(1) : v;
}
// The masked L1 term of one element: m * |p - t|, and 0 where m == 0 whatever p and t are (a NaN
// or infinite target in a cell nobody looks at is skipped, not multiplied by 0).
template <typename T>
FF_HD T masked_l1_term(T p, T t, T m) {
  if (m == T(0)) return T(0);
  const T d = p - t;
  return m * (d < T(0) ? -d : d);
}
// d term / dp = m * sign(p - t) (0 where p == t, as torch's L1; NaN where p - t is NaN), and 0
// where m == 0.
template <typename T>
FF_HD T masked_l1_grad(T p, T t, T m) {
  if (m == T(0)) return T(0);
  const T d = p - t;
  if (d != d) return d;
  return d > T(0) ? m : (d < T(0) ? -m : T(0));
}

}  // namespace ff::detect

#define FF_DETECT_DECLS(T)                                                                          \
  /* y = sigmoid(x) */                                                                             \
  void sigmoid_forward(const T* x, T* y, int64_t n);                                               \
  /* gx = gy * y * (1 - y), y sigmoid's output */                                                  \
  void sigmoid_backward(const T* gy, const T* y, T* gx, int64_t n);                                \
  /* logits x and target t [n]: denom[0] = max(1, number of t == 1), out[0] = sum of focal_term /  \
     denom[0] (denom is kept for the backward) */                                                  \
  void focal_loss_forward(const T* x, const T* t, T* denom, T* out, int64_t n, T alpha, T beta);   \
  /* gx = g[0] / denom[0] * focal_grad; overwrites gx */                                           \
  void focal_loss_backward(const T* x, const T* t, const T* denom, const T* g, T* gx, int64_t n, T alpha, \
                           T beta);                                                                \
  /* pred, target [n, c, hw], mask [n, 1, hw]: denom[0] = max(1, c * sum of mask), out[0] = sum of \
     masked_l1_term / denom[0] */                                                                  \
  void masked_l1_forward(const T* p, const T* t, const T* m, T* denom, T* out, int64_t n, int64_t c, \
                         int64_t hw);                                                              \
  /* gp = g[0] / denom[0] * masked_l1_grad; overwrites gp */                                       \
  void masked_l1_backward(const T* p, const T* t, const T* m, const T* denom, const T* g, T* gp, int64_t n, \
                          int64_t c, int64_t hw);

namespace ff::cpu {
FF_DETECT_DECLS(float)
FF_DETECT_DECLS(double)
}  // namespace ff::cpu

namespace ff::cuda {
FF_DETECT_DECLS(float)
}  // namespace ff::cuda
