// engine/random.h — one seeded counter-based generator (Philox4x32-10) for everything random.
//
// Initialisation, dropout, shuffling and augmentation all draw from an Rng, so a run repeats
// exactly for a given seed. Philox is counter-based: value i of a stream is philox(seed, offset+i)
// and needs no sequential state, so the CPU and the GPU produce the same dropout mask, and a
// kernel can draw in parallel. State = (seed, offset): two integers to checkpoint.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <utility>

#include "engine/tensor.h"

namespace ff {

// SplitMix64's finaliser: a well-mixed 64-bit hash of x.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A seed derived from `seed` and some words (an epoch, an index, a tag naming the stream):
// splitmix64 chained over them, h = splitmix64(seed), then h = splitmix64(h ^ w) for each word,
// so runs that differ in any word draw unrelated streams.
inline uint64_t derive_seed(uint64_t seed, std::initializer_list<uint64_t> words) {
  uint64_t h = splitmix64(seed);
  for (uint64_t w : words) h = splitmix64(h ^ w);
  return h;
}

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) { seed_ = seed; offset_ = offset; }

  // Reserves n consecutive 32-bit draws for a kernel and returns the first counter; the kernel
  // computes draw i as philox_uniform(seed(), first + i) (kernels/philox.h).
  uint64_t reserve(uint64_t n);

  uint32_t next_u32();
  double uniform();                      // [0, 1)
  double uniform(double lo, double hi);  // [lo, hi)
  double normal();                       // standard normal (Box-Muller)
  int64_t randint(int64_t n);            // [0, n)

 private:
  uint64_t seed_ = 0;
  uint64_t offset_ = 0;  // counts 32-bit draws
};

// Fill a float tensor (any device) from rng; values are drawn on the host, so they do not depend
// on the device.
void uniform_(Tensor& t, double lo, double hi, Rng& rng);
void normal_(Tensor& t, double mean, double std, Rng& rng);

// PyTorch's initialisations. fan_in = size(1) * (product of sizes from dim 2): for a conv weight
// [Cout, Cin, k, k] it is Cin*k*k, for a linear weight [out, in] it is in.
int64_t fan_in(const Tensor& w);
int64_t fan_out(const Tensor& w);
// kaiming_uniform_(w, a): bound = gain * sqrt(3 / fan_in), gain = sqrt(2 / (1 + a^2)); PyTorch's
// default for Conv2d and Linear weights uses a = sqrt(5).
void kaiming_uniform_(Tensor& w, double a, Rng& rng);
// kaiming_normal_(w, fan_out, relu): std = sqrt(2 / fan_out) — torchvision's ResNet conv init.
void kaiming_normal_fan_out_(Tensor& w, Rng& rng);
void xavier_uniform_(Tensor& w, Rng& rng);

}  // namespace ff
