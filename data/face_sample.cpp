// data/face_sample.cpp — the face-sample recipe (see face_sample.h): one uint8 warp, then float,
// colour jitter and ImageNet normalisation of the output only.
#include "data/face_sample.h"

#include <utility>

#include "engine/error.h"
#include "engine/ops_geometry.h"

namespace ff {

namespace {
constexpr float kMean[3] = {0.485f, 0.456f, 0.406f};  // ImageNet, RGB
constexpr float kStd[3] = {0.229f, 0.224f, 0.225f};

// The mirror x -> size - 1 - x of a size-wide output (about its centre line, as random_affine's flip).
Affine2 mirror_about_centre(int64_t size) {
  return Affine2{{{-1.0, 0.0, static_cast<double>(size - 1)}, {0.0, 1.0, 0.0}}};
}
}  // namespace

Image warp_image(const Image& photo, const Affine2& m, int64_t width, int64_t height) {
  FF_CHECK(!photo.empty() && width > 0 && height > 0, "warp_image: cannot warp ", photo.str(), " to ", width, " x ",
           height);
  Tensor src = image_to_tensor_hwc(photo).reshape({1, photo.height, photo.width, photo.channels});
  Tensor out = warp_affine(src, affine_tensor({m}), height, width, ImageLayout::HWC, BorderMode::Constant, 0.0);
  return image_from_tensor_hwc(out.reshape({height, width, photo.channels}));
}

FaceSample warp_face_sample(const Image& photo, const Affine2& frame, const Landmarks5* points, int64_t size,
                            const AugmentConfig* augment, Rng& rng, const Affine2* mirror_frame) {
  FF_CHECK(photo.channels == 3 && !photo.empty(), "warp_face_sample: needs an RGB photo, got ", photo.str());
  FF_CHECK(size >= 1, "warp_face_sample: the output size must be positive, got ", size);
  FaceSample s;
  Affine2 m = frame;
  ColorFactors colour;
  if (augment) {
    for (auto [a, b] : augment->flip_pairs)
      FF_CHECK(a >= 0 && a < 5 && b >= 0 && b < 5, "warp_face_sample: flip pair (", a, ", ", b,
               ") out of range for the five landmarks");
    // size x size -> size x size: random_affine's resize is the identity, so its matrix is
    // (rotation, scale, shift about the centre) o (the mirror about the centre line, when flipped).
    RandomAffine r = random_affine(*augment, size, size, size, size, rng);
    colour = random_color(*augment, rng);
    s.flipped = r.flipped;
    // With a frame of the mirrored face, undo random_affine's own mirror (an involution).
    m = r.flipped && mirror_frame ? compose(r.matrix, compose(mirror_about_centre(size), *mirror_frame))
                                  : compose(r.matrix, frame);
  }
  Tensor img = image_to_tensor_chw(warp_image(photo, m, size, size)).reshape({1, 3, size, size});
  if (augment && (augment->brightness > 0 || augment->contrast > 0 || augment->saturation > 0))
    color_jitter_(img, ImageLayout::CHW, {colour});
  normalize_imagenet_(img);
  s.image = img.reshape({3, size, size});
  if (points) {
    // After a flip the point drawn where the left eye belongs is the face's right eye: the labels of
    // each flip pair trade places.
    Landmarks5 moved;
    for (int k = 0; k < 5; ++k) moved[k] = apply_affine(m, (*points)[k]);
    if (s.flipped)
      for (auto [a, b] : augment->flip_pairs) std::swap(moved[a], moved[b]);
    s.points = moved;
  }
  return s;
}

void normalize_imagenet_(Tensor& images) {
  FF_CHECK(images.device().is_cpu() && images.dtype() == DType::F32 && images.dim() >= 3 && images.size(-3) == 3,
           "normalize_imagenet_: needs float32 [..., 3, H, W] on the CPU, got ", images.str());
  const int64_t hw = images.size(-1) * images.size(-2), n = images.numel() / (3 * hw);
  float* p = images.data<float>();
  for (int64_t i = 0; i < n; ++i)
    for (int c = 0; c < 3; ++c) {
      float* q = p + (i * 3 + c) * hw;
      for (int64_t j = 0; j < hw; ++j) q[j] = (q[j] - kMean[c]) / kStd[c];
    }
}

Image denormalize_to_image(const Tensor& chw) {
  FF_CHECK(chw.dim() == 3 && chw.size(0) == 3, "denormalize_to_image: needs [3, H, W], got ", chw.str());
  Tensor t = chw.cpu().to(DType::F32).clone();
  const int64_t hw = t.size(1) * t.size(2);
  float* p = t.data<float>();
  for (int c = 0; c < 3; ++c)
    for (int64_t j = 0; j < hw; ++j) p[c * hw + j] = p[c * hw + j] * kStd[c] + kMean[c];
  return image_from_tensor_chw(t);
}

}  // namespace ff
