// engine/random.cpp — Rng and the initialisers.
#include "engine/random.h"

#include <cmath>
#include <vector>

#include "kernels/philox.h"

namespace ff {

uint64_t Rng::reserve(uint64_t n) {
  uint64_t first = offset_;
  offset_ += (n + 3) / 4 * 4;  // keep streams block-aligned
  return first;
}
uint32_t Rng::next_u32() { return philox_u32(seed_, offset_++); }
double Rng::uniform() {
  uint64_t hi = next_u32(), lo = next_u32();
  return static_cast<double>(((hi << 32) | lo) >> 11) * (1.0 / 9007199254740992.0);  // 53 bits
}
double Rng::uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
double Rng::normal() {
  double u1 = uniform(), u2 = uniform();
  if (u1 < 1e-300) u1 = 1e-300;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}
int64_t Rng::randint(int64_t n) {
  FF_CHECK(n > 0, "Rng::randint: n must be positive, got ", n);
  return static_cast<int64_t>(uniform() * static_cast<double>(n)) % n;
}

namespace {
template <typename F>
void fill_host(Tensor& t, F draw) {
  FF_CHECK(is_floating(t.dtype()), "random fill: float tensor expected, got ", t.str());
  Tensor host = Tensor::empty(t.shape(), t.dtype());
  int64_t n = t.numel();
  if (t.dtype() == DType::F32) {
    float* p = host.data<float>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(draw());
  } else {
    double* p = host.data<double>();
    for (int64_t i = 0; i < n; ++i) p[i] = draw();
  }
  t.copy_from(host);
}
}  // namespace

void uniform_(Tensor& t, double lo, double hi, Rng& rng) {
  fill_host(t, [&] { return rng.uniform(lo, hi); });
}
void normal_(Tensor& t, double mean, double std, Rng& rng) {
  fill_host(t, [&] { return mean + std * rng.normal(); });
}

int64_t fan_in(const Tensor& w) {
  FF_CHECK(w.dim() >= 2, "fan_in: weight needs 2+ dims, got ", w.str());
  int64_t f = w.size(1);
  for (int64_t d = 2; d < w.dim(); ++d) f *= w.size(d);
  return f;
}
int64_t fan_out(const Tensor& w) {
  FF_CHECK(w.dim() >= 2, "fan_out: weight needs 2+ dims, got ", w.str());
  int64_t f = w.size(0);
  for (int64_t d = 2; d < w.dim(); ++d) f *= w.size(d);
  return f;
}
void kaiming_uniform_(Tensor& w, double a, Rng& rng) {
  double gain = std::sqrt(2.0 / (1.0 + a * a));
  double bound = gain * std::sqrt(3.0 / static_cast<double>(fan_in(w)));
  uniform_(w, -bound, bound, rng);
}
void kaiming_normal_fan_out_(Tensor& w, Rng& rng) {
  normal_(w, 0.0, std::sqrt(2.0 / static_cast<double>(fan_out(w))), rng);
}
void xavier_uniform_(Tensor& w, Rng& rng) {
  double bound = std::sqrt(6.0 / static_cast<double>(fan_in(w) + fan_out(w)));
  uniform_(w, -bound, bound, rng);
}

}  // namespace ff
