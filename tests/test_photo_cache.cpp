// tests/test_photo_cache.cpp — DCT-domain downscaled JPEG decoding (data/image.h
// decode_image_scaled), its geometry, the photo cache of the training loaders (data/photo_cache.h)
// and the aligned faces made from a downscaled photo.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <vector>

#include "data/image.h"
#include "data/photo_cache.h"
#include "face/embed.h"
#include "tests/test_util.h"

namespace ff {
namespace {

using test::TempDir;

// A smooth colour picture with a Gaussian blob (sigma 12 px) centred at (cx, cy) in its blue channel.
Image picture(int w, int h, double cx, double cy) {
  Image img(w, h, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double r2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
      img.at(x, y, 0) = static_cast<uint8_t>(40 + 60 * x / w);
      img.at(x, y, 1) = static_cast<uint8_t>(50 + 50 * y / h);
      img.at(x, y, 2) = static_cast<uint8_t>(std::lround(60 + 195 * std::exp(-r2 / (2 * 144.0))));
    }
  return img;
}

// The blob's centroid: blue above its background level of 60 as the weight.
Point2 bright_centroid(const Image& img) {
  double sx = 0, sy = 0, sw = 0;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      const double v = img.at(x, y, 2) - 66.0;  // a margin over the background for JPEG noise
      if (v <= 0) continue;
      sx += v * x;
      sy += v * y;
      sw += v;
    }
  return {sx / sw, sy / sw};
}

TEST(PhotoDecode, ScaledJpegHasTheReducedSizeAndGeometry) {
  TempDir tmp;
  const double cx = 301.3, cy = 122.6;
  save_jpeg(picture(611, 402, cx, cy), tmp.file("p.jpg"), 95);
  const Point2 full = bright_centroid(load_image(tmp.file("p.jpg")));
  for (int d : {1, 2, 4, 8}) {
    int used = 0;
    Image s = load_image_scaled(tmp.file("p.jpg"), d, 3, &used);
    EXPECT_EQ(used, d);
    EXPECT_EQ(s.width, (611 + d - 1) / d) << "denominator " << d;
    EXPECT_EQ(s.height, (402 + d - 1) / d) << "denominator " << d;
    DecodedPhoto p;
    p.denom = d;
    const Point2 want = apply_affine(p.from_full(), full);
    const Point2 got = bright_centroid(s);
    // The blob's centre lands where (p + 0.5) / d - 0.5 puts it; p / d (the other convention)
    // would miss by 0.5 - 0.5 / d decoded pixels: 0.25 at 1/2, 0.44 at 1/8.
    EXPECT_NEAR(got.x, want.x, 0.08) << "denominator " << d;
    EXPECT_NEAR(got.y, want.y, 0.08) << "denominator " << d;
  }
}

TEST(PhotoDecode, NonJpegDecodesInFullAndBadDenominatorsThrow) {
  TempDir tmp;
  save_png(picture(40, 30, 20, 15), tmp.file("p.png"));
  int used = 0;
  Image s = load_image_scaled(tmp.file("p.png"), 4, 3, &used);
  EXPECT_EQ(used, 1);
  EXPECT_EQ(s.width, 40);
  save_jpeg(picture(40, 30, 20, 15), tmp.file("p.jpg"));
  test::expect_throw_with([&] { load_image_scaled(tmp.file("p.jpg"), 3); }, {"p.jpg", "denominator must be 1, 2, 4 or 8, got 3"});
  test::expect_throw_with([&] { load_image_scaled(tmp.file("missing.jpg"), 2); }, {"missing.jpg", "cannot open"});
  EXPECT_EQ(dct_denominator(1.99), 1);
  EXPECT_EQ(dct_denominator(2.0), 2);
  EXPECT_EQ(dct_denominator(7.9), 4);
  EXPECT_EQ(dct_denominator(100), 8);
  EXPECT_EQ(dct_denominator(std::nan("")), 1);
}

TEST(PhotoCache, KeepsWithinItsBudgetAndCountsHits) {
  TempDir tmp;
  for (int i = 0; i < 4; ++i) save_jpeg(picture(100, 80, 50, 40), tmp.file(std::to_string(i) + ".jpg"));
  // Room for two full photos (100 x 80 x 3 bytes each) and one at 1/2, not three full ones.
  PhotoCache cache(2 * 100 * 80 * 3 + 50 * 40 * 3 + 100);
  auto a = cache.get(tmp.file("0.jpg"));
  auto a2 = cache.get(tmp.file("0.jpg"));
  EXPECT_EQ(a.get(), a2.get()) << "a kept photo is served from memory";
  cache.get(tmp.file("1.jpg"));
  cache.get(tmp.file("2.jpg"));  // no room: decoded, not kept
  auto c1 = cache.get(tmp.file("2.jpg")), c2 = cache.get(tmp.file("2.jpg"));
  EXPECT_NE(c1.get(), c2.get()) << "a photo beyond the budget is decoded for each use";
  auto q = cache.get(tmp.file("3.jpg"), 2);  // a quarter of the bytes: fits
  EXPECT_EQ(q->image.width, 50);
  PhotoCache::Stats s = cache.stats();
  EXPECT_EQ(s.hits, 1);
  EXPECT_EQ(s.misses, 6);
  EXPECT_EQ(s.kept, 3);
  EXPECT_EQ(s.not_kept, 3);
  EXPECT_EQ(s.kept_bytes, 2 * 100 * 80 * 3 + 50 * 40 * 3);
  EXPECT_LE(s.kept_bytes, s.budget_bytes);
  EXPECT_NE(s.str().find("3 photos"), std::string::npos) << s.str();
  PhotoCache none(0);
  none.get(tmp.file("0.jpg"));
  EXPECT_EQ(none.stats().kept, 0);
  test::expect_throw_with([] { PhotoCache bad(-1); }, {"negative budget"});
}

// The loader's workers share one cache: concurrent gets of the same photos give one kept copy each
// and count every get once.
TEST(PhotoCache, ConcurrentGetsAgree) {
  TempDir tmp;
  for (int i = 0; i < 8; ++i) save_jpeg(picture(64, 64, 30, 30), tmp.file(std::to_string(i) + ".jpg"));
  PhotoCache cache(int64_t{1} << 30);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int r = 0; r < 20; ++r)
        for (int i = 0; i < 8; ++i) ASSERT_EQ(cache.get(tmp.file(std::to_string(i) + ".jpg"))->image.width, 64);
    });
  for (auto& t : threads) t.join();
  PhotoCache::Stats s = cache.stats();
  EXPECT_EQ(s.kept, 8);
  EXPECT_EQ(s.hits + s.misses, 4 * 20 * 8);
  EXPECT_EQ(s.kept_bytes, 8 * 64 * 64 * 3);
}

