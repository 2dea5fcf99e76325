// engine/ops_geometry.h — image geometry ops: the batched affine warp (face alignment, training
// augmentation) and Gaussian landmark heatmaps (render targets, decode predictions).
//
// None of these ops is differentiable: they prepare inputs and targets, or read out predictions.
// Each checks its arguments once and throws ff::Error naming the op and the tensors, then runs the
// CPU function or its CUDA twin from kernels/warp.h and kernels/heatmap.h.
// Coordinates are pixels with integer coordinates at pixel centres (OpenCV's convention, see
// data/geometry.h); B batch, K landmarks, C channels, H/W height/width.
#pragma once
#include "engine/image_types.h"  // ImageLayout, BorderMode, HeatmapDecode
#include "engine/tensor.h"

namespace ff {

// Warps each image b with its own 2x3 matrix, like cv2.warpAffine(image, M[b], (out_w, out_h),
// flags=INTER_LINEAR, borderMode=BORDER_REPLICATE or BORDER_CONSTANT, borderValue=border_value):
//   images    [B, H, W, C] (HWC) or [B, C, H, W] (CHW); uint8 or float32 (float64 on the CPU);
//             any channel count.
//   matrices  [B, 2, 3] float32 on the images' device; each maps SOURCE pixel coordinates to
//             DESTINATION coordinates (it is inverted inside, once per image).
// Returns [B, out_h, out_w, C] (HWC) or [B, C, out_h, out_w] (CHW) in the images' dtype. Bilinear
// sampling; uint8 rounds to nearest and saturates. border_value is in the images' units (0..255
// for uint8). A singular matrix samples source pixel (0, 0) everywhere, as OpenCV does.
Tensor warp_affine(const Tensor& images, const Tensor& matrices, int64_t out_h, int64_t out_w, ImageLayout layout,
                   BorderMode border = BorderMode::Replicate, double border_value = 0.0);

// Gaussian targets: points [B, K, 2] float (x, y in heatmap pixels, sub-pixel) -> heatmaps
// [B, K, height, width], value exp(-((x - cx)^2 + (y - cy)^2) / (2 sigma^2)) at pixel centre
// (x, y), sigma in heatmap pixels. Peak 1 at the point; not truncated.
Tensor render_heatmaps(const Tensor& points, int64_t height, int64_t width, double sigma);

// Heatmaps [B, K, H, W] float -> points [B, K, 2] (x, y in heatmap pixels): argmax, then the
// quarter-pixel step or the local soft-argmax (engine/image_types.h). radius is the soft-argmax
// window's half-size; it must hold the bulk of the peak, about 2.5 sigma, or the window's edges
// pull the estimate toward the argmax pixel (for sigma 2: worst bias 0.17 px at radius 3,
// 0.07 px at 4, 0.03 px at 5).
Tensor decode_heatmaps(const Tensor& heatmaps, HeatmapDecode method = HeatmapDecode::QuarterPixel, int64_t radius = 5);

}  // namespace ff
