// kernels/warp.h — the batched affine warp (bilinear sampling, border replicate or constant): the
// cpu:: reference (OpenMP) and its cuda:: twin with the same signatures over raw pointers.
//
// The per-pixel arithmetic (invert_affine_2x3, warp_pixel) is written once below as host+device
// inline functions and called by both backends, so the two cannot drift apart; the CUDA-vs-CPU test
// then checks the CUDA launch and indexing, and the OpenCV goldens check the arithmetic.
//
// Sampling convention (OpenCV's cv2.warpAffine with INTER_LINEAR): M maps SOURCE pixel coordinates
// to DESTINATION coordinates; integer coordinates are pixel centres. Destination pixel (x, y)
// takes the bilinear interpolation of the source at (sx, sy) = M^-1 (x, y): with x0 = floor(sx),
// y0 = floor(sy), fx = sx - x0, fy = sy - y0,
//   value = (1-fy) ((1-fx) S[y0][x0] + fx S[y0][x0+1]) + fy ((1-fx) S[y0+1][x0] + fx S[y0+1][x0+1]).
// Each of the four taps that falls outside the source is replaced by the border: the nearest edge
// pixel (Replicate) or border_value (Constant). uint8 results round to nearest and saturate to
// [0, 255]. Unlike OpenCV, which snaps (sx, sy) to a 1/32-pixel grid and uses 15-bit fixed-point
// weights, we interpolate in floating point; see tests/test_warp.cpp for what that means when
// comparing with OpenCV.
#pragma once
#include <cmath>
#include <cstdint>

#include "engine/image_types.h"  // ImageLayout, BorderMode
#include "kernels/hd.h"