// The reduction follows the frame's scale: a face that spans 4x its output pixels affords 1/4 (1/2
// when the augmentation may zoom in by up to 1.25), one at the output's scale nothing.
TEST(PhotoCache, FrameDenominatorFollowsTheScale) {
  EXPECT_EQ(frame_denominator(Affine2::similarity(0.25, 0.3, 5, 7), 1.0), 4);
  EXPECT_EQ(frame_denominator(Affine2::similarity(0.25, 0.3, 5, 7), 1.25), 2);
  EXPECT_EQ(frame_denominator(Affine2::similarity(0.9, 0.0, 0, 0), 1.0), 1);
  EXPECT_EQ(frame_denominator(Affine2::similarity(0.01, 0.0, 0, 0), 1.0), 8);
  EXPECT_EQ(frame_denominator(Affine2::scaling(0, 0), 1.0), 1);
}

// An aligned face made from the photo decoded at 1/2 (its landmarks moved into those pixels) is
// the face made from the full decode, up to the detail the reduction removes.
TEST(PhotoCache, AlignedFaceFromAReducedPhotoMatchesTheFullOne) {
  TempDir tmp;
  Image img(480, 480, 3);
  for (int y = 0; y < 480; ++y)
    for (int x = 0; x < 480; ++x)
      for (int c = 0; c < 3; ++c)
        img.at(x, y, c) = static_cast<uint8_t>(128 + 100 * std::sin(x * 0.03 + c) * std::cos(y * 0.02));
  save_jpeg(img, tmp.file("face.jpg"), 95);
  // Eyes 140 px apart: a 112 crop (eyes ~35 px apart) affords 1/2 even at zoom 1.25 (and 1/4 at 1).
  FaceRecord r;
  r.path = tmp.file("face.jpg");
  r.landmarks = Landmarks5{Point2{170, 200}, Point2{310, 198}, Point2{240, 280}, Point2{185, 350}, Point2{295, 349}};
  Landmarks5 l;
  auto reduced = aligned_photo(r, 112, 1.25, nullptr, &l);
  ASSERT_EQ(reduced->denom, 2);
  EXPECT_EQ(reduced->image.width, 240);
  const Tensor from_full = make_eval_face(load_image(r.path), *r.landmarks, 112, false);
  const Tensor from_half = make_eval_face(reduced->image, l, 112, false);
  std::vector<float> a = from_full.to_vector<float>(), b = from_half.to_vector<float>();
  double mad = 0;
  for (size_t i = 0; i < a.size(); ++i) mad += std::fabs(a[i] - b[i]);
  mad /= static_cast<double>(a.size());
  // Normalised units (1/0.226 per unit of [0, 1]): a shift of half a full-size pixel in the
  // landmarks' mapping gives ~0.05 on this picture; the reduction itself stays well under that.
  EXPECT_LT(mad, 0.03);
}

}  // namespace
}  // namespace ff
