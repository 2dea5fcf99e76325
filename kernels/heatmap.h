// kernels/heatmap.h — Gaussian landmark heatmaps: rendering targets and decoding predictions back
// to points. The cpu:: reference and its cuda:: twin with the same signatures over raw pointers
// (CPU for float and double, CUDA for float). The per-map arithmetic (gaussian, heatmap_better,
// heatmap_refine) is written once below as host+device inline functions used by both backends.
//
// Coordinates are heatmap pixels with integer coordinates at pixel centres (the same convention
// as kernels/warp.h): heatmap pixel (column i, row j) holds the value at (x, y) = (i, j).
#pragma once
#include <cmath>
#include <cstdint>

#include "engine/image_types.h"  // HeatmapDecode
#include "kernels/hd.h"

namespace ff {

// Value at pixel (x, y) of a Gaussian centred on (cx, cy): exp(-((x-cx)^2 + (y-cy)^2) / (2 sigma^2)),
// with inv_two_sigma2 = 1 / (2 sigma^2). Peak value 1; no truncation.
template <typename T>
FF_HD T gaussian(T x, T y, T cx, T cy, T inv_two_sigma2) {
  using std::exp;  // the float overload for float (also in CUDA device code)
  T dx = x - cx, dy = y - cy;
  return exp(-(dx * dx + dy * dy) * inv_two_sigma2);
}

// Argmax order: is value v at index i a better peak than the best so far (bv at bi; bi < 0 means
// none yet)? NaN never wins; equal values go to the smaller index, so the CPU scan and the GPU
// reduction pick the same pixel.
template <typename T>
FF_HD bool heatmap_better(T v, int64_t i, T bv, int64_t bi) {
  if (!(v == v)) return false;
  return bi < 0 || v > bv || (v == bv && i < bi);
}

// The decoded point of one h x w map whose argmax is at flat index `peak` (0 when the map is all
// NaN), written to xy[0], xy[1].
template <typename T>
FF_HD void heatmap_refine(const T* map, int64_t h, int64_t w, int64_t peak, HeatmapDecode method, int64_t radius,
                          T* xy) {
  const int64_t px = peak % w, py = peak / w;
  double x = static_cast<double>(px), y = static_cast<double>(py);
  if (method == HeatmapDecode::QuarterPixel) {
    // Each axis independently, where the peak has a neighbour on both sides along that axis (the
    // hourglass code requires both axes to be interior before refining either).
    if (px > 0 && px < w - 1) {
      T d = map[py * w + px + 1] - map[py * w + px - 1];
      x += d > T(0) ? 0.25 : (d < T(0) ? -0.25 : 0.0);
    }
    if (py > 0 && py < h - 1) {
      T d = map[(py + 1) * w + px] - map[(py - 1) * w + px];
      y += d > T(0) ? 0.25 : (d < T(0) ? -0.25 : 0.0);
    }
  } else {
    const int64_t x0 = px - radius < 0 ? 0 : px - radius, x1 = px + radius > w - 1 ? w - 1 : px + radius;
    const int64_t y0 = py - radius < 0 ? 0 : py - radius, y1 = py + radius > h - 1 ? h - 1 : py + radius;
    double sw = 0.0, sx = 0.0, sy = 0.0;
    for (int64_t j = y0; j <= y1; ++j) {
      for (int64_t i = x0; i <= x1; ++i) {
        double v = static_cast<double>(map[j * w + i]);
        if (!(v > 0.0)) continue;  // weights clipped at 0 (NaN skipped too)
        sw += v, sx += v * static_cast<double>(i), sy += v * static_cast<double>(j);
      }
    }
    if (sw > 0.0) x = sx / sw, y = sy / sw;  // else: nothing positive, keep the argmax
  }
  xy[0] = static_cast<T>(x);
  xy[1] = static_cast<T>(y);
}

}  // namespace ff

// points: [n, 2] (x, y) per map. heatmaps: [n, h, w]. n = B * K maps.
#define FF_HEATMAP_DECLS(T)                                                                           \
  /* heatmaps[m] = the Gaussian of standard deviation sigma (heatmap pixels) centred on points[m] */  \
  void render_gaussian_heatmaps(const T* points, T* heatmaps, int64_t n, int64_t h, int64_t w, T sigma); \
  /* points[m] = the peak of heatmaps[m], located by `method` (radius: SoftArgmax's window) */         \
  void decode_heatmaps(const T* heatmaps, T* points, int64_t n, int64_t h, int64_t w, HeatmapDecode method, \
                       int64_t radius);

namespace ff::cpu {
FF_HEATMAP_DECLS(float)
FF_HEATMAP_DECLS(double)
}  // namespace ff::cpu

namespace ff::cuda {
FF_HEATMAP_DECLS(float)
}  // namespace ff::cuda
