// kernels/arcface_cpu.cpp — CPU reference for kernels/arcface.h.
#include <cmath>
#include <vector>

#include "kernels/arcface.h"

namespace ff::cpu {

namespace {
template <typename T>
void arcface_impl(const T* cos, const int64_t* labels, T* row_loss, T* dcos, int64_t n, int64_t c, T s, T m) {
  const double pi = 3.14159265358979323846;
  ArcMargin<T> am{T(std::cos(double(m))), T(std::sin(double(m))), T(std::cos(pi - double(m))),
                  T(std::sin(pi - double(m)) * double(m))};
  const T inv_n = T(1) / T(n);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const T* row = cos + i * c;
    T* g = dcos + i * c;
    const int64_t y = labels[i];
    T phi, dphi;
    am.apply(row[y], &phi, &dphi);
    // Pass 1: max and sum of exp of the scaled logits, the target's replaced by s * phi. The max
    // and log(sum) stay apart: log p_target = (s phi - max) - log(sum), where s phi - max is exact
    // (0 when the target is the max). Folding them into lse = max + log(sum) in T first rounds
    // lse to T's precision at |s phi| (~4e-6 at s = 64 in float32), which swamped 1 - p_target
    // for confident rows (tests/test_arcface.cpp ConfidentRowsKeepTheirGradient).
    const T tgt = s * phi;
    T mx = tgt;
    for (int64_t j = 0; j < c; ++j)
      if (j != y && s * row[j] > mx) mx = s * row[j];
    double sum = 0;
    for (int64_t j = 0; j < c; ++j) sum += std::exp(double((j == y ? tgt : s * row[j]) - mx));
    const double logsum = std::log(sum);
    const double log_p = double(tgt - mx) - logsum;
    row_loss[i] = T(-log_p);
    // Pass 2: d mean-loss / d cos = s * (softmax - onehot) / N, times d phi / d c on the target;
    // p - 1 as expm1(log p), exact to T's rounding however close p is to 1.
    for (int64_t j = 0; j < c; ++j) g[j] = s * T(std::exp(double(s * row[j] - mx) - logsum)) * inv_n;
    g[y] = s * T(std::expm1(log_p)) * dphi * inv_n;
  }
}
}  // namespace

#define FF_ARCFACE_CPU_DEFS(T)                                                                    \
  void gather_label(const T* x, const int64_t* labels, T* y, int64_t n, int64_t k) {             \
    for (int64_t i = 0; i < n; ++i) y[i] = x[i * k + labels[i]];                                 \
  }                                                                                               \
  void scatter_label_add(T* x, const int64_t* labels, const T* v, int64_t n, int64_t k) {        \
    for (int64_t i = 0; i < n; ++i) x[i * k + labels[i]] += v[i];                                \
  }                                                                                               \
  void arcface_forward(const T* cos, const int64_t* labels, T* row_loss, T* dcos, int64_t n, int64_t c, T s, \
                       T m) {                                                                     \
    arcface_impl(cos, labels, row_loss, dcos, n, c, s, m);                                       \
  }

FF_ARCFACE_CPU_DEFS(float)
FF_ARCFACE_CPU_DEFS(double)

}  // namespace ff::cpu
