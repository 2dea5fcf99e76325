// kernels/loss_cpu.cpp — CPU reference for kernels/loss.h. Sums are accumulated in double.
#include <cmath>
#include <limits>

#include "kernels/loss.h"

namespace ff::cpu {

namespace {
template <typename T>
void mse_fwd_impl(const T* x, const T* t, T* out, int64_t n) {
  double s = 0.0;
#pragma omp parallel for reduction(+ : s) if (n > 32768)
  for (int64_t i = 0; i < n; ++i) {
    double d = static_cast<double>(x[i]) - static_cast<double>(t[i]);
    s += d * d;
  }
  out[0] = static_cast<T>(s / static_cast<double>(n));
}

template <typename T>
void mse_bwd_impl(const T* x, const T* t, const T* g, T* gx, T* gt, int64_t n) {
  const T f = g[0] * T(2) / static_cast<T>(n);
#pragma omp parallel for if (n > 32768)
  for (int64_t i = 0; i < n; ++i) {
    T v = f * (x[i] - t[i]);
    if (gx) gx[i] = v;
    if (gt) gt[i] = -v;
  }
}

template <typename T>
void ce_fwd_impl(const T* logits, const int64_t* labels, T* stats, T* out, int64_t rows, int64_t k) {
  double total = 0.0;
#pragma omp parallel for reduction(+ : total) if (rows * k > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    const T* l = logits + r * k;
    // Subtract the row max so exp never overflows (spiked or wide-range logits). The max is NaN
    // when any logit is NaN (std::max_element would return NaN only for a NaN first element), as
    // the CUDA twin's: the stats then agree, not only the NaN loss they give.
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t j = 0; j < k; ++j)
      if (l[j] > m || l[j] != l[j]) m = l[j];
    double s = 0.0;
    for (int64_t j = 0; j < k; ++j) s += std::exp(static_cast<double>(l[j] - m));
    double logsum = std::log(s);
    stats[2 * r] = m;
    stats[2 * r + 1] = static_cast<T>(logsum);
    total += static_cast<double>(m - l[labels[r]]) + logsum;
  }
  out[0] = static_cast<T>(total / static_cast<double>(rows));
}

template <typename T>
void ce_bwd_impl(const T* logits, const int64_t* labels, const T* stats, const T* g, T* gl, int64_t rows,
                 int64_t k) {
  const T f = g[0] / static_cast<T>(rows);
#pragma omp parallel for if (rows * k > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    const T* l = logits + r * k;
    const T m = stats[2 * r], logsum = stats[2 * r + 1];
    T* o = gl + r * k;
    for (int64_t j = 0; j < k; ++j) o[j] = f * std::exp((l[j] - m) - logsum);
    o[labels[r]] -= f;
  }
}
}  // namespace

#define FF_LOSS_CPU_DEFS(T)                                                                       \
  void mse_forward(const T* x, const T* t, T* out, int64_t n) { mse_fwd_impl(x, t, out, n); }     \
  void mse_backward(const T* x, const T* t, const T* g, T* gx, T* gt, int64_t n) {                \
    mse_bwd_impl(x, t, g, gx, gt, n);                                                             \
  }                                                                                               \
  void cross_entropy_forward(const T* logits, const int64_t* labels, T* stats, T* out, int64_t rows, \
                             int64_t k) {                                                         \
    ce_fwd_impl(logits, labels, stats, out, rows, k);                                               \
  }                                                                                               \
  void cross_entropy_backward(const T* logits, const int64_t* labels, const T* stats, const T* g, \
                              T* glogits, int64_t rows, int64_t k) {                              \
    ce_bwd_impl(logits, labels, stats, g, glogits, rows, k);                                        \
  }

FF_LOSS_CPU_DEFS(float)
FF_LOSS_CPU_DEFS(double)

void count_bad_labels(const int64_t* labels, int64_t n, int64_t k, int64_t* out) {
  out[0] = 0;
  out[1] = -1;
  out[2] = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (labels[i] >= 0 && labels[i] < k) continue;
    if (out[0]++ == 0) {
      out[1] = i;
      out[2] = labels[i];
    }
  }
}

}  // namespace ff::cpu
