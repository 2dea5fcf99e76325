// kernels/warp.cu — CUDA twin of kernels/warp_cpu.cpp: the batched affine warp (float32 and uint8).
#include "kernels/cuda_common.cuh"
#include "kernels/warp.h"

namespace ff::cuda {

namespace {
// One thread per image: inverse[b] = matrices[b]^-1, computed once per image rather than once per
// output pixel.
__global__ void invert_k(const float* matrices, float* inverse, int64_t batch) {
  FF_KERNEL_LOOP(b, batch) invert_affine_2x3(matrices + 6 * b, inverse + 6 * b);
}

// The warp. Convention (cv2.warpAffine, INTER_LINEAR): matrices map SOURCE -> DESTINATION, the
// kernel reads their inverses; integer coordinates are pixel centres; destination pixel (x, y) is
// the bilinear interpolation of the source at M^-1 (x, y), each tap outside the source replaced by
// the border (nearest edge pixel, or border_value); uint8 rounds to nearest and saturates. Details
// in kernels/warp.h.
// One thread per output pixel, all of its channels: consecutive threads take consecutive pixels
// of a row, so reads of the source are local and writes of the output are coalesced (HWC: one
// contiguous run of out_w * C values per row; CHW: one contiguous run per channel plane).
template <typename T>
__global__ void warp_k(const T* src, const float* inverse, T* dst, WarpShape s, float border_value) {
  const int64_t per_image = s.out_h * s.out_w;
  FF_KERNEL_LOOP(i, s.batch * per_image) {
    const int64_t b = i / per_image, rem = i % per_image;
    warp_pixel(src, dst, inverse + 6 * b, s, b, rem / s.out_w, rem % s.out_w, border_value);
  }
}

template <typename T>
void warp_launch(const T* src, const float* matrices, float* inverse, T* dst, const WarpShape& s, float border_value) {
  if (s.batch == 0) return;
  FF_LAUNCH(invert_k, blocks_for(s.batch), kBlock, 0)(matrices, inverse, s.batch);
  CUDA_CHECK_LAUNCH();
  const int64_t n = s.batch * s.out_h * s.out_w;
  if (n == 0) return;
  FF_LAUNCH(warp_k<T>, blocks_for(n), kBlock, 0)(src, inverse, dst, s, border_value);
  CUDA_CHECK_LAUNCH();
}
}  // namespace

void warp_affine(const uint8_t* src, const float* matrices, float* inverse, uint8_t* dst, const WarpShape& s,
                 float border_value) {
  warp_launch(src, matrices, inverse, dst, s, border_value);
}
void warp_affine(const float* src, const float* matrices, float* inverse, float* dst, const WarpShape& s,
                 float border_value) {
  warp_launch(src, matrices, inverse, dst, s, border_value);
}

}  // namespace ff::cuda
