// tests/test_heatmap.cpp — Gaussian heatmap targets and their decoding (engine/ops_geometry.h,
// kernels/heatmap.*): the rendered values, render-then-decode round trips for both decoders, the
// decoders' edge cases, CUDA against CPU, argument errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "engine/ops_geometry.h"
#include "tests/test_util.h"

namespace ff {
namespace {

// B x K random sub-pixel points at least `margin` pixels inside an h x w map.
Tensor random_points(Rng& rng, int64_t b, int64_t k, int64_t h, int64_t w, double margin, DType dt = DType::F32) {
  std::vector<double> v;
  for (int64_t i = 0; i < b * k; ++i) {
    v.push_back(rng.uniform(margin, w - 1 - margin));
    v.push_back(rng.uniform(margin, h - 1 - margin));
  }
  return Tensor::from_vector(v, {b, k, 2}).to(dt);
}

TEST(Heatmap, RenderedValues) {
  Tensor pts = Tensor::from_vector(std::vector<double>{3.25, 4.5, 0.0, 0.0}, {1, 2, 2});
  Tensor maps = render_heatmaps(pts, 8, 10, 1.5);
  ASSERT_EQ(maps.shape(), (Shape{1, 2, 8, 10}));
  ASSERT_EQ(maps.dtype(), DType::F64);
  std::vector<double> m = maps.to_vector<double>();
  for (int64_t y = 0; y < 8; ++y) {
    for (int64_t x = 0; x < 10; ++x) {
      double want = std::exp(-((x - 3.25) * (x - 3.25) + (y - 4.5) * (y - 4.5)) / (2 * 1.5 * 1.5));
      EXPECT_NEAR(m[y * 10 + x], want, 1e-15) << "pixel (" << x << ", " << y << ")";
    }
  }
  EXPECT_DOUBLE_EQ(m[80], 1.0);  // second map: peak 1 exactly at its integer point (0, 0)
  // float32 agrees with float64.
  Tensor f = render_heatmaps(pts.to(DType::F32), 8, 10, 1.5);
  test::expect_close(f, maps, 0.0, 1e-6, "float32 vs float64 render");
}

TEST(Heatmap, SoftArgmaxRoundTripWithinATenthOfAPixel) {
  Rng rng(21);
  const int64_t B = 4, K = 50, H = 64, W = 64;
  for (double sigma : {1.0, 2.0}) {
    const int64_t radius = 5;
    Tensor pts = random_points(rng, B, K, H, W, radius + 1.0);
    Tensor back = decode_heatmaps(render_heatmaps(pts, H, W, sigma), HeatmapDecode::SoftArgmax, radius);
    std::vector<float> p = pts.to_vector<float>(), q = back.to_vector<float>();
    double worst = 0;
    for (size_t i = 0; i < p.size(); ++i) worst = std::max(worst, std::fabs(double(p[i]) - q[i]));
    std::printf("[ heatmap ] soft-argmax (radius %d) round trip, sigma %.1f: worst error %.4f px per axis\n",
                static_cast<int>(radius), sigma, worst);
    EXPECT_LT(worst, 0.1) << "sigma " << sigma;
  }
}

TEST(Heatmap, QuarterPixelRoundTripWithinAQuarterPixel) {
  // The rule moves the argmax pixel 0.25 toward the larger neighbour, so for a true offset d in
  // [-0.5, 0.5] from the argmax pixel it answers +-0.25: error |d -+ 0.25| <= 0.25 per axis,
  // mean 0.125 for uniformly spread offsets (versus 0.25 mean for the bare argmax).
  Rng rng(22);
  const int64_t B = 8, K = 50, H = 64, W = 48;
  Tensor pts = random_points(rng, B, K, H, W, 2.0);
  Tensor maps = render_heatmaps(pts, H, W, 2.0);
  std::vector<float> p = pts.to_vector<float>(), q = decode_heatmaps(maps).to_vector<float>();
  double worst = 0, total = 0, worst_euclid = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    double e = std::fabs(double(p[i]) - q[i]);
    worst = std::max(worst, e);
    total += e;
    if (i % 2 == 1) worst_euclid = std::max(worst_euclid, std::hypot(double(p[i - 1]) - q[i - 1], double(p[i]) - q[i]));
  }
  const double mean = total / static_cast<double>(p.size());
  std::printf("[ heatmap ] quarter-pixel round trip: worst %.4f px per axis, mean %.4f px, worst distance %.4f px\n",
              worst, mean, worst_euclid);
  EXPECT_LE(worst, 0.25 + 1e-5);
  EXPECT_LE(worst_euclid, 0.3536 + 1e-5);
  EXPECT_GT(mean, 0.10);  // 800 uniform offsets: mean 0.125 +- 0.003
  EXPECT_LT(mean, 0.15);
  // The bare argmax would be twice as far off on average: the refinement does something.
  std::vector<float> a;
  for (size_t i = 0; i < p.size(); ++i) a.push_back(std::round(p[i]));
  double argmax_total = 0;
  for (size_t i = 0; i < p.size(); ++i) argmax_total += std::fabs(double(p[i]) - a[i]);
  EXPECT_GT(argmax_total / p.size(), 1.6 * mean);
}

TEST(Heatmap, DecodeEdgeCases) {
  const int64_t H = 5, W = 6;
  // A peak on the left edge at an integer point: no left neighbour, so x stays; y refines.
  std::vector<float> m(H * W, 0.f);
  m[2 * W + 0] = 1.f;
  m[3 * W + 0] = 0.5f;  // larger neighbour below
  m[1 * W + 0] = 0.2f;
  Tensor q = decode_heatmaps(Tensor::from_vector(m, {1, 1, H, W}));
  EXPECT_EQ(q.to_vector<float>(), (std::vector<float>{0.f, 2.25f}));
  // Equal neighbours: no step.
  std::vector<float> s(H * W, 0.f);
  s[2 * W + 3] = 1.f, s[2 * W + 2] = s[2 * W + 4] = 0.4f, s[1 * W + 3] = s[3 * W + 3] = 0.3f;
  EXPECT_EQ(decode_heatmaps(Tensor::from_vector(s, {1, 1, H, W})).to_vector<float>(), (std::vector<float>{3.f, 2.f}));
  // Ties go to the first pixel in row-major order.
  std::vector<float> t(H * W, 0.f);
  t[1 * W + 4] = 2.f, t[3 * W + 1] = 2.f;
  EXPECT_EQ(decode_heatmaps(Tensor::from_vector(t, {1, 1, H, W}), HeatmapDecode::SoftArgmax, 0).to_vector<float>(),
            (std::vector<float>{4.f, 1.f}));
  // Nothing positive: the soft-argmax keeps the argmax (the largest, here -0.1 at (2, 3)).
  std::vector<float> neg(H * W, -1.f);
  neg[3 * W + 2] = -0.1f;
  EXPECT_EQ(decode_heatmaps(Tensor::from_vector(neg, {1, 1, H, W}), HeatmapDecode::SoftArgmax, 2).to_vector<float>(),
            (std::vector<float>{2.f, 3.f}));
  // Negative values are clipped, not subtracted: a symmetric pair of weights around x = 2.
  std::vector<float> w(H * W, -5.f);
  w[0 * W + 1] = 1.f, w[0 * W + 3] = 1.f, w[0 * W + 2] = 2.f;
  EXPECT_EQ(decode_heatmaps(Tensor::from_vector(w, {1, 1, H, W}), HeatmapDecode::SoftArgmax, 3).to_vector<float>(),
            (std::vector<float>{2.f, 0.f}));
  // NaN never wins the argmax.
  std::vector<float> n(H * W, 0.f);
  n[0] = NAN, n[4 * W + 5] = 0.5f;
  EXPECT_EQ(decode_heatmaps(Tensor::from_vector(n, {1, 1, H, W})).to_vector<float>(), (std::vector<float>{5.f, 4.f}));
  // float64 works too.
  EXPECT_EQ(decode_heatmaps(Tensor::from_vector(m, {1, 1, H, W}).to(DType::F64)).to_vector<double>(),
            (std::vector<double>{0.0, 2.25}));
}

TEST(Heatmap, RejectsBadArguments) {
  Tensor pts = Tensor::zeros({2, 5, 2});
  EXPECT_THROW(render_heatmaps(Tensor::zeros({2, 5, 3}), 8, 8, 2.0), Error);
  EXPECT_THROW(render_heatmaps(Tensor::zeros({10, 2}), 8, 8, 2.0), Error);
  EXPECT_THROW(render_heatmaps(Tensor::zeros({2, 5, 2}, DType::I64), 8, 8, 2.0), Error);
  EXPECT_THROW(render_heatmaps(pts, 0, 8, 2.0), Error);
  EXPECT_THROW(render_heatmaps(pts, 8, 8, 0.0), Error);
  EXPECT_THROW(render_heatmaps(pts, 8, 8, NAN), Error);
  EXPECT_THROW(render_heatmaps(Tensor(), 8, 8, 2.0), Error);
  EXPECT_THROW(decode_heatmaps(Tensor::zeros({2, 5, 8})), Error);
  EXPECT_THROW(decode_heatmaps(Tensor::zeros({2, 5, 0, 8})), Error);
  EXPECT_THROW(decode_heatmaps(Tensor::zeros({2, 5, 8, 8}, DType::U8)), Error);
  EXPECT_THROW(decode_heatmaps(Tensor::zeros({2, 5, 8, 8}), HeatmapDecode::SoftArgmax, -1), Error);
  try {
    render_heatmaps(Tensor::zeros({2, 5, 3}), 8, 8, 2.0);
    FAIL() << "expected ff::Error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("render_heatmaps"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[2, 5, 3]"), std::string::npos) << msg;
  }
}

