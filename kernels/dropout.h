// kernels/dropout.h — inverted dropout with a counter-based mask: the cpu:: reference and its
// cuda:: twin. CPU versions exist for float and double, CUDA versions for float.
//
// Element i is dropped when philox_uniform(seed, first + i) < p (kernels/philox.h, compared in
// float), else scaled by `scale` (= 1 / (1 - p)). The mask is a pure function of (seed, first, i),
// so both backends draw the same mask and the backward recomputes it instead of storing it: the
// backward is this same function applied to the incoming gradient.
//
// Shapes: x, y [n], contiguous, on the function's device. Contract: overwrites y (y may equal x).
#pragma once
#include <cstdint>

#define FF_DROPOUT_DECLS(T) \
  void dropout_apply(const T* x, T* y, int64_t n, float p, T scale, uint64_t seed, uint64_t first);

namespace ff::cpu {
FF_DROPOUT_DECLS(float)
FF_DROPOUT_DECLS(double)
}  // namespace ff::cpu

namespace ff::cuda {
FF_DROPOUT_DECLS(float)
}  // namespace ff::cuda
