// kernels/warp_cpu.cpp — CPU reference of the batched affine warp (kernels/warp.h), OpenMP over
// images and output rows. The per-pixel arithmetic is kernels/warp.h's warp_pixel, shared with CUDA.
#include "kernels/warp.h"

namespace ff::cpu {

namespace {
template <typename T>
void warp_impl(const T* src, const float* matrices, float* inverse, T* dst, const WarpShape& s, float border_value) {
  for (int64_t b = 0; b < s.batch; ++b) invert_affine_2x3(matrices + 6 * b, inverse + 6 * b);  // once per image
  const int64_t rows = s.batch * s.out_h;
#pragma omp parallel for schedule(static) if (rows * s.out_w * s.channels > 16384)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t b = r / s.out_h, y = r % s.out_h;
    for (int64_t x = 0; x < s.out_w; ++x) warp_pixel(src, dst, inverse + 6 * b, s, b, y, x, border_value);
  }
}
}  // namespace

#define FF_WARP_CPU_DEFS(T)                                                                         \
  void warp_affine(const T* src, const float* matrices, float* inverse, T* dst, const WarpShape& s, \
                   float border_value) {                                                            \
    warp_impl(src, matrices, inverse, dst, s, border_value);                                        \
  }

FF_WARP_CPU_DEFS(uint8_t)
FF_WARP_CPU_DEFS(float)
FF_WARP_CPU_DEFS(double)

}  // namespace ff::cpu