namespace ff {

// The sizes of one warp call: `batch` images of in_h x in_w pixels with `channels` channels, each
// warped to out_h x out_w pixels (same layout and channel count).
struct WarpShape {
  int64_t batch = 0, channels = 0;
  int64_t in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  ImageLayout layout = ImageLayout::HWC;
  BorderMode border = BorderMode::Replicate;
};

// inverse = M^-1 for one 2x3 matrix (row-major, 6 floats), in double precision; a singular M gives
// an all-zero inverse (what cv2.invertAffineTransform does), so every destination pixel samples
// source pixel (0, 0). Same formula as OpenCV's invertAffineTransform.
FF_HD void invert_affine_2x3(const float* m, float* inverse) {
  double d = static_cast<double>(m[0]) * m[4] - static_cast<double>(m[1]) * m[3];
  d = d != 0.0 ? 1.0 / d : 0.0;
  double a11 = m[4] * d, a22 = m[0] * d, a12 = -m[1] * d, a21 = -m[3] * d;
  double b1 = -a11 * m[2] - a12 * m[5], b2 = -a21 * m[2] - a22 * m[5];
  inverse[0] = static_cast<float>(a11), inverse[1] = static_cast<float>(a12), inverse[2] = static_cast<float>(b1);
  inverse[3] = static_cast<float>(a21), inverse[4] = static_cast<float>(a22), inverse[5] = static_cast<float>(b2);
}

namespace detail {
// Interpolation arithmetic: float for uint8 and float images, double for double images.
template <typename T> struct WarpAcc { using type = float; };
template <> struct WarpAcc<double> { using type = double; };

template <typename T, typename A>
FF_HD T warp_store(A v) { return static_cast<T>(v); }
template <>
FF_HD uint8_t warp_store<uint8_t, float>(float v) {  // round to nearest, saturate; NaN -> 0
  // Saturate first, then truncate v + 0.5 >= 0.5: the same as floor(v + 0.5) on [0, 255], without
  // a floorf (a software routine on x86-64 without SSE4.1: ~20% of a uint8 warp).
  v = v > 0.f ? v : 0.f;
  v = v < 255.f ? v : 255.f;
  return static_cast<uint8_t>(v + 0.5f);
}
}  // namespace detail

// Computes destination pixel (x, y) of image b, all channels (the convention is in the file
// header). inverse: that image's M^-1 (6 floats). Layout strides: HWC has channels adjacent,
// CHW has one plane per channel.
template <typename T>
FF_HD void warp_pixel(const T* src, T* dst, const float* inverse, const WarpShape& s, int64_t b, int64_t y,
                      int64_t x, float border_value) {
  using A = typename detail::WarpAcc<T>::type;
  const bool hwc = s.layout == ImageLayout::HWC;
  const int64_t C = s.channels;
  const int64_t in_row = hwc ? s.in_w * C : s.in_w, in_col = hwc ? C : 1, in_ch = hwc ? 1 : s.in_h * s.in_w;
  const int64_t out_row = hwc ? s.out_w * C : s.out_w, out_col = hwc ? C : 1, out_ch = hwc ? 1 : s.out_h * s.out_w;
  const T* img = src + b * s.in_h * s.in_w * C;
  T* out = dst + b * s.out_h * s.out_w * C + y * out_row + x * out_col;

  // The source position. Clamping to [-1, W] x [-1, H] changes no result (every tap beyond it
  // reads the same border) and keeps the integer conversions below defined for far-off or NaN
  // positions (fmax/fmin return the non-NaN operand).
  float sx = inverse[0] * static_cast<float>(x) + inverse[1] * static_cast<float>(y) + inverse[2];
  float sy = inverse[3] * static_cast<float>(x) + inverse[4] * static_cast<float>(y) + inverse[5];
  sx = fminf(fmaxf(sx, -1.f), static_cast<float>(s.in_w));
  sy = fminf(fmaxf(sy, -1.f), static_cast<float>(s.in_h));
  const float fx0 = floorf(sx), fy0 = floorf(sy);
  const int64_t x0 = static_cast<int64_t>(fx0), y0 = static_cast<int64_t>(fy0);
  const A wx1 = static_cast<A>(sx - fx0), wy1 = static_cast<A>(sy - fy0);
  const A wx0 = A(1) - wx1, wy0 = A(1) - wy1;

  // The four taps: inside flags, and (for Replicate) coordinates clamped to the image.
  const bool replicate = s.border == BorderMode::Replicate;
  int64_t xs[2] = {x0, x0 + 1}, ys[2] = {y0, y0 + 1};
  bool xin[2], yin[2];
  for (int i = 0; i < 2; ++i) {
    xin[i] = xs[i] >= 0 && xs[i] < s.in_w;
    yin[i] = ys[i] >= 0 && ys[i] < s.in_h;
    if (replicate) {
      xs[i] = xs[i] < 0 ? 0 : (xs[i] >= s.in_w ? s.in_w - 1 : xs[i]);
      ys[i] = ys[i] < 0 ? 0 : (ys[i] >= s.in_h ? s.in_h - 1 : ys[i]);
      xin[i] = yin[i] = true;
    }
  }
  const A border = static_cast<A>(border_value);
  for (int64_t c = 0; c < C; ++c) {
    const T* plane = img + c * in_ch;
    A tap[2][2];
    for (int j = 0; j < 2; ++j)
      for (int i = 0; i < 2; ++i)
        tap[j][i] = xin[i] && yin[j] ? static_cast<A>(plane[ys[j] * in_row + xs[i] * in_col]) : border;
    A v = wy0 * (wx0 * tap[0][0] + wx1 * tap[0][1]) + wy1 * (wx0 * tap[1][0] + wx1 * tap[1][1]);
    out[c * out_ch] = detail::warp_store<T, A>(v);
  }
}

}  // namespace ff

// matrices: [batch, 2, 3] source -> destination. inverse: [batch, 2, 3] scratch, written here.
// src: the batch of input images, dst: the batch of output images, both laid out as s.layout says.
#define FF_WARP_DECLS(T)                                                                          \
  void warp_affine(const T* src, const float* matrices, float* inverse, T* dst, const WarpShape& s, \
                   float border_value);

namespace ff::cpu {
FF_WARP_DECLS(uint8_t)
FF_WARP_DECLS(float)
FF_WARP_DECLS(double)
}  // namespace ff::cpu

namespace ff::cuda {
FF_WARP_DECLS(uint8_t)
FF_WARP_DECLS(float)
}  // namespace ff::cuda
