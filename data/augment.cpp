// data/augment.cpp — random affine (flip, rotation, scale, shift in one matrix), landmark
// transform and swap, colour jitter (see data/augment.h).
#include "data/augment.h"

#include <algorithm>
#include <cmath>

#include "engine/checks.h"

namespace ff {

namespace {
constexpr double kPi = 3.14159265358979323846;
}  // namespace

RandomAffine random_affine(const AugmentConfig& cfg, int64_t in_h, int64_t in_w, int64_t out_h, int64_t out_w,
                           Rng& rng) {
  FF_CHECK(in_h > 0 && in_w > 0 && out_h > 0 && out_w > 0, "random_affine: sizes must be positive, got ", in_w, " x ",
           in_h, " -> ", out_w, " x ", out_h);
  FF_CHECK(cfg.min_scale > 0 && cfg.min_scale <= cfg.max_scale, "random_affine: need 0 < min_scale <= max_scale, got ",
           cfg.min_scale, ", ", cfg.max_scale);
  // Five draws, whatever the configuration, so the stream stays aligned across configurations.
  const double u_flip = rng.uniform();
  const double angle = rng.uniform(-cfg.max_rotation_deg, cfg.max_rotation_deg) * (kPi / 180.0);
  const double scale = rng.uniform(cfg.min_scale, cfg.max_scale);
  const double shift_x = rng.uniform(-cfg.max_shift, cfg.max_shift) * static_cast<double>(out_w);
  const double shift_y = rng.uniform(-cfg.max_shift, cfg.max_shift) * static_cast<double>(out_h);

  RandomAffine r;
  r.flipped = u_flip < cfg.flip_probability;
  const double rx = static_cast<double>(out_w) / in_w, ry = static_cast<double>(out_h) / in_h;
  const double cx = (out_w - 1) / 2.0, cy = (out_h - 1) / 2.0;  // the output's centre
  // resize: input pixel centres onto output pixel centres.
  Affine2 m = compose(Affine2::translation(0.5 * rx - 0.5, 0.5 * ry - 0.5), Affine2::scaling(rx, ry));
  // flip: mirror about the vertical line x = cx.
  if (r.flipped) m = compose(Affine2{{{-1.0, 0.0, 2.0 * cx}, {0.0, 1.0, 0.0}}}, m);
  // rotation and scale about the centre, then the shift.
  Affine2 about_centre = compose(Affine2::translation(cx + shift_x, cy + shift_y),
                                 compose(Affine2::similarity(scale, angle, 0.0, 0.0), Affine2::translation(-cx, -cy)));
  r.matrix = compose(about_centre, m);
  return r;
}

ColorFactors random_color(const AugmentConfig& cfg, Rng& rng) {
  auto factor = [&rng](double s) {
    double f = rng.uniform(std::max(0.0, 1.0 - s), 1.0 + s);  // drawn even when s == 0
    return s > 0 ? f : 1.0;
  };
  ColorFactors c;
  c.brightness = factor(cfg.brightness);
  c.contrast = factor(cfg.contrast);
  c.saturation = factor(cfg.saturation);
  return c;
}

namespace {
template <typename T>
void jitter_one(T* img, int64_t c, int64_t hw, bool hwc, const ColorFactors& f) {
  // Element (pixel p, channel k) lives at p * c + k (HWC) or k * hw + p (CHW).
  auto at = [&](int64_t p, int64_t k) -> T& { return hwc ? img[p * c + k] : img[k * hw + p]; };
  auto clamp01 = [](double v) { return static_cast<T>(std::min(1.0, std::max(0.0, v))); };
  auto grey = [&](int64_t p) {
    return c == 1 ? static_cast<double>(at(p, 0)) : 0.2989 * at(p, 0) + 0.587 * at(p, 1) + 0.114 * at(p, 2);
  };
  if (f.brightness != 1.0)
    for (int64_t p = 0; p < hw; ++p)
      for (int64_t k = 0; k < c; ++k) at(p, k) = clamp01(f.brightness * at(p, k));
  if (f.contrast != 1.0) {
    double mean = 0.0;
    for (int64_t p = 0; p < hw; ++p) mean += grey(p);
    mean /= static_cast<double>(hw);
    for (int64_t p = 0; p < hw; ++p)
      for (int64_t k = 0; k < c; ++k) at(p, k) = clamp01(f.contrast * at(p, k) + (1.0 - f.contrast) * mean);
  }
  if (f.saturation != 1.0 && c == 3) {
    for (int64_t p = 0; p < hw; ++p) {
      double g = grey(p);
      for (int64_t k = 0; k < c; ++k) at(p, k) = clamp01(f.saturation * at(p, k) + (1.0 - f.saturation) * g);
    }
  }
}
}  // namespace

void color_jitter_(Tensor& images, ImageLayout layout, const std::vector<ColorFactors>& factors) {
  const char* op = "color_jitter_";
  check_float(op, images, "images");
  FF_CHECK(images.device().is_cpu(), op, ": runs on the CPU, got ", images.str());
  FF_CHECK(images.dim() == 4, op, ": images must be [B, H, W, C] or [B, C, H, W], got ", images.str());
  const bool hwc = layout == ImageLayout::HWC;
  const int64_t b = images.size(0), c = images.size(hwc ? 3 : 1);
  const int64_t hw = images.size(hwc ? 1 : 2) * images.size(hwc ? 2 : 3);
  FF_CHECK(c == 1 || c == 3, op, ": needs 1 or 3 channels (grey or RGB), got ", images.str(), " as ",
           hwc ? "HWC" : "CHW");
  FF_CHECK(static_cast<int64_t>(factors.size()) == b, op, ": ", factors.size(), " colour factors for ", b,
           " images ", images.str());
#pragma omp parallel for schedule(dynamic)
  for (int64_t i = 0; i < b; ++i) {
    if (images.dtype() == DType::F32)
      jitter_one(images.data<float>() + i * c * hw, c, hw, hwc, factors[i]);
    else
      jitter_one(images.data<double>() + i * c * hw, c, hw, hwc, factors[i]);
  }
}

}  // namespace ff
