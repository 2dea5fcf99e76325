// kernels/upsample_cpu.cpp — CPU reference for kernels/upsample.h. The taps of every output row
// and column are computed once; planes run in parallel (each plane is independent, so the
// backward's scatter needs no atomics).
#include <vector>

#include "kernels/upsample.h"

namespace ff::cpu {

namespace {

template <typename T>
std::vector<LinearTap<T>> taps(int64_t in, int64_t out, bool align_corners) {
  T scale = upsample_scale<T>(in, out, align_corners);
  std::vector<LinearTap<T>> t(out);
  for (int64_t d = 0; d < out; ++d) t[d] = upsample_tap<T>(d, in, scale, align_corners);
  return t;
}

template <typename T>
void forward_impl(const T* x, T* y, int64_t NC, int64_t H, int64_t W, int64_t OH, int64_t OW,
                  bool align_corners) {
  const auto th = taps<T>(H, OH, align_corners), tw = taps<T>(W, OW, align_corners);
#pragma omp parallel for if (NC * OH * OW > 32768)
  for (int64_t p = 0; p < NC; ++p) {
    const T* xp = x + p * H * W;
    T* yp = y + p * OH * OW;
    for (int64_t oh = 0; oh < OH; ++oh) {
      const LinearTap<T>& a = th[oh];
      const T* r0 = xp + a.i0 * W;
      const T* r1 = xp + a.i1 * W;
      for (int64_t ow = 0; ow < OW; ++ow) {
        const LinearTap<T>& b = tw[ow];
        yp[oh * OW + ow] = a.w0 * (b.w0 * r0[b.i0] + b.w1 * r0[b.i1]) + a.w1 * (b.w0 * r1[b.i0] + b.w1 * r1[b.i1]);
      }
    }
  }
}

template <typename T>
void backward_impl(const T* gy, T* gx, int64_t NC, int64_t H, int64_t W, int64_t OH, int64_t OW,
                   bool align_corners) {
  const auto th = taps<T>(H, OH, align_corners), tw = taps<T>(W, OW, align_corners);
#pragma omp parallel for if (NC * OH * OW > 32768)
  for (int64_t p = 0; p < NC; ++p) {
    T* gp = gx + p * H * W;
    const T* g = gy + p * OH * OW;
    for (int64_t i = 0; i < H * W; ++i) gp[i] = T(0);
    for (int64_t oh = 0; oh < OH; ++oh) {
      const LinearTap<T>& a = th[oh];
      T* r0 = gp + a.i0 * W;
      T* r1 = gp + a.i1 * W;
      for (int64_t ow = 0; ow < OW; ++ow) {
        const LinearTap<T>& b = tw[ow];
        T v = g[oh * OW + ow];
        r0[b.i0] += a.w0 * b.w0 * v;
        r0[b.i1] += a.w0 * b.w1 * v;
        r1[b.i0] += a.w1 * b.w0 * v;
        r1[b.i1] += a.w1 * b.w1 * v;
      }
    }
  }
}

}  // namespace

#define FF_UPSAMPLE_CPU_DEFS(T)                                                                   \
  void upsample_bilinear_forward(const T* x, T* y, int64_t NC, int64_t H, int64_t W, int64_t OH,   \
                                 int64_t OW, bool align_corners) {                                \
    forward_impl(x, y, NC, H, W, OH, OW, align_corners);                                          \
  }                                                                                               \
  void upsample_bilinear_backward(const T* gy, T* gx, int64_t NC, int64_t H, int64_t W,           \
                                  int64_t OH, int64_t OW, bool align_corners) {                   \
    backward_impl(gy, gx, NC, H, W, OH, OW, align_corners);                                       \
  }

FF_UPSAMPLE_CPU_DEFS(float)
FF_UPSAMPLE_CPU_DEFS(double)

}  // namespace ff::cpu
