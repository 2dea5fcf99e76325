// engine/ops_geometry.cpp — argument checks and CPU/CUDA dispatch for the affine warp and the
// heatmap ops (engine/ops_geometry.h).
#include "engine/ops_geometry.h"

#include <cmath>

#include "engine/dispatch.h"
#include "kernels/heatmap.h"
#include "kernels/warp.h"

namespace ff {

namespace {
const char* layout_name(ImageLayout l) { return l == ImageLayout::HWC ? "HWC" : "CHW"; }
}  // namespace

Tensor warp_affine(const Tensor& images, const Tensor& matrices, int64_t out_h, int64_t out_w, ImageLayout layout,
                   BorderMode border, double border_value) {
  const char* op = "warp_affine";
  check_defined(op, images, "images");
  check_defined(op, matrices, "matrices");
  const DType dt = images.dtype();
  FF_CHECK(dt == DType::U8 || dt == DType::F32 || dt == DType::F64, op, ": images must be uint8, float32 or float64, got ",
           images.str());
  FF_CHECK(images.dim() == 4, op, ": images must be [B, H, W, C] or [B, C, H, W], got ", images.str());
  FF_CHECK(matrices.dtype() == DType::F32 && matrices.dim() == 3 && matrices.size(0) == images.size(0) &&
               matrices.size(1) == 2 && matrices.size(2) == 3,
           op, ": matrices must be float32 [B, 2, 3] with B = ", images.size(0), " (images ", images.str(), "), got ",
           matrices.str());
  check_same_device(op, images, matrices);
  FF_CHECK(!(images.device().is_cuda() && dt == DType::F64), op, ": float64 images run on the CPU only, got ",
           images.str());
  FF_CHECK(out_h > 0 && out_w > 0, op, ": output size must be positive, got ", out_h, " x ", out_w);

  WarpShape s;
  s.batch = images.size(0);
  s.layout = layout;
  s.border = border;
  const bool hwc = layout == ImageLayout::HWC;
  s.in_h = images.size(hwc ? 1 : 2);
  s.in_w = images.size(hwc ? 2 : 3);
  s.channels = images.size(hwc ? 3 : 1);
  s.out_h = out_h;
  s.out_w = out_w;
  FF_CHECK(s.in_h > 0 && s.in_w > 0 && s.channels > 0, op, ": images ", images.str(), " read as ", layout_name(layout),
           " have an empty height, width or channel dimension");
  FF_CHECK(std::isfinite(border_value), op, ": border_value must be finite, got ", border_value);
  FF_CHECK(dt != DType::U8 || border != BorderMode::Constant || (border_value >= 0 && border_value <= 255), op,
           ": border_value ", border_value, " is outside 0..255 for uint8 images ", images.str());

  Shape out_shape = hwc ? Shape{s.batch, out_h, out_w, s.channels} : Shape{s.batch, s.channels, out_h, out_w};
  Tensor out = Tensor::empty(out_shape, dt, images.device());
  Tensor inverse = Tensor::empty({s.batch, 2, 3}, DType::F32, images.device());  // written by the kernel
  const float* m = matrices.data<float>();
  float* inv = inverse.data<float>();
  const float bv = static_cast<float>(border_value);
  if (images.device().is_cuda()) {
    if (dt == DType::U8)
      FF_CUDA_CALL(op, cuda::warp_affine(images.data<uint8_t>(), m, inv, out.data<uint8_t>(), s, bv));
    else
      FF_CUDA_CALL(op, cuda::warp_affine(images.data<float>(), m, inv, out.data<float>(), s, bv));
  } else if (dt == DType::U8) {
    cpu::warp_affine(images.data<uint8_t>(), m, inv, out.data<uint8_t>(), s, bv);
  } else if (dt == DType::F32) {
    cpu::warp_affine(images.data<float>(), m, inv, out.data<float>(), s, bv);
  } else {
    cpu::warp_affine(images.data<double>(), m, inv, out.data<double>(), s, bv);
  }
  return out;
}

Tensor render_heatmaps(const Tensor& points, int64_t height, int64_t width, double sigma) {
  const char* op = "render_heatmaps";
  check_float(op, points, "points");
  FF_CHECK(points.dim() == 3 && points.size(2) == 2, op, ": points must be [B, K, 2], got ", points.str());
  FF_CHECK(height > 0 && width > 0, op, ": heatmap size must be positive, got ", height, " x ", width);
  FF_CHECK(std::isfinite(sigma) && sigma > 0, op, ": sigma must be positive, got ", sigma);
  const int64_t n = points.size(0) * points.size(1);
  Tensor maps = Tensor::empty({points.size(0), points.size(1), height, width}, points.dtype(), points.device());
  FF_DISPATCH_FLOAT(op, points,
                    BK::render_gaussian_heatmaps(points.data<T>(), maps.data<T>(), n, height, width, T(sigma)));
  return maps;
}

Tensor decode_heatmaps(const Tensor& heatmaps, HeatmapDecode method, int64_t radius) {
  const char* op = "decode_heatmaps";
  check_float(op, heatmaps, "heatmaps");
  FF_CHECK(heatmaps.dim() == 4 && heatmaps.size(2) > 0 && heatmaps.size(3) > 0, op,
           ": heatmaps must be [B, K, H, W] with H, W > 0, got ", heatmaps.str());
  FF_CHECK(method != HeatmapDecode::SoftArgmax || radius >= 0, op, ": soft-argmax radius must be >= 0, got ", radius);
  const int64_t n = heatmaps.size(0) * heatmaps.size(1), h = heatmaps.size(2), w = heatmaps.size(3);
  Tensor points = Tensor::empty({heatmaps.size(0), heatmaps.size(1), 2}, heatmaps.dtype(), heatmaps.device());
  FF_DISPATCH_FLOAT(op, heatmaps,
                    BK::decode_heatmaps(heatmaps.data<T>(), points.data<T>(), n, h, w, method, radius));
  return points;
}

}  // namespace ff
