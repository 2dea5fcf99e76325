// tests/test_warp.cpp — the batched affine warp (engine/ops_geometry.h, kernels/warp.*).
//
// Against OpenCV (tests/data/geometry/warp.safetensors, /usr/bin/python3
// tools/make_geometry_goldens.py): cv2.warpAffine snaps every source position to a 1/32-pixel grid
// and uses 15-bit fixed-point weights; we interpolate exactly. The difference is at most
// (|dI/dx| + |dI/dy|) * (1/64 + 1/1024) plus rounding, so:
//   - on random images whose neighbouring pixels differ by <= 26 levels ("smooth" cases, border
//     step included) OpenCV's error stays below one level and the rounded results agree within
//     one level, which we assert for every pixel;
//   - on white-noise images (steps up to 255) OpenCV itself is off by up to ~5 levels; there we
//     assert the derived bound (9 levels) against OpenCV and compare tightly with an exact float64
//     numpy bilinear reference stored beside it.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/ops_geometry.h"
#include "engine/random.h"
#include "kernels/warp.h"
#include "engine/safetensors.h"
#include "tests/test_util.h"
#include "data/geometry.h"

namespace ff {
namespace {

int kernels_detail_store(float v) { return detail::warp_store<uint8_t, float>(v); }

SafeTensors warp_goldens() {
  static SafeTensors g = read_safetensors(std::string(FF_SOURCE_DIR) + "/tests/data/geometry/warp.safetensors");
  return g;
}

// Random image batch: uint8 uniform in 0..255 or float uniform in [lo, hi).
Tensor random_images(Rng& rng, const Shape& shape, DType dt) {
  Tensor f = Tensor::empty(shape, DType::F64);
  uniform_(f, 0.0, 256.0, rng);
  if (dt != DType::U8) return f.to(dt);
  std::vector<double> v = f.to_vector<double>();
  std::vector<uint8_t> u(v.size());
  for (size_t i = 0; i < v.size(); ++i) u[i] = static_cast<uint8_t>(std::min(255.0, std::floor(v[i])));
  return Tensor::from_vector(u, shape);
}

TEST(Warp, MatchesOpenCV) {
  SafeTensors g = warp_goldens();
  const int sets = std::stoi(g.metadata.at("sets"));
  ASSERT_EQ(sets, 8);
  int smooth_cases = 0, noise_cases = 0;
  for (int k = 0; k < sets; ++k) {
    std::string pre = std::to_string(k) + "/";
    std::vector<int32_t> p = g.at(pre + "params").to_vector<int32_t>();
    const int64_t oh = p[0], ow = p[1];
    const ImageLayout layout = p[2] ? ImageLayout::CHW : ImageLayout::HWC;
    const BorderMode border = p[3] ? BorderMode::Constant : BorderMode::Replicate;
    const bool smooth = p[4] != 0;
    const double value = g.at(pre + "border_value").item();
    const Tensor& src = g.at(pre + "src");
    const Tensor& ref = g.at(pre + "out");
    Tensor out = warp_affine(src, g.at(pre + "M"), oh, ow, layout, border, value);
    ASSERT_EQ(out.shape(), ref.shape()) << "case " << k;
    ASSERT_EQ(out.dtype(), src.dtype()) << "case " << k;
    std::vector<double> o = out.to_vector<double>(), r = ref.to_vector<double>();
    double worst = 0, total = 0;
    for (size_t i = 0; i < o.size(); ++i) {
      double d = std::fabs(o[i] - r[i]);
      worst = std::max(worst, d);
      total += d;
    }
    const double mean = total / static_cast<double>(o.size());
    std::string what = "case " + std::to_string(k) + " (" + src.str() + ", " + (smooth ? "smooth" : "white noise") +
                       ", " + (p[3] ? "constant" : "replicate") + ")";
    if (smooth) {
      ++smooth_cases;
      EXPECT_LE(worst, 1.0) << what << ": more than one level from OpenCV";
    } else {
      ++noise_cases;
      EXPECT_LE(worst, 9.0) << what << ": beyond OpenCV's quantisation bound";
      EXPECT_LT(mean, 1.0) << what;
    }
    if (g.has(pre + "exact")) {
      // Exact bilinear from numpy (float64, unrounded): ours rounds it (uint8) or matches it up to
      // float32 arithmetic on coordinates below 30 and values below 256.
      double tol = src.dtype() == DType::U8 ? 0.5 + 1e-3 : 2e-3;
      test::expect_close(out, g.at(pre + "exact"), 0.0, tol, what + " vs exact bilinear");
    }
    std::printf("[ warp vs OpenCV ] %s: max |diff| %.3f, mean %.3f\n", what.c_str(), worst, mean);
  }
  EXPECT_EQ(smooth_cases, 6);
  EXPECT_EQ(noise_cases, 2);
}

TEST(Warp, IdentityReturnsInputExactly) {
  Rng rng(11);
  for (DType dt : {DType::U8, DType::F32, DType::F64}) {
    for (ImageLayout layout : {ImageLayout::HWC, ImageLayout::CHW}) {
      for (BorderMode border : {BorderMode::Replicate, BorderMode::Constant}) {
        Tensor img = random_images(rng, {3, 13, 17, 3}, dt);  // read as CHW: C = 13, H = 17, W = 3
        int64_t h = layout == ImageLayout::HWC ? 13 : 17, w = layout == ImageLayout::HWC ? 17 : 3;
        Tensor m = affine_tensor({Affine2(), Affine2(), Affine2()});
        Tensor out = warp_affine(img, m, h, w, layout, border, 9.0);
        test::expect_close(out, img, 0.0, 0.0, std::string("identity warp ") + dtype_name(dt));
      }
    }
  }
}

TEST(Warp, IntegerTranslationIsAShift) {
  Rng rng(12);
  const int64_t H = 9, W = 11, C = 2;
  for (DType dt : {DType::U8, DType::F32}) {
    Tensor img = random_images(rng, {1, H, W, C}, dt);
    std::vector<double> in = img.to_vector<double>();
    for (BorderMode border : {BorderMode::Replicate, BorderMode::Constant}) {
      const int tx = 3, ty = -2;
      const int64_t oh = 8, ow = 12;
      Tensor out = warp_affine(img, affine_tensor({Affine2::translation(tx, ty)}), oh, ow, ImageLayout::HWC, border, 42.0);
      std::vector<double> o = out.to_vector<double>();
      int64_t bad = 0;
      for (int64_t y = 0; y < oh; ++y) {
        for (int64_t x = 0; x < ow; ++x) {
          int64_t sx = x - tx, sy = y - ty;  // destination (x, y) shows source (x - tx, y - ty)
          bool inside = sx >= 0 && sx < W && sy >= 0 && sy < H;
          int64_t cx = std::min<int64_t>(std::max<int64_t>(sx, 0), W - 1);  // replicate: clamp
          int64_t cy = std::min<int64_t>(std::max<int64_t>(sy, 0), H - 1);
          for (int64_t c = 0; c < C; ++c) {
            double want = inside || border == BorderMode::Replicate ? in[(cy * W + cx) * C + c] : 42.0;
            if (o[(y * ow + x) * C + c] != want) ++bad;
          }
        }
      }
      EXPECT_EQ(bad, 0) << dtype_name(dt) << (border == BorderMode::Constant ? " constant" : " replicate");
    }
  }
}

TEST(Warp, HalfPixelRoundsToNearestAndBordersBlend) {
  // One row [10, 13]; shifting right by half a pixel samples halfway: 11.5 -> 12 for uint8.
  Tensor img = Tensor::from_vector(std::vector<uint8_t>{10, 13}, {1, 1, 2, 1});
  Tensor out = warp_affine(img, affine_tensor({Affine2::translation(0.5, 0.0)}), 1, 3, ImageLayout::HWC,
                           BorderMode::Constant, 100.0);
  // x = 0 samples -0.5: halfway between the border (100) and 10 -> 55; x = 1: 11.5 -> 12;
  // x = 2: between 13 and the border -> 56.5 -> 57.
  EXPECT_EQ(out.to_vector<uint8_t>(), (std::vector<uint8_t>{55, 12, 57}));
  Tensor rep = warp_affine(img, affine_tensor({Affine2::translation(0.5, 0.0)}), 1, 3, ImageLayout::HWC);
  EXPECT_EQ(rep.to_vector<uint8_t>(), (std::vector<uint8_t>{10, 12, 13}));
  Tensor f = warp_affine(img.to(DType::F32), affine_tensor({Affine2::translation(0.5, 0.0)}), 1, 3, ImageLayout::HWC);
  EXPECT_EQ(f.to_vector<float>(), (std::vector<float>{10.f, 11.5f, 13.f}));
}

TEST(Warp, AnyChannelCountAndBothLayoutsAgree) {
  Rng rng(13);
  const int64_t B = 2, C = 7, H = 15, W = 12, oh = 14, ow = 16;
  Tensor chw = random_images(rng, {B, C, H, W}, DType::F32);
  std::vector<Affine2> ms = {Affine2::similarity(1.2, 0.7, 3.0, -2.0), Affine2::similarity(0.8, -2.5, 14.0, 10.0)};
  Tensor out = warp_affine(chw, affine_tensor(ms), oh, ow, ImageLayout::CHW, BorderMode::Constant, 0.5);
  ASSERT_EQ(out.shape(), (Shape{B, C, oh, ow}));
  std::vector<float> all = out.to_vector<float>(), in = chw.to_vector<float>();
  // Each channel alone (a one-channel batch) gives the same plane.
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t c = 0; c < C; ++c) {
      std::vector<float> plane(in.begin() + (b * C + c) * H * W, in.begin() + (b * C + c + 1) * H * W);
      Tensor one = warp_affine(Tensor::from_vector(plane, {1, 1, H, W}), affine_tensor({ms[b]}), oh, ow,
                               ImageLayout::CHW, BorderMode::Constant, 0.5);
      std::vector<float> o = one.to_vector<float>();
      for (int64_t i = 0; i < oh * ow; ++i)
        ASSERT_EQ(o[i], all[(b * C + c) * oh * ow + i]) << "b " << b << " c " << c << " pixel " << i;
    }
  }
  // The same images laid out HWC give the transposed result.
  std::vector<float> hwc(in.size());
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = 0; p < H * W; ++p) hwc[(b * H * W + p) * C + c] = in[(b * C + c) * H * W + p];
  Tensor out2 = warp_affine(Tensor::from_vector(hwc, {B, H, W, C}), affine_tensor(ms), oh, ow, ImageLayout::HWC,
                            BorderMode::Constant, 0.5);
  std::vector<float> o2 = out2.to_vector<float>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = 0; p < oh * ow; ++p)
        ASSERT_EQ(o2[(b * oh * ow + p) * C + c], all[(b * C + c) * oh * ow + p]);
}

