// kernels/warp_cpu.cpp — CPU reference of the batched affine warp (kernels/warp.h), OpenMP over
// images and output rows. The per-pixel arithmetic is kernels/warp.h's warp_pixel, shared with CUDA.
//
// Fast path: most destination pixels of a face crop sample the source well inside it, where all
// four taps exist and the border logic of warp_pixel (clamps, inside flags, per-tap selects) does
// nothing. For those pixels interior_pixel below does the same arithmetic — the same source
// position, floor, weights and the same expression for the value, so the results are identical
// (tests/test_warp.cpp compares every pixel of both paths) — with the tap offsets computed once per
// pixel instead of per channel and tap. Pixels near or outside the edges go through warp_pixel.
#include "kernels/warp.h"

namespace ff::cpu {

namespace {

// Destination pixel (x, y) of image b when its four taps lie inside the source; returns false
// (writing nothing) otherwise.
template <typename T>
inline bool interior_pixel(const T* img, T* out, const float* inv, const WarpShape& s, int64_t y, int64_t x,
                           int64_t in_row, int64_t in_col, int64_t in_ch, int64_t out_ch) {
  using A = typename detail::WarpAcc<T>::type;
  const float sx = inv[0] * static_cast<float>(x) + inv[1] * static_cast<float>(y) + inv[2];
  const float sy = inv[3] * static_cast<float>(x) + inv[4] * static_cast<float>(y) + inv[5];
  // NaN fails both comparisons and takes the general path.
  if (!(sx >= 0.f && sy >= 0.f && sx < static_cast<float>(s.in_w - 1) && sy < static_cast<float>(s.in_h - 1)))
    return false;
  const float fx0 = floorf(sx), fy0 = floorf(sy);
  const int64_t x0 = static_cast<int64_t>(fx0), y0 = static_cast<int64_t>(fy0);
  const A wx1 = static_cast<A>(sx - fx0), wy1 = static_cast<A>(sy - fy0);
  const A wx0 = A(1) - wx1, wy0 = A(1) - wy1;
  const T* p = img + y0 * in_row + x0 * in_col;
  for (int64_t c = 0; c < s.channels; ++c) {
    const T* q = p + c * in_ch;
    const A t00 = static_cast<A>(q[0]), t01 = static_cast<A>(q[in_col]);
    const A t10 = static_cast<A>(q[in_row]), t11 = static_cast<A>(q[in_row + in_col]);
    const A v = wy0 * (wx0 * t00 + wx1 * t01) + wy1 * (wx0 * t10 + wx1 * t11);
    out[c * out_ch] = detail::warp_store<T, A>(v);
  }
  return true;
}

template <typename T>
void warp_impl(const T* src, const float* matrices, float* inverse, T* dst, const WarpShape& s, float border_value) {
  for (int64_t b = 0; b < s.batch; ++b) invert_affine_2x3(matrices + 6 * b, inverse + 6 * b);  // once per image
  const bool hwc = s.layout == ImageLayout::HWC;
  const int64_t C = s.channels;
  const int64_t in_row = hwc ? s.in_w * C : s.in_w, in_col = hwc ? C : 1, in_ch = hwc ? 1 : s.in_h * s.in_w;
  const int64_t out_row = hwc ? s.out_w * C : s.out_w, out_col = hwc ? C : 1, out_ch = hwc ? 1 : s.out_h * s.out_w;
  const int64_t rows = s.batch * s.out_h;
#pragma omp parallel for schedule(static) if (rows * s.out_w * s.channels > 16384)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t b = r / s.out_h, y = r % s.out_h;
    const float* inv = inverse + 6 * b;
    const T* img = src + b * s.in_h * s.in_w * C;
    T* out_img = dst + b * s.out_h * s.out_w * C + y * out_row;
    for (int64_t x = 0; x < s.out_w; ++x)
      if (!interior_pixel(img, out_img + x * out_col, inv, s, y, x, in_row, in_col, in_ch, out_ch))
        warp_pixel(src, dst, inv, s, b, y, x, border_value);
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
