// kernels/detect_loss_cpu.cpp — CPU reference for kernels/detect_loss.h. Sums and counts are
// accumulated in double (the CUDA twin's grid reductions too).
#include "kernels/detect_loss.h"

namespace ff::cpu {

namespace {
constexpr int64_t kParallel = 32768;  // elements below which one thread does it all

template <typename T>
void sigmoid_fwd_impl(const T* x, T* y, int64_t n) {
#pragma omp parallel for if (n > kParallel)
  for (int64_t i = 0; i < n; ++i) y[i] = detect::sigmoid(x[i]);
}
template <typename T>
void sigmoid_bwd_impl(const T* gy, const T* y, T* gx, int64_t n) {
#pragma omp parallel for if (n > kParallel)
  for (int64_t i = 0; i < n; ++i) gx[i] = gy[i] * y[i] * (T(1) - y[i]);
}

template <typename T>
void focal_fwd_impl(const T* x, const T* t, T* denom, T* out, int64_t n, T alpha, T beta) {
  double npos = 0.0, s = 0.0;
#pragma omp parallel for reduction(+ : npos, s) if (n > kParallel)
  for (int64_t i = 0; i < n; ++i) {
    if (t[i] == T(1)) npos += 1.0;
    s += static_cast<double>(detect::focal_term(x[i], t[i], alpha, beta));
  }
  const T d = detect::at_least_one(static_cast<T>(npos));
  denom[0] = d;
  out[0] = static_cast<T>(s / static_cast<double>(d));
}
template <typename T>
void focal_bwd_impl(const T* x, const T* t, const T* denom, const T* g, T* gx, int64_t n, T alpha, T beta) {
  const T f = g[0] / denom[0];
#pragma omp parallel for if (n > kParallel)
  for (int64_t i = 0; i < n; ++i) gx[i] = f * detect::focal_grad(x[i], t[i], alpha, beta);
}

template <typename T>
void masked_l1_fwd_impl(const T* p, const T* t, const T* m, T* denom, T* out, int64_t n, int64_t c, int64_t hw) {
  double msum = 0.0;
#pragma omp parallel for reduction(+ : msum) if (n * hw > kParallel)
  for (int64_t i = 0; i < n * hw; ++i) msum += static_cast<double>(m[i]);
  const T d = detect::at_least_one(static_cast<T>(static_cast<double>(c) * msum));
  double s = 0.0;
  const int64_t total = n * c * hw;
#pragma omp parallel for reduction(+ : s) if (total > kParallel)
  for (int64_t i = 0; i < total; ++i) {
    const int64_t b = i / (c * hw), j = i % hw;
    s += static_cast<double>(detect::masked_l1_term(p[i], t[i], m[b * hw + j]));
  }
  denom[0] = d;
  out[0] = static_cast<T>(s / static_cast<double>(d));
}
template <typename T>
void masked_l1_bwd_impl(const T* p, const T* t, const T* m, const T* denom, const T* g, T* gp, int64_t n, int64_t c,
                        int64_t hw) {
  const T f = g[0] / denom[0];
  const int64_t total = n * c * hw;
#pragma omp parallel for if (total > kParallel)
  for (int64_t i = 0; i < total; ++i) {
    const int64_t b = i / (c * hw), j = i % hw;
    gp[i] = f * detect::masked_l1_grad(p[i], t[i], m[b * hw + j]);
  }
}
}  // namespace

#define FF_DETECT_CPU_DEFS(T)                                                                          \
  void sigmoid_forward(const T* x, T* y, int64_t n) { sigmoid_fwd_impl(x, y, n); }                     \
  void sigmoid_backward(const T* gy, const T* y, T* gx, int64_t n) { sigmoid_bwd_impl(gy, y, gx, n); } \
  void focal_loss_forward(const T* x, const T* t, T* denom, T* out, int64_t n, T alpha, T beta) {       \
    focal_fwd_impl(x, t, denom, out, n, alpha, beta);                                                  \
  }                                                                                                    \
  void focal_loss_backward(const T* x, const T* t, const T* denom, const T* g, T* gx, int64_t n, T alpha, \
                           T beta) {                                                                   \
    focal_bwd_impl(x, t, denom, g, gx, n, alpha, beta);                                                \
  }                                                                                                    \
  void masked_l1_forward(const T* p, const T* t, const T* m, T* denom, T* out, int64_t n, int64_t c,    \
                         int64_t hw) {                                                                 \
    masked_l1_fwd_impl(p, t, m, denom, out, n, c, hw);                                                 \
  }                                                                                                    \
  void masked_l1_backward(const T* p, const T* t, const T* m, const T* denom, const T* g, T* gp, int64_t n, \
                          int64_t c, int64_t hw) {                                                     \
    masked_l1_bwd_impl(p, t, m, denom, g, gp, n, c, hw);                                               \
  }

FF_DETECT_CPU_DEFS(float)
FF_DETECT_CPU_DEFS(double)

}  // namespace ff::cpu
