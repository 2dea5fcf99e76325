// kernels/philox.h — Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
// SC'11), usable from host and device code. Draw i of stream `seed` is word (i % 4) of the block
// philox(counter = i / 4, key = seed).
#pragma once
#include <cstdint>

#include "kernels/hd.h"

namespace ff {

FF_HD uint32_t philox_mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

// Returns word `word` (0..3) of the Philox4x32-10 block for a 64-bit counter and 64-bit key.
FF_HD uint32_t philox4x32_10(uint64_t counter, uint64_t key, int word) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32);
  uint32_t c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, hi1;
    uint32_t lo0 = philox_mulhilo(0xD2511F53u, c0, &hi0);
    uint32_t lo1 = philox_mulhilo(0xCD9E8D57u, c2, &hi1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return word == 0 ? c0 : word == 1 ? c1 : word == 2 ? c2 : c3;
}

FF_HD uint32_t philox_u32(uint64_t seed, uint64_t i) { return philox4x32_10(i >> 2, seed, static_cast<int>(i & 3)); }

// Uniform float in [0, 1) with 24 random bits.
FF_HD float philox_uniform(uint64_t seed, uint64_t i) {
  return static_cast<float>(philox_u32(seed, i) >> 8) * (1.0f / 16777216.0f);
}

}  // namespace ff
