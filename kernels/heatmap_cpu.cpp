// kernels/heatmap_cpu.cpp — CPU reference of kernels/heatmap.h (OpenMP over maps).
#include "kernels/heatmap.h"

namespace ff::cpu {

namespace {
template <typename T>
void render_impl(const T* points, T* heatmaps, int64_t n, int64_t h, int64_t w, T sigma) {
  const T inv = T(1) / (T(2) * sigma * sigma);
#pragma omp parallel for schedule(static) if (n * h * w > 16384)
  for (int64_t m = 0; m < n; ++m) {
    const T cx = points[2 * m], cy = points[2 * m + 1];
    T* map = heatmaps + m * h * w;
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) map[y * w + x] = gaussian<T>(T(x), T(y), cx, cy, inv);
  }
}

template <typename T>
void decode_impl(const T* heatmaps, T* points, int64_t n, int64_t h, int64_t w, HeatmapDecode method, int64_t radius) {
#pragma omp parallel for schedule(static) if (n * h * w > 16384)
  for (int64_t m = 0; m < n; ++m) {
    const T* map = heatmaps + m * h * w;
    T best = T(0);
    int64_t peak = -1;
    for (int64_t i = 0; i < h * w; ++i)
      if (heatmap_better(map[i], i, best, peak)) best = map[i], peak = i;
    heatmap_refine(map, h, w, peak < 0 ? 0 : peak, method, radius, points + 2 * m);
  }
}
}  // namespace

#define FF_HEATMAP_CPU_DEFS(T)                                                                         \
  void render_gaussian_heatmaps(const T* points, T* heatmaps, int64_t n, int64_t h, int64_t w, T sigma) { \
    render_impl(points, heatmaps, n, h, w, sigma);                                                     \
  }                                                                                                    \
  void decode_heatmaps(const T* heatmaps, T* points, int64_t n, int64_t h, int64_t w, HeatmapDecode method, \
                       int64_t radius) {                                                               \
    decode_impl(heatmaps, points, n, h, w, method, radius);                                            \
  }

FF_HEATMAP_CPU_DEFS(float)
FF_HEATMAP_CPU_DEFS(double)

}  // namespace ff::cpu
