// tests/test_augment.cpp — training augmentation (data/augment.h: the one-matrix random affine,
// colour jitter) and the face-sample recipe built on it (data/face_sample.h warp_face_sample):
// landmarks moved with the image (flip swap included), the exact-mirror frame, one uint8 warp then
// normalisation, determinism, errors.
//
// The central check: photos with a bright dot at ONE landmark each, all warped with generators of
// the same seed (so with the same augmentation); each dot is found again as the weighted centroid
// of a small window around where the sample's moved landmarks say it is. It must lie within 1 px,
// at the slot the flip swap predicts (after a flip, slot 0 — the image's left eye — is where the
// dot drawn for landmark 1 lands).
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "tests/test_util.h"
#include "data/augment.h"
#include "data/face_sample.h"

namespace ff {
namespace {

constexpr double kStd[3] = {0.229, 0.224, 0.225}, kMean[3] = {0.485, 0.456, 0.406};

// Face-like landmark positions (left eye, right eye, nose, left and right mouth corner) in a
// 64 x 64 photo, jittered.
Landmarks5 random_landmarks(Rng& rng) {
  const double base[5][2] = {{24, 26}, {40, 25.5}, {32, 33}, {26, 41}, {39, 41.5}};
  Landmarks5 lm;
  for (int k = 0; k < 5; ++k) lm[k] = {base[k][0] + rng.uniform(-1.5, 1.5), base[k][1] + rng.uniform(-1.5, 1.5)};
  return lm;
}

// A black RGB photo with a white Gaussian dot (sigma 1.2 px) at `p`.
Image dot_photo(const Point2& p, int w = 64, int h = 64) {
  Image img(w, h, 3, 0);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double v = std::exp(-((x - p.x) * (x - p.x) + (y - p.y) * (y - p.y)) / (2 * 1.2 * 1.2));
      for (int c = 0; c < 3; ++c) img.at(x, y, c) = static_cast<uint8_t>(std::lround(255 * v));
    }
  return img;
}

struct Found {
  double x = NAN, y = NAN, mass = 0;
};
// Weighted centroid of the red channel of a normalised sample [3, S, S] (normalisation undone) in a
// (2r+1)^2 window around (px, py).
Found centroid(const Tensor& image, double px, double py, int r) {
  const int64_t S = image.size(1);
  const float* v = image.data<float>();
  Found f;
  double sx = 0, sy = 0;
  const int64_t x0 = std::lround(px), y0 = std::lround(py);
  for (int64_t y = std::max<int64_t>(0, y0 - r); y <= std::min<int64_t>(S - 1, y0 + r); ++y)
    for (int64_t x = std::max<int64_t>(0, x0 - r); x <= std::min<int64_t>(S - 1, x0 + r); ++x) {
      const double w = v[y * S + x] * kStd[0] + kMean[0];
      f.mass += w, sx += w * x, sy += w * y;
    }
  if (f.mass > 0) f.x = sx / f.mass, f.y = sy / f.mass;
  return f;
}

// A frame that rotates, scales and shifts the 64 x 64 photo into a 72 x 72 output.
Affine2 test_frame() { return compose(Affine2::translation(38, 33), compose(Affine2::similarity(1.1, 0.15, 0, 0), Affine2::translation(-32, -32))); }

AugmentConfig test_config() {
  AugmentConfig cfg;
  cfg.flip_probability = 0.5;
  cfg.max_rotation_deg = 25;
  cfg.min_scale = 0.8, cfg.max_scale = 1.2;
  cfg.max_shift = 0.08;
  return cfg;
}

TEST(FaceSample, DotsLandOnTheMovedLandmarks) {
  Rng data_rng(31);
  const int64_t S = 72;
  const AugmentConfig cfg = test_config();
  int flipped = 0;
  double worst = 0;
  for (uint64_t i = 0; i < 16; ++i) {
    const Landmarks5 lm = random_landmarks(data_rng);
    // One photo per landmark, each warped with the same seed: the same augmentation for all five.
    std::vector<FaceSample> s;
    for (int k = 0; k < 5; ++k) {
      Rng rng(100 + i);
      s.push_back(warp_face_sample(dot_photo(lm[k]), test_frame(), &lm, S, &cfg, rng));
      ASSERT_EQ(s.back().image.shape(), (Shape{3, S, S}));
      ASSERT_TRUE(s.back().points.has_value());
    }
    const bool flip = s[0].flipped;
    flipped += flip;
    const Landmarks5& pts = *s[0].points;
    for (int j = 0; j < 5; ++j) {
      EXPECT_EQ((*s[j].points)[j].x, pts[j].x) << "the same augmentation for every photo";
      // After a flip, slot j holds the dot drawn for landmark swap(j).
      const int drawn = flip ? (j == 0 ? 1 : j == 1 ? 0 : j == 3 ? 4 : j == 4 ? 3 : j) : j;
      Found f = centroid(s[static_cast<size_t>(drawn)].image, pts[j].x, pts[j].y, 5);
      ASSERT_GT(f.mass, 1.0) << "sample " << i << " slot " << j << ": no dot near (" << pts[j].x << ", " << pts[j].y << ")";
      const double err = std::hypot(f.x - pts[j].x, f.y - pts[j].y);
      worst = std::max(worst, err);
      EXPECT_LT(err, 1.0) << "sample " << i << " slot " << j << (flip ? " (flipped)" : "") << ": dot at (" << f.x << ", "
                          << f.y << "), landmark says (" << pts[j].x << ", " << pts[j].y << ")";
      if (drawn != j) {  // landmark j's own dot is elsewhere: the swap is needed
        Found wrong = centroid(s[static_cast<size_t>(j)].image, pts[j].x, pts[j].y, 5);
        EXPECT_LT(wrong.mass, 0.01 * f.mass) << "sample " << i << " slot " << j;
      }
    }
    if (flip) {
      EXPECT_LT(pts[0].x, pts[1].x) << "flipped and swapped: the left eye is still on the left";
    }
  }
  std::printf("[ face sample ] %d of 16 samples flipped; worst dot-to-landmark distance %.3f px\n", flipped, worst);
  EXPECT_GT(flipped, 0) << "the seeds must exercise flips";
  EXPECT_LT(flipped, 16) << "the seeds must exercise unflipped samples";
}

// No augmentation: the sample is exactly one uint8 warp of the photo by the frame, converted and
// ImageNet-normalised; no draw from the generator; black outside the photo.
TEST(FaceSample, OneUint8WarpThenNormalisation) {
  Rng data_rng(32);
  Image photo(64, 64, 3);
  for (uint8_t& v : photo.pixels) v = static_cast<uint8_t>(data_rng.randint(256));
  const int64_t S = 72;
  Rng rng(5);
  FaceSample s = warp_face_sample(photo, test_frame(), nullptr, S, nullptr, rng);
  EXPECT_EQ(rng.offset(), 0u);
  EXPECT_FALSE(s.points.has_value());
  EXPECT_FALSE(s.flipped);
  const Image warped = warp_image(photo, test_frame(), S, S);
  const float* v = s.image.data<float>();
  double mean[3] = {0, 0, 0};
  for (int c = 0; c < 3; ++c)
    for (int64_t y = 0; y < S; ++y)
      for (int64_t x = 0; x < S; ++x) {
        const double want = (warped.at(static_cast<int>(x), static_cast<int>(y), c) / 255.0 - kMean[c]) / kStd[c];
        ASSERT_NEAR(v[(c * S + y) * S + x], want, 1e-5) << "channel " << c << " pixel " << x << ", " << y;
        mean[c] += v[(c * S + y) * S + x] / static_cast<double>(S * S);
      }
  // The corner is outside the photo: black, normalised.
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(v[c * S * S], -kMean[c] / kStd[c], 1e-6);
  // And back: denormalize_to_image gives the uint8 warp, pixel for pixel.
  EXPECT_EQ(denormalize_to_image(s.image).pixels, warped.pixels);
  // A uniform grey photo normalises to ImageNet's standard scores of that grey.
  Image grey(64, 64, 3, 200);
  FaceSample g = warp_face_sample(grey, Affine2::identity(), nullptr, 64, nullptr, rng);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(g.image.data<float>()[c * 64 * 64 + 100], (200 / 255.0 - kMean[c]) / kStd[c], 1e-5);
}

// With a frame of the mirrored face, a flip uses it instead of mirroring the plain frame's output:
// a flip-only augmentation gives exactly the plain sample of the mirror frame, points swapped.
TEST(FaceSample, MirrorFrameReplacesTheMirroredCrop) {
  Rng data_rng(33);
  const Landmarks5 lm = random_landmarks(data_rng);
  Image photo = dot_photo(lm[0]);
  AugmentConfig flip_only;
  flip_only.flip_probability = 1.0;
  flip_only.max_rotation_deg = 0;
  flip_only.min_scale = flip_only.max_scale = 1.0;
  flip_only.max_shift = 0;
  const Affine2 plain = test_frame();
  const Affine2 mirror = compose(Affine2::translation(70, 2), compose(Affine2{{{-1, 0, 0}, {0, 1, 0}}}, plain));
  Rng r1(1), r2(1);
  FaceSample f = warp_face_sample(photo, plain, &lm, 72, &flip_only, r1, &mirror);
  FaceSample m = warp_face_sample(photo, mirror, &lm, 72, nullptr, r2);
  EXPECT_TRUE(f.flipped);
  EXPECT_EQ(f.image.to_vector<float>(), m.image.to_vector<float>());
  const int partner[5] = {1, 0, 2, 4, 3};
  for (int j = 0; j < 5; ++j) {
    EXPECT_NEAR((*f.points)[j].x, (*m.points)[partner[j]].x, 1e-9) << j;
    EXPECT_NEAR((*f.points)[j].y, (*m.points)[partner[j]].y, 1e-9) << j;
  }
  // Without a mirror frame the flip mirrors the plain output about its centre line.
  Rng r3(1), r4(1);
  FaceSample g = warp_face_sample(photo, plain, &lm, 72, &flip_only, r3);
  FaceSample p = warp_face_sample(photo, plain, &lm, 72, nullptr, r4);
  for (int j = 0; j < 5; ++j) EXPECT_NEAR((*g.points)[j].x, 71 - (*p.points)[partner[j]].x, 1e-9) << j;
}

TEST(FaceSample, DeterministicForASeed) {
  Rng data_rng(35);
  const Landmarks5 lm = random_landmarks(data_rng);
  Image photo = dot_photo(lm[2]);
  for (int y = 0; y < 64; ++y) photo.at(10, y, 1) = 180;  // some colour for the jitter to work on
  AugmentConfig cfg = test_config();
  cfg.brightness = 0.3, cfg.contrast = 0.3, cfg.saturation = 0.3;
  Rng r1(7), r2(7), r3(8);
  FaceSample a = warp_face_sample(photo, test_frame(), &lm, 48, &cfg, r1);
  FaceSample b = warp_face_sample(photo, test_frame(), &lm, 48, &cfg, r2);
  FaceSample c = warp_face_sample(photo, test_frame(), &lm, 48, &cfg, r3);
  EXPECT_EQ(a.image.to_vector<float>(), b.image.to_vector<float>());
  for (int k = 0; k < 5; ++k) EXPECT_EQ((*a.points)[k].x, (*b.points)[k].x);
  EXPECT_EQ(r1.offset(), r2.offset());
  EXPECT_EQ(r1.offset(), 16u) << "8 uniform draws (2 words each) per sample";
  EXPECT_NE((*a.points)[0].x, (*c.points)[0].x);
  EXPECT_NE(a.image.to_vector<float>(), c.image.to_vector<float>());
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

TEST(FaceSample, RejectsBadArguments) {
  Rng rng(38);
  AugmentConfig cfg;
  const Landmarks5 lm{};
  const Image rgb(16, 16, 3);
  EXPECT_THROW(warp_face_sample(Image(16, 16, 1), Affine2::identity(), &lm, 8, &cfg, rng), Error);  // grey
  EXPECT_THROW(warp_face_sample(Image(), Affine2::identity(), &lm, 8, &cfg, rng), Error);
  EXPECT_THROW(warp_face_sample(rgb, Affine2::identity(), &lm, 0, &cfg, rng), Error);
  AugmentConfig bad_pair;
  bad_pair.flip_pairs = {{3, 5}};
  try {
    warp_face_sample(rgb, Affine2::identity(), &lm, 8, &bad_pair, rng);
    FAIL() << "expected ff::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("warp_face_sample"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("(3, 5)"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(warp_face_sample(rgb, Affine2::identity(), nullptr, 8, &cfg, rng));
}

}  // namespace
}  // namespace ff