TEST(Heatmap, CudaMatchesCpu) {
  FF_SKIP_WITHOUT_CUDA("heatmap CUDA-vs-CPU check");
  test::PoisonGuard poison;  // outputs start as NaN: an unwritten element fails
  Rng rng(23);
  struct Size { int64_t b, k, h, w; };
  for (Size s : {Size{2, 5, 64, 64}, Size{3, 7, 17, 23}, Size{1, 1, 1, 1}, Size{70, 1000, 5, 3}}) {
    Tensor pts = random_points(rng, s.b, s.k, s.h, s.w, -2.0);  // some centres off the map
    Tensor cpu = render_heatmaps(pts, s.h, s.w, 1.7);
    Tensor gpu = render_heatmaps(pts.to(Device::cuda()), s.h, s.w, 1.7);
    ASSERT_TRUE(gpu.device().is_cuda());
    test::expect_close(gpu, cpu, 1e-5, 1e-6, "render cuda vs cpu " + shape_str(cpu.shape()));
    // Decode the same maps (taken from the CPU, plus noise so peaks are not all clean).
    Tensor noisy = cpu.clone();
    Tensor noise = Tensor::empty(cpu.shape());
    uniform_(noise, -0.05, 0.05, rng);
    add_(noisy, noise);
    for (HeatmapDecode method : {HeatmapDecode::QuarterPixel, HeatmapDecode::SoftArgmax}) {
      Tensor dc = decode_heatmaps(noisy, method, 3);
      Tensor dg = decode_heatmaps(noisy.to(Device::cuda()), method, 3);
      ASSERT_TRUE(dg.device().is_cuda());
      test::expect_close(dg, dc, 1e-6, 1e-6, "decode cuda vs cpu " + shape_str(cpu.shape()));
    }
  }
}