// The CPU kernel's interior fast path (kernels/warp_cpu.cpp) against the shared per-pixel
// function warp_pixel on every pixel: equal bit for bit, for both layouts and all dtypes, with
// matrices that put part of each output outside the source (both paths run).
template <typename T>
void expect_fast_path_equals_warp_pixel(ImageLayout layout, BorderMode border, int64_t channels) {
  Rng rng(11);
  WarpShape s;
  s.batch = 3;
  s.channels = channels;
  s.in_h = 37;
  s.in_w = 41;
  s.out_h = 29;
  s.out_w = 33;
  s.layout = layout;
  s.border = border;
  std::vector<T> src(static_cast<size_t>(s.batch * s.in_h * s.in_w * channels));
  for (T& v : src) v = static_cast<T>(std::is_same<T, uint8_t>::value ? rng.next_u32() % 256 : rng.uniform(-1, 2));
  std::vector<float> m;
  for (int64_t b = 0; b < s.batch; ++b) {
    const double a = rng.uniform(-0.8, 0.8), sc = rng.uniform(0.6, 1.4);
    m.insert(m.end(), {static_cast<float>(sc * std::cos(a)), static_cast<float>(-sc * std::sin(a)),
                       static_cast<float>(rng.uniform(-10, 10)), static_cast<float>(sc * std::sin(a)),
                       static_cast<float>(sc * std::cos(a)), static_cast<float>(rng.uniform(-10, 10))});
  }
  std::vector<float> inverse(m.size());
  std::vector<T> fast(static_cast<size_t>(s.batch * s.out_h * s.out_w * channels)), ref(fast.size());
  cpu::warp_affine(src.data(), m.data(), inverse.data(), fast.data(), s, 0.25f);
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t y = 0; y < s.out_h; ++y)
      for (int64_t x = 0; x < s.out_w; ++x) warp_pixel(src.data(), ref.data(), inverse.data() + 6 * b, s, b, y, x, 0.25f);
  for (size_t i = 0; i < fast.size(); ++i) ASSERT_EQ(fast[i], ref[i]) << "element " << i;
}

