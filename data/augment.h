// data/augment.h — training-time augmentation of images with landmarks: one random affine per
// sample (horizontal flip with left/right landmark swap, rotation, scale, shift) as a single 2x3
// matrix, to be composed with the sample's framing and applied in ONE warp (no repeated resampling
// blur; data/face_sample.h does that and moves the landmarks by the same matrix); then colour
// jitter (brightness, contrast, saturation) on float images.
//
// Randomness comes from ff::Rng only, a fixed number of draws per sample, so a seed repeats a run.
// Coordinates follow data/geometry.h (pixel centres at integer coordinates).
#pragma once
#include <utility>
#include <vector>

#include "engine/ops_geometry.h"
#include "engine/random.h"
#include "data/geometry.h"

namespace ff {

struct AugmentConfig {
  double flip_probability = 0.5;
  double max_rotation_deg = 30.0;  // angle uniform in [-max, max]
  double min_scale = 0.75, max_scale = 1.25;  // scale uniform in [min, max]
  double max_shift = 0.1;          // shift uniform in [-max, max] times the output width / height
  // Colour jitter strengths, torchvision's ColorJitter: each factor uniform in [max(0, 1 - s), 1 + s];
  // 0 leaves the colour alone.
  double brightness = 0.0, contrast = 0.0, saturation = 0.0;
  // Landmark indices that trade places under a horizontal flip: with CelebA's five points, the eyes
  // (0, 1) and the mouth corners (3, 4); the nose (2) stays.
  std::vector<std::pair<int, int>> flip_pairs = {{0, 1}, {3, 4}};
};

// One sample's geometric draw.
struct RandomAffine {
  Affine2 matrix;        // source -> destination, for warp_affine
  bool flipped = false;  // landmarks must swap flip_pairs
};

// Draws one transform taking an in_w x in_h image to an out_w x out_h one. Built as
//   matrix = shift o (rotation and scale about the output centre) o flip o resize,
// where resize maps the whole input onto the whole output (per axis, pixel-centre exact:
// x -> (x + 0.5) out_w / in_w - 0.5), flip mirrors about the output's vertical centre line
// (x -> out_w - 1 - x). Always five draws from rng, in this order: flip, angle, scale, shift x,
// shift y.
RandomAffine random_affine(const AugmentConfig& cfg, int64_t in_h, int64_t in_w, int64_t out_h, int64_t out_w, Rng& rng);

// Colour factors of one sample (1 = unchanged).
struct ColorFactors {
  double brightness = 1.0, contrast = 1.0, saturation = 1.0;
};
// Always three draws from rng: brightness, contrast, saturation.
ColorFactors random_color(const AugmentConfig& cfg, Rng& rng);

// Applies per-sample colour factors in place to float images in [0, 1] on the CPU, laid out as
// `layout` ([B, H, W, C] or [B, C, H, W], C = 1 or 3, RGB), in torchvision's way, in a fixed order:
// brightness (x *= b), contrast (blend with the mean grey level of the image), saturation (blend
// with each pixel's grey level, grey = 0.2989 R + 0.587 G + 0.114 B; nothing to do for C = 1),
// clamping to [0, 1] after each step.
void color_jitter_(Tensor& images, ImageLayout layout, const std::vector<ColorFactors>& factors);

}  // namespace ff