// The decoders on maps holding NaN and infinities: the argmax order (heatmap_better: NaN never
// wins, ties to the smaller index) is a total order, so the CUDA block tree and the CPU scan must
// pick the same pixel; an all-NaN map decodes to pixel 0; a +inf peak refines to NaN (inf - inf)
// under the soft-argmax on both. Points must agree, NaN for NaN.
TEST(Heatmap, CudaMatchesCpuOnNonFiniteMaps) {
  FF_SKIP_WITHOUT_CUDA("heatmap decode CUDA-vs-CPU check on NaN and infinite maps");
  test::PoisonGuard poison;
  Rng rng(24);
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const int64_t b = 2, k = 6, h = 19, w = 21, hw = h * w;
  Tensor maps = Tensor::empty({b, k, h, w});
  uniform_(maps, -0.5, 1.0, rng);
  float* p = maps.data<float>();
  for (int64_t i = 0; i < hw; ++i) p[0 * hw + i] = nan;  // map 0: all NaN
  p[1 * hw + 40] = nan;                                    // map 1: NaN beside a normal peak
  p[1 * hw + 41] = 5.0f;
  p[2 * hw + 100] = inf;                                   // map 2: a +inf peak
  p[3 * hw + 7] = p[3 * hw + 300] = inf;                   // map 3: tied +inf, smaller index wins
  for (int64_t i = 0; i < hw; ++i) p[4 * hw + i] = -inf;   // map 4: all -inf
  p[5 * hw + 200] = -inf;                                  // map 5: -inf and a NaN among finite values
  p[5 * hw + 201] = nan;
  for (HeatmapDecode method : {HeatmapDecode::QuarterPixel, HeatmapDecode::SoftArgmax}) {
    Tensor dc = decode_heatmaps(maps, method, 3);
    Tensor dg = decode_heatmaps(maps.to(Device::cuda()), method, 3);
    ASSERT_TRUE(dg.device().is_cuda());
    test::expect_close(dg, dc, 1e-6, 1e-6, std::string("decode of non-finite maps, ") +
                                               (method == HeatmapDecode::SoftArgmax ? "soft-argmax" : "quarter-pixel"),
                       true);
  }
}

}  // namespace
}  // namespace ff
