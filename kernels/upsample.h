// kernels/upsample.h — bilinear resize of [N, C, H, W] to [N, C, OH, OW] with PyTorch's
// F.interpolate(mode="bilinear", size=...) semantics: the cpu:: reference (OpenMP over planes) and
// its cuda:: twin. CPU versions exist for float and double, CUDA versions for float.
//
// Source coordinate of output index d along an axis of input size `in`, output size `out`:
//   align_corners:  s = d * (in - 1) / (out - 1)       (0 when out == 1)
//   otherwise:      s = max((d + 0.5) * in / out - 0.5, 0)
// i0 = floor(s), i1 = min(i0 + 1, in - 1), weights (1 - (s - i0), s - i0). The arithmetic is done
// in T, as PyTorch does in its accumulate type for float (float) and double (double).
//
// Shapes: x, gx [NC, H, W] (N*C planes); y, gy [NC, OH, OW].
// Contract: forward overwrites y; backward overwrites gx (it zeroes it, then scatters each gy
// element into its four source pixels).
#pragma once
#include <cstdint>

#define FF_UPSAMPLE_DECLS(T)                                                                    \
  void upsample_bilinear_forward(const T* x, T* y, int64_t NC, int64_t H, int64_t W, int64_t OH, \
                                 int64_t OW, bool align_corners);                               \
  void upsample_bilinear_backward(const T* gy, T* gx, int64_t NC, int64_t H, int64_t W,         \
                                  int64_t OH, int64_t OW, bool align_corners);

namespace ff::cpu {
FF_UPSAMPLE_DECLS(float)
FF_UPSAMPLE_DECLS(double)
}  // namespace ff::cpu

namespace ff::cuda {
FF_UPSAMPLE_DECLS(float)
}  // namespace ff::cuda

namespace ff {

// One axis of the bilinear map: output index d reads input indices i0, i1 with weights w0, w1.
// Shared by both backends (plain arithmetic, compiled for host and device).
#if defined(__CUDACC__)
#define FF_UPSAMPLE_HD __host__ __device__ __forceinline__
#else
#define FF_UPSAMPLE_HD inline
#endif
template <typename T>
struct LinearTap {
  int64_t i0, i1;
  T w0, w1;
};
// scale: (in - 1) / (out - 1) (0 when out == 1) with align_corners, in / out without.
template <typename T>
FF_UPSAMPLE_HD T upsample_scale(int64_t in, int64_t out, bool align_corners) {
  if (align_corners) return out > 1 ? static_cast<T>(in - 1) / static_cast<T>(out - 1) : T(0);
  return static_cast<T>(in) / static_cast<T>(out);
}
template <typename T>
FF_UPSAMPLE_HD LinearTap<T> upsample_tap(int64_t d, int64_t in, T scale, bool align_corners) {
  T s = align_corners ? scale * static_cast<T>(d) : scale * (static_cast<T>(d) + T(0.5)) - T(0.5);
  if (s < T(0)) s = T(0);
  int64_t i0 = static_cast<int64_t>(s);  // s >= 0: truncation is floor
  if (i0 > in - 1) i0 = in - 1;
  int64_t i1 = i0 < in - 1 ? i0 + 1 : i0;
  T w1 = s - static_cast<T>(i0);
  return {i0, i1, T(1) - w1, w1};
}

}  // namespace ff
