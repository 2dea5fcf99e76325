// tests/test_augment.cpp — training augmentation (data/augment.h): the one-matrix random affine,
// landmarks moved with the image (flip swap included), determinism, colour jitter, errors.
//
// The central check: draw a bright dot at each landmark (landmark k in channel k, so dots can be
// told apart), augment, and find each dot again as the weighted centroid of a small window around
// where the augmented landmarks say it is. It must lie within 1 px, in the channel the flip swap
// predicts (after a flip, output landmark 0 — the image's left eye — is the dot drawn for input
// landmark 1).
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "tests/test_util.h"
#include "data/augment.h"

namespace ff {
namespace {

constexpr int kK = 5;

// Face-like landmark positions (left eye, right eye, nose, left and right mouth corner) in a
// 64 x 64 image, jittered per sample.
Tensor random_landmarks(Rng& rng, int64_t b) {
  const double base[kK][2] = {{24, 26}, {40, 25.5}, {32, 33}, {26, 41}, {39, 41.5}};
  std::vector<float> v;
  for (int64_t i = 0; i < b; ++i)
    for (int k = 0; k < kK; ++k)
      for (int d = 0; d < 2; ++d) v.push_back(static_cast<float>(base[k][d] + rng.uniform(-1.5, 1.5)));
  return Tensor::from_vector(v, {b, kK, 2});
}

// A Gaussian dot (sigma 1 px, peak 1) at every landmark: CHW, landmark k in channel k.
Tensor dot_images(const Tensor& landmarks, int64_t h, int64_t w) {
  const int64_t b = landmarks.size(0);
  std::vector<float> lm = landmarks.to_vector<float>(), img(b * kK * h * w, 0.f);
  for (int64_t i = 0; i < b; ++i)
    for (int k = 0; k < kK; ++k) {
      double cx = lm[(i * kK + k) * 2], cy = lm[(i * kK + k) * 2 + 1];
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
          img[((i * kK + k) * h + y) * w + x] =
              static_cast<float>(std::exp(-((x - cx) * (x - cx) + (y - cy) * (y - cy)) / 2.0));
    }
  return Tensor::from_vector(img, {b, kK, h, w});
}

struct Found {
  double x = NAN, y = NAN, mass = 0;
};
// Weighted centroid of channel c of image i (CHW float [B, C, H, W]) in a (2r+1)^2 window around (px, py).
Found centroid(const std::vector<float>& img, int64_t i, int64_t c, int64_t channels, int64_t h, int64_t w, double px,
               double py, int r) {
  Found f;
  double sx = 0, sy = 0;
  const int64_t x0 = std::lround(px), y0 = std::lround(py);
  for (int64_t y = std::max<int64_t>(0, y0 - r); y <= std::min<int64_t>(h - 1, y0 + r); ++y)
    for (int64_t x = std::max<int64_t>(0, x0 - r); x <= std::min<int64_t>(w - 1, x0 + r); ++x) {
      double v = img[((i * channels + c) * h + y) * w + x];
      f.mass += v, sx += v * x, sy += v * y;
    }
  if (f.mass > 0) f.x = sx / f.mass, f.y = sy / f.mass;
  return f;
}

AugmentConfig test_config() {
  AugmentConfig cfg;
  cfg.flip_probability = 0.5;
  cfg.max_rotation_deg = 25;
  cfg.min_scale = 0.8, cfg.max_scale = 1.2;
  cfg.max_shift = 0.08;
  return cfg;
}

TEST(Augment, DotsLandOnTheTransformedLandmarks) {
  Rng data_rng(31);
  const int64_t B = 16, H = 64, W = 64, OH = 60, OW = 72;  // a non-square output: resize included
  Tensor lm = random_landmarks(data_rng, B);
  Tensor img = dot_images(lm, H, W);
  Rng rng(32);
  AugmentedBatch a = augment_batch(img, lm, OH, OW, ImageLayout::CHW, test_config(), rng);
  ASSERT_EQ(a.images.shape(), (Shape{B, kK, OH, OW}));
  ASSERT_EQ(a.landmarks.shape(), (Shape{B, kK, 2}));
  std::vector<float> out = a.images.to_vector<float>(), pts = a.landmarks.to_vector<float>();
  int flipped = 0;
  double worst = 0;
  for (int64_t i = 0; i < B; ++i) {
    const bool flip = a.transforms[i].flipped;
    flipped += flip;
    for (int j = 0; j < kK; ++j) {
      // After a flip, output landmark j is the dot drawn for input landmark swap(j).
      const int drawn = flip ? (j == 0 ? 1 : j == 1 ? 0 : j == 3 ? 4 : j == 4 ? 3 : j) : j;
      const double px = pts[(i * kK + j) * 2], py = pts[(i * kK + j) * 2 + 1];
      Found f = centroid(out, i, drawn, kK, OH, OW, px, py, 5);
      ASSERT_GT(f.mass, 1.0) << "sample " << i << " landmark " << j << ": no dot near (" << px << ", " << py << ")";
      double err = std::hypot(f.x - px, f.y - py);
      worst = std::max(worst, err);
      EXPECT_LT(err, 1.0) << "sample " << i << " landmark " << j << (flip ? " (flipped)" : "") << ": dot at (" << f.x
                          << ", " << f.y << "), landmark says (" << px << ", " << py << ")";
      if (drawn != j) {  // the unswapped channel has no dot here: the swap is needed
        Found wrong = centroid(out, i, j, kK, OH, OW, px, py, 5);
        EXPECT_LT(wrong.mass, 0.01 * f.mass) << "sample " << i << " landmark " << j;
      }
    }
  }
  std::printf("[ augment ] %d of %d samples flipped; worst dot-to-landmark distance %.3f px\n", flipped,
              static_cast<int>(B), worst);
  EXPECT_GT(flipped, 0) << "the seed must exercise flips";
  EXPECT_LT(flipped, B) << "the seed must exercise unflipped samples";
}

TEST(Augment, Uint8HwcDotsToo) {
  Rng data_rng(33);
  const int64_t B = 6, H = 64, W = 64;
  Tensor lm = random_landmarks(data_rng, B);
  std::vector<float> chw = dot_images(lm, H, W).to_vector<float>();
  std::vector<uint8_t> hwc(B * H * W * 3, 0);
  for (int64_t i = 0; i < B; ++i)
    for (int64_t p = 0; p < H * W; ++p) {
      float v = 0;
      for (int k = 0; k < kK; ++k) v = std::max(v, chw[(i * kK + k) * H * W + p]);
      for (int c = 0; c < 3; ++c) hwc[(i * H * W + p) * 3 + c] = static_cast<uint8_t>(std::lround(255 * v));
    }
  Rng rng(34);
  AugmentConfig cfg = test_config();
  cfg.flip_probability = 1.0;
  AugmentedBatch a = augment_batch(Tensor::from_vector(hwc, {B, H, W, 3}), lm, H, W, ImageLayout::HWC, cfg, rng);
  ASSERT_EQ(a.images.dtype(), DType::U8);
  std::vector<float> out = a.images.to_vector<float>(), pts = a.landmarks.to_vector<float>();
  // Read channel 1 of the HWC output as a one-channel CHW plane per sample.
  std::vector<float> plane(B * H * W);
  for (int64_t i = 0; i < B * H * W; ++i) plane[i] = out[i * 3 + 1];
  for (int64_t i = 0; i < B; ++i) {
    EXPECT_TRUE(a.transforms[i].flipped);
    // Flipped and swapped: the left eye (output landmark 0) still lies left of the right eye.
    EXPECT_LT(pts[(i * kK + 0) * 2], pts[(i * kK + 1) * 2]) << "sample " << i;
    for (int j = 0; j < kK; ++j) {
      double px = pts[(i * kK + j) * 2], py = pts[(i * kK + j) * 2 + 1];
      Found f = centroid(plane, i, 0, 1, H, W, px, py, 3);
      EXPECT_LT(std::hypot(f.x - px, f.y - py), 1.0) << "sample " << i << " landmark " << j;
    }
  }
}

TEST(Augment, DeterministicForASeed) {
  Rng data_rng(35);
  Tensor lm = random_landmarks(data_rng, 4);
  std::vector<float> dots = dot_images(lm, 64, 64).to_vector<float>();
  std::vector<float> rgb;  // the first three dot channels as an RGB image
  for (int64_t i = 0; i < 4; ++i)
    rgb.insert(rgb.end(), dots.begin() + i * kK * 64 * 64, dots.begin() + (i * kK + 3) * 64 * 64);
  Tensor img = Tensor::from_vector(rgb, {4, 3, 64, 64});
  AugmentConfig cfg = test_config();
  cfg.brightness = 0.3, cfg.contrast = 0.3;
  Rng r1(7), r2(7), r3(8);
  AugmentedBatch a = augment_batch(img, lm, 48, 48, ImageLayout::CHW, cfg, r1);
  AugmentedBatch b = augment_batch(img, lm, 48, 48, ImageLayout::CHW, cfg, r2);
  AugmentedBatch c = augment_batch(img, lm, 48, 48, ImageLayout::CHW, cfg, r3);
  EXPECT_EQ(a.images.to_vector<float>(), b.images.to_vector<float>());
  EXPECT_EQ(a.landmarks.to_vector<float>(), b.landmarks.to_vector<float>());
  EXPECT_EQ(r1.offset(), r2.offset());
  EXPECT_EQ(r1.offset(), 4u * 16u) << "8 uniform draws (2 words each) per sample";
  EXPECT_NE(a.landmarks.to_vector<float>(), c.landmarks.to_vector<float>());
  EXPECT_NE(a.images.to_vector<float>(), c.images.to_vector<float>());
}

TEST(Augment, RandomAffineComposition) {
  AugmentConfig still;
  still.flip_probability = 0, still.max_rotation_deg = 0, still.min_scale = still.max_scale = 1, still.max_shift = 0;
  Rng rng(36);
  // Same size, nothing random: the identity.
  RandomAffine r = random_affine(still, 40, 30, 40, 30, rng);
  EXPECT_FALSE(r.flipped);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) EXPECT_NEAR(r.matrix.m[i][j], i == j ? 1.0 : 0.0, 1e-12);
  EXPECT_EQ(rng.offset(), 10u) << "five uniform draws, whatever the configuration";
  // Half size: pixel centres map as (x + 0.5) / 2 - 0.5; the image's corners map to corners.
  r = random_affine(still, 64, 64, 32, 32, rng);
  Point2 p = apply_affine(r.matrix, {0.0, 63.0});
  EXPECT_NEAR(p.x, -0.25, 1e-12);
  EXPECT_NEAR(p.y, 31.25, 1e-12);
  Point2 corner = apply_affine(r.matrix, {-0.5, 63.5});
  EXPECT_NEAR(corner.x, -0.5, 1e-12);
  EXPECT_NEAR(corner.y, 31.5, 1e-12);
  // Always flip: x -> W - 1 - x.
  AugmentConfig flip = still;
  flip.flip_probability = 1.0;
  r = random_affine(flip, 20, 30, 20, 30, rng);
  EXPECT_TRUE(r.flipped);
  Point2 q = apply_affine(r.matrix, {4.0, 7.0});
  EXPECT_NEAR(q.x, 25.0, 1e-12);
  EXPECT_NEAR(q.y, 7.0, 1e-12);
  // A rotation about the output centre keeps the centre in place (no shift, same size).
  AugmentConfig turn = still;
  turn.max_rotation_deg = 40, turn.min_scale = 0.7, turn.max_scale = 1.3;
  r = random_affine(turn, 31, 51, 31, 51, rng);
  Point2 c = apply_affine(r.matrix, {25.0, 15.0});
  EXPECT_NEAR(c.x, 25.0, 1e-12);
  EXPECT_NEAR(c.y, 15.0, 1e-12);
  AugmentConfig bad = still;
  bad.min_scale = 0;
  EXPECT_THROW(random_affine(bad, 8, 8, 8, 8, rng), Error);
  EXPECT_THROW(random_affine(still, 0, 8, 8, 8, rng), Error);
}

TEST(Augment, ColorJitter) {
  // Two RGB pixels per image, one image; CHW [1, 3, 1, 2].
  const std::vector<double> px = {0.2, 0.6, /*G*/ 0.4, 0.1, /*B*/ 0.9, 0.3};
  auto grey = [&](int p) { return 0.2989 * px[p] + 0.587 * px[2 + p] + 0.114 * px[4 + p]; };
  auto run = [&](ColorFactors f) {
    Tensor t = Tensor::from_vector(px, {1, 3, 1, 2});
    color_jitter_(t, ImageLayout::CHW, {f});
    return t.to_vector<double>();
  };
  std::vector<double> b = run({1.5, 1.0, 1.0});
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(b[i], std::min(1.0, 1.5 * px[i]), 1e-15);
  const double mean = (grey(0) + grey(1)) / 2;
  std::vector<double> c = run({1.0, 0.6, 1.0});
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(c[i], 0.6 * px[i] + 0.4 * mean, 1e-15);
  std::vector<double> s = run({1.0, 1.0, 0.0});  // saturation 0: grey
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(s[i], grey(i % 2), 1e-15);
  std::vector<double> s2 = run({1.0, 1.0, 1.7});
  for (int i = 0; i < 6; ++i)
    EXPECT_NEAR(s2[i], std::min(1.0, std::max(0.0, 1.7 * px[i] - 0.7 * grey(i % 2))), 1e-15);
  // HWC gives the same as CHW.
  std::vector<double> hwc = {px[0], px[2], px[4], px[1], px[3], px[5]};
  Tensor t = Tensor::from_vector(hwc, {1, 1, 2, 3});
  color_jitter_(t, ImageLayout::HWC, {{1.2, 0.8, 1.3}});
  std::vector<double> h = t.to_vector<double>(), ch = run({1.2, 0.8, 1.3});
  for (int p = 0; p < 2; ++p)
    for (int k = 0; k < 3; ++k) EXPECT_NEAR(h[p * 3 + k], ch[k * 2 + p], 1e-15);
  // Errors.
  Tensor two = Tensor::zeros({1, 2, 4, 4});
  EXPECT_THROW(color_jitter_(two, ImageLayout::CHW, {{}}), Error);  // 2 channels
  Tensor rgb = Tensor::zeros({2, 3, 4, 4});
  EXPECT_THROW(color_jitter_(rgb, ImageLayout::CHW, {{}}), Error);  // 1 factor for 2 images
  Tensor u8 = Tensor::zeros({1, 3, 4, 4}, DType::U8);
  EXPECT_THROW(color_jitter_(u8, ImageLayout::CHW, {{}}), Error);
}

TEST(Augment, RandomColorRanges) {
  AugmentConfig cfg;
  cfg.brightness = 0.3, cfg.contrast = 1.5, cfg.saturation = 0.0;
  Rng rng(37);
  double bmin = 9, bmax = 0, cmin = 9;
  for (int i = 0; i < 500; ++i) {
    ColorFactors f = random_color(cfg, rng);
    bmin = std::min(bmin, f.brightness), bmax = std::max(bmax, f.brightness), cmin = std::min(cmin, f.contrast);
    EXPECT_EQ(f.saturation, 1.0);
    EXPECT_LE(f.contrast, 2.5);
  }
  EXPECT_GE(bmin, 0.7);
  EXPECT_LT(bmin, 0.75);
  EXPECT_LE(bmax, 1.3);
  EXPECT_GT(bmax, 1.25);
  EXPECT_GE(cmin, 0.0);  // 1 - 1.5 clipped at 0
}

TEST(Augment, RejectsBadArguments) {
  Tensor img = Tensor::zeros({2, 3, 16, 16});
  Tensor lm = Tensor::zeros({2, 5, 2});
  AugmentConfig cfg;
  Rng rng(38);
  auto chw = ImageLayout::CHW;
  EXPECT_THROW(augment_batch(img, Tensor::zeros({3, 5, 2}), 8, 8, chw, cfg, rng), Error);  // batch
  EXPECT_THROW(augment_batch(img, Tensor::zeros({2, 5, 3}), 8, 8, chw, cfg, rng), Error);  // not (x, y)
  EXPECT_THROW(augment_batch(img, Tensor::zeros({2, 3, 2}), 8, 8, chw, cfg, rng), Error);  // pair (3, 4) out of range
  EXPECT_THROW(augment_batch(Tensor::zeros({2, 16, 16}), lm, 8, 8, chw, cfg, rng), Error);
  AugmentConfig jitter;
  jitter.brightness = 0.2;
  EXPECT_THROW(augment_batch(Tensor::zeros({2, 3, 16, 16}, DType::U8), lm, 8, 8, chw, jitter, rng), Error);
  EXPECT_THROW(augment_batch(Tensor::zeros({2, 4, 16, 16}), lm, 8, 8, chw, jitter, rng), Error);  // 4 channels
  EXPECT_NO_THROW(augment_batch(Tensor::zeros({2, 3, 16, 16}, DType::U8), lm, 8, 8, chw, cfg, rng));
  try {
    augment_batch(img, Tensor::zeros({3, 5, 2}), 8, 8, chw, cfg, rng);
    FAIL() << "expected ff::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("augment_batch"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ff