// The uint8 store (round to nearest, saturate) equals floor(v + 0.5) clamped to [0, 255] on every
// float of [-2, 258) in steps of 1/4096 and on both neighbours of every half-integer (the rounding
// edges); NaN stores 0, infinities saturate.
TEST(Warp, Uint8StoreRoundsToNearestAndSaturates) {
  auto reference = [](float v) {
    float r = std::floor(v + 0.5f);
    return static_cast<int>(r < 0.f ? 0.f : (r > 255.f ? 255.f : r));
  };
  int64_t bad = 0;
  auto check = [&](float v) {
    int got = kernels_detail_store(v);
    if (got != reference(v) && bad++ < 5) ADD_FAILURE() << "v = " << v << ": " << got << ", expected " << reference(v);
  };
  for (int i = 0; i < 260 * 4096; ++i) check(-2.f + static_cast<float>(i) / 4096.f);
  for (int k = -2; k < 258; ++k) {
    const float h = k + 0.5f;
    check(std::nextafter(h, -1e9f));
    check(h);
    check(std::nextafter(h, 1e9f));
  }
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(kernels_detail_store(std::nanf("")), 0);
  EXPECT_EQ(kernels_detail_store(INFINITY), 255);
  EXPECT_EQ(kernels_detail_store(-INFINITY), 0);
}

TEST(Warp, CpuInteriorFastPathEqualsWarpPixel) {
  for (ImageLayout layout : {ImageLayout::HWC, ImageLayout::CHW})
    for (BorderMode border : {BorderMode::Replicate, BorderMode::Constant}) {
      expect_fast_path_equals_warp_pixel<uint8_t>(layout, border, 3);
      expect_fast_path_equals_warp_pixel<float>(layout, border, 3);
      expect_fast_path_equals_warp_pixel<float>(layout, border, 1);
      expect_fast_path_equals_warp_pixel<double>(layout, border, 2);
    }
}

TEST(Warp, Float64MatchesFloat32) {
  Rng rng(14);
  Tensor img = random_images(rng, {2, 10, 9, 3}, DType::F64);
  Tensor m = affine_tensor({Affine2::similarity(1.3, 0.2, 1.0, 2.0), Affine2::similarity(0.7, 2.0, 9.0, 4.0)});
  Tensor a = warp_affine(img, m, 11, 8, ImageLayout::HWC, BorderMode::Replicate);
  Tensor b = warp_affine(img.to(DType::F32), m, 11, 8, ImageLayout::HWC, BorderMode::Replicate);
  EXPECT_EQ(a.dtype(), DType::F64);
  test::expect_close(a, b, 0.0, 1e-3, "float64 vs float32 warp");
}

TEST(Warp, SingularMatrixSamplesOriginLikeOpenCV) {
  Rng rng(15);
  Tensor img = random_images(rng, {1, 4, 5, 2}, DType::U8);
  Tensor out = warp_affine(img, Tensor::zeros({1, 2, 3}), 3, 3, ImageLayout::HWC, BorderMode::Replicate);
  std::vector<uint8_t> in = img.to_vector<uint8_t>(), o = out.to_vector<uint8_t>();
  for (int64_t p = 0; p < 9; ++p) {
    EXPECT_EQ(o[p * 2], in[0]);
    EXPECT_EQ(o[p * 2 + 1], in[1]);
  }
}

TEST(Warp, FarOutsideAndEmptyBatch) {
  Tensor img = Tensor::full({1, 3, 3, 1}, 7.0);
  // Sources a million pixels away: replicate gives the edge, constant the border value.
  Tensor m = affine_tensor({Affine2::translation(1e6, -1e6)});
  EXPECT_EQ(warp_affine(img, m, 2, 2, ImageLayout::HWC, BorderMode::Replicate).to_vector<float>(),
            std::vector<float>(4, 7.f));
  EXPECT_EQ(warp_affine(img, m, 2, 2, ImageLayout::HWC, BorderMode::Constant, -1.0).to_vector<float>(),
            std::vector<float>(4, -1.f));
  Tensor none = warp_affine(Tensor::zeros({0, 3, 3, 1}), Tensor::zeros({0, 2, 3}), 4, 5, ImageLayout::HWC);
  EXPECT_EQ(none.shape(), (Shape{0, 4, 5, 1}));
}

TEST(Warp, RejectsBadArguments) {
  Tensor img = Tensor::zeros({2, 8, 8, 3});
  Tensor m = Tensor::zeros({2, 2, 3});
  auto hwc = ImageLayout::HWC;
  EXPECT_THROW(warp_affine(Tensor(), m, 4, 4, hwc), Error);
  EXPECT_THROW(warp_affine(Tensor::zeros({8, 8, 3}), m, 4, 4, hwc), Error);               // not 4-D
  EXPECT_THROW(warp_affine(Tensor::zeros({2, 8, 8, 3}, DType::I32), m, 4, 4, hwc), Error);  // dtype
  EXPECT_THROW(warp_affine(img, Tensor::zeros({3, 2, 3}), 4, 4, hwc), Error);             // batch
  EXPECT_THROW(warp_affine(img, Tensor::zeros({2, 3, 3}), 4, 4, hwc), Error);             // 3x3
  EXPECT_THROW(warp_affine(img, Tensor::zeros({2, 2, 3}, DType::F64), 4, 4, hwc), Error);  // float64 M
  EXPECT_THROW(warp_affine(img, m, 0, 4, hwc), Error);
  EXPECT_THROW(warp_affine(img, m, 4, -1, hwc), Error);
  EXPECT_THROW(warp_affine(Tensor::zeros({2, 8, 0, 3}), m, 4, 4, hwc), Error);             // empty width
  EXPECT_THROW(warp_affine(img, m, 4, 4, hwc, BorderMode::Constant, NAN), Error);
  Tensor u8 = Tensor::zeros({2, 8, 8, 3}, DType::U8);
  EXPECT_THROW(warp_affine(u8, m, 4, 4, hwc, BorderMode::Constant, 256.0), Error);
  EXPECT_THROW(warp_affine(u8, m, 4, 4, hwc, BorderMode::Constant, -1.0), Error);
  EXPECT_NO_THROW(warp_affine(u8, m, 4, 4, hwc, BorderMode::Replicate, 256.0));  // unused value
  try {
    warp_affine(img, Tensor::zeros({3, 2, 3}), 4, 4, hwc);
    FAIL() << "expected ff::Error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("warp_affine"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[3, 2, 3]"), std::string::npos) << msg;
  }
  if (cuda_available()) {
    EXPECT_THROW(warp_affine(img.to(Device::cuda()), m, 4, 4, hwc), Error);  // mixed devices
    EXPECT_THROW(warp_affine(Tensor::zeros({2, 8, 8, 3}, DType::F64).to(Device::cuda()), m.to(Device::cuda()), 4, 4, hwc),
                 Error);
  }
}

TEST(Warp, CudaMatchesCpu) {
  FF_SKIP_WITHOUT_CUDA("warp CUDA-vs-CPU check");
  test::PoisonGuard poison;  // every allocation (outputs included) starts as 0xFF: NaN / 255
  Rng rng(16);
  struct Size { int64_t b, h, w, c, oh, ow; };
  for (Size s : {Size{3, 31, 17, 3, 29, 33}, Size{2, 5, 7, 1, 13, 3}, Size{1, 64, 48, 4, 57, 61}, Size{4, 9, 9, 5, 1, 1}}) {
    std::vector<Affine2> ms;
    for (int64_t i = 0; i < s.b; ++i)
      ms.push_back(Affine2::similarity(rng.uniform(0.5, 2.0), rng.uniform(-3.2, 3.2), rng.uniform(-10, 20),
                                       rng.uniform(-10, 20)));
    Tensor m = affine_tensor(ms);
    for (DType dt : {DType::U8, DType::F32}) {
      for (ImageLayout layout : {ImageLayout::HWC, ImageLayout::CHW}) {
        for (BorderMode border : {BorderMode::Replicate, BorderMode::Constant}) {
          Shape shape = layout == ImageLayout::HWC ? Shape{s.b, s.h, s.w, s.c} : Shape{s.b, s.c, s.h, s.w};
          Tensor img = random_images(rng, shape, dt);
          Tensor cpu = warp_affine(img, m, s.oh, s.ow, layout, border, 17.0);
          Tensor gpu = warp_affine(img.to(Device::cuda()), m.to(Device::cuda()), s.oh, s.ow, layout, border, 17.0);
          ASSERT_TRUE(gpu.device().is_cuda());
          // Same arithmetic (kernels/warp.h) up to the GPU's fused multiply-adds, which move a
          // source coordinate (|x| < 200) by a few float ulps, ~2e-5 px; on white noise (steps up
          // to 255 levels per pixel) that is up to ~5e-3 levels. So: float within 1e-2 on values
          // below 256; uint8 within one level (a value sitting on a .5 boundary may round apart).
          test::expect_close(gpu, cpu, 0.0, dt == DType::U8 ? 1.0 : 1e-2,
                             std::string("warp cuda vs cpu ") + dtype_name(dt) + " " + shape_str(shape));
        }
      }
    }
  }
}

}  // namespace
}  // namespace ff
