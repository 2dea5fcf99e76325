// tests/test_detect_loss.cpp — what the op table (tests/cases_detect.cpp) does not check of the
// detector's losses: argument errors, the losses against a direct evaluation of their formulas,
// NaN semantics (a NaN logit or a NaN prediction under the mask is never dropped; a NaN target
// under a zero mask is skipped), and, on a CUDA device (a GPU or the emulation), that the losses
// and their backward perform no host synchronisation.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "engine/ops.h"
#include "tests/test_util.h"

#ifdef FF_HAS_CUDA
#include "engine/cuda_runtime.h"
#endif

namespace ff::test {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

Tensor f64(std::vector<double> v, Shape s) { return Tensor::from_vector<double>(v, s); }

// The focal loss written out in double from its definition (log p and log(1 - p) directly).
double focal_reference(const std::vector<double>& x, const std::vector<double>& t, double a, double b) {
  double s = 0, npos = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double p = 1 / (1 + std::exp(-x[i]));
    if (t[i] == 1) {
      s += std::pow(1 - p, a) * std::log(p);
      ++npos;
    } else {
      s += std::pow(1 - t[i], b) * std::pow(p, a) * std::log(1 - p);
    }
  }
  return -s / std::max(1.0, npos);
}

TEST(DetectLoss, FocalLossMatchesItsDefinition) {
  const std::vector<double> x = {-2.0, -0.5, 0.0, 0.3, 1.7, 3.0, -1.1, 0.9};
  const std::vector<double> t = {1.0, 0.2, 0.0, 0.7, 1.0, 0.95, 0.0, 0.5};
  for (auto [a, b] : {std::pair{2.0, 4.0}, std::pair{1.5, 3.0}, std::pair{0.0, 0.0}}) {
    Tensor y = focal_loss(f64(x, {1, 1, 2, 4}), f64(t, {1, 1, 2, 4}), a, b);
    EXPECT_EQ(y.dim(), 0);
    EXPECT_NEAR(y.item(), focal_reference(x, t, a, b), 1e-12) << "alpha " << a << " beta " << b;
  }
  // Without positives the sum is divided by 1, not by 0.
  const std::vector<double> tn = {0.0, 0.2, 0.0, 0.7, 0.1, 0.95, 0.0, 0.5};
  EXPECT_NEAR(focal_loss(f64(x, {8}), f64(tn, {8})).item(), focal_reference(x, tn, 2, 4), 1e-12);
}

TEST(DetectLoss, FocalLossFiniteAtLargeLogits) {
  // A naive log(sigmoid(x)) is log(0) = -inf at x = -800 (exp overflows or p underflows).
  Tensor x = f64({-800.0, 800.0, 800.0, -800.0}, {4}), t = f64({1.0, 1.0, 0.0, 0.0}, {4});
  x.requires_grad_(true);
  Tensor y = focal_loss(x, t);
  EXPECT_NEAR(y.item(), 800.0 / 2 + 800.0 / 2, 1e-9);  // the two wrong ones, each softplus = 800
  y.backward();
  std::vector<double> g = x.grad().to_vector<double>();
  EXPECT_NEAR(g[0], -0.5, 1e-12);  // -(1 - p)^2 (2 p softplus(-x) + 1 - p) / 2 at p = 0
  EXPECT_NEAR(g[1], 0.0, 1e-12);
  EXPECT_NEAR(g[2], 0.5, 1e-12);
  EXPECT_NEAR(g[3], 0.0, 1e-12);
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor s = sigmoid(f64({-1e5, -100.0, 0.0, 100.0, 1e5}, {5}).to(dt));
    std::vector<double> v = s.to_vector<double>();
    EXPECT_EQ(v[0], 0.0);
    EXPECT_GT(v[1], 0.0);
    EXPECT_EQ(v[2], 0.5);
    EXPECT_EQ(v[4], 1.0);
  }
}

TEST(DetectLoss, NaNLogitGivesNaNLoss) {
  for (DType dt : {DType::F32, DType::F64}) {
    for (double target : {1.0, 0.3, 0.0}) {
      Tensor x = f64({0.5, kNaN, -0.5}, {3}).to(dt), t = f64({0.0, target, 1.0}, {3}).to(dt);
      EXPECT_TRUE(std::isnan(focal_loss(x, t).item())) << "NaN logit on a target of " << target;
    }
  }
}

TEST(DetectLoss, MaskedL1MatchesItsDefinition) {
  // pred, target [2, 2, 1, 2], mask [2, 1, 1, 2]
  const std::vector<double> p = {1.0, -2.0, 0.5, 3.0, 0.0, 1.0, 2.0, -1.0};
  const std::vector<double> t = {0.5, -1.0, 0.5, 1.0, 1.0, 1.0, -2.0, 0.0};
  const std::vector<double> m = {1.0, 0.0, 0.5, 2.0};
  double s = 0, msum = 0;
  for (int i = 0; i < 8; ++i) s += m[(i / 4) * 2 + i % 2] * std::fabs(p[i] - t[i]);
  for (double v : m) msum += v;
  Tensor pred = f64(p, {2, 2, 1, 2});
  pred.requires_grad_(true);
  Tensor y = masked_l1_loss(pred, f64(t, {2, 2, 1, 2}), f64(m, {2, 1, 1, 2}));
  EXPECT_EQ(y.dim(), 0);
  EXPECT_NEAR(y.item(), s / (2 * msum), 1e-12);
  y.backward();
  std::vector<double> g = pred.grad().to_vector<double>();
  for (int i = 0; i < 8; ++i) {
    const double d = p[i] - t[i], w = m[(i / 4) * 2 + i % 2];
    EXPECT_EQ(g[i], w * (d > 0 ? 1 : (d < 0 ? -1 : 0)) / (2 * msum)) << "element " << i;
  }
  // A mask of zeros: loss 0 over max(1, 0), nothing NaN.
  EXPECT_EQ(masked_l1_loss(f64(p, {2, 2, 1, 2}), f64(t, {2, 2, 1, 2}), Tensor::zeros({2, 1, 1, 2}, DType::F64)).item(), 0.0);
}

// Non-finite target values where mask == 0 are skipped; a NaN or infinite prediction where
// mask > 0 makes the loss NaN or infinite.
TEST(DetectLoss, MaskedL1SkipsUnlabelledCellsOnly) {
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor m = f64({1.0, 0.0, 0.0, 1.0}, {1, 1, 2, 2}).to(dt);
    Tensor t0 = f64({0.5, 0.0, 0.0, -0.5}, {1, 1, 2, 2}).to(dt);
    Tensor tbad = f64({0.5, kNaN, kInf, -0.5}, {1, 1, 2, 2}).to(dt);
    Tensor p = f64({1.0, 2.0, 3.0, 4.0}, {1, 1, 2, 2}).to(dt);
    Tensor pg = p.clone();
    pg.requires_grad_(true);
    Tensor y = masked_l1_loss(pg, tbad, m);
    EXPECT_EQ(y.item(), masked_l1_loss(p, t0, m).item());
    EXPECT_TRUE(std::isfinite(y.item()));
    y.backward();
    for (double g : pg.grad().to_vector<double>()) EXPECT_TRUE(std::isfinite(g));
    // masked-out NaN prediction: skipped too; masked-in: NaN
    EXPECT_TRUE(std::isfinite(masked_l1_loss(f64({1.0, kNaN, 3.0, 4.0}, {1, 1, 2, 2}).to(dt), t0, m).item()));
    EXPECT_TRUE(std::isnan(masked_l1_loss(f64({kNaN, 2.0, 3.0, 4.0}, {1, 1, 2, 2}).to(dt), t0, m).item()));
    EXPECT_TRUE(std::isinf(masked_l1_loss(f64({1.0, 2.0, 3.0, kInf}, {1, 1, 2, 2}).to(dt), t0, m).item()));
  }
}

TEST(DetectLoss, ArgumentErrorsNameTheOpAndTensors) {
  Tensor x = Tensor::zeros({1, 1, 4, 4}), t = Tensor::zeros({1, 1, 4, 4});
  expect_throw_with([&] { focal_loss(x, Tensor::zeros({1, 1, 4, 5})); }, {"focal_loss", "shapes differ", "[1, 1, 4, 5]"});
  expect_throw_with([&] { focal_loss(x, Tensor::zeros({1, 1, 4, 4}, DType::F64)); }, {"focal_loss", "dtypes differ", "float64"});
  expect_throw_with([&] { focal_loss(x, Tensor()); }, {"focal_loss", "target"});
  expect_throw_with([&] { focal_loss(Tensor::zeros({0}), Tensor::zeros({0})); }, {"focal_loss", "empty"});
  expect_throw_with([&] { focal_loss(x, t, -1, 4); }, {"focal_loss", "alpha"});
  expect_throw_with([&] { focal_loss(x, Tensor::zeros({1, 1, 4, 4}, DType::I64)); }, {"focal_loss", "target", "float32 or float64"});
  Tensor tg = t.clone();
  tg.requires_grad_(true);
  expect_throw_with([&] { focal_loss(x, tg); }, {"focal_loss", "target", "requires a gradient"});
  expect_throw_with([&] { sigmoid(Tensor::zeros({2}, DType::I64)); }, {"sigmoid", "float32 or float64"});

  Tensor p = Tensor::zeros({2, 3, 4, 5}), pt = Tensor::zeros({2, 3, 4, 5}), m = Tensor::zeros({2, 1, 4, 5});
  expect_throw_with([&] { masked_l1_loss(p, Tensor::zeros({2, 3, 4, 6}), m); }, {"masked_l1_loss", "shapes differ"});
  expect_throw_with([&] { masked_l1_loss(p, pt, Tensor::zeros({2, 3, 4, 5})); }, {"masked_l1_loss", "mask", "[N, 1, H, W]"});
  expect_throw_with([&] { masked_l1_loss(p, pt, Tensor::zeros({1, 1, 4, 5})); }, {"masked_l1_loss", "mask", "[1, 1, 4, 5]"});
  expect_throw_with([&] { masked_l1_loss(p, pt, Tensor::zeros({2, 4, 5})); }, {"masked_l1_loss", "mask", "4 dims"});
  expect_throw_with([&] { masked_l1_loss(Tensor::zeros({3, 4, 5}), Tensor::zeros({3, 4, 5}), m); }, {"masked_l1_loss", "pred", "4 dims"});
  expect_throw_with([&] { masked_l1_loss(p, pt, Tensor::zeros({2, 1, 4, 5}, DType::F64)); }, {"masked_l1_loss", "dtypes differ"});
  Tensor mg = m.clone();
  mg.requires_grad_(true);
  expect_throw_with([&] { masked_l1_loss(p, pt, mg); }, {"masked_l1_loss", "mask", "requires a gradient"});
  Tensor ptg = pt.clone();
  ptg.requires_grad_(true);
  expect_throw_with([&] { masked_l1_loss(p, ptg, m); }, {"masked_l1_loss", "target", "requires a gradient"});
}

TEST(DetectLossCuda, DeviceMismatchAndFloat64Throw) {
  FF_SKIP_WITHOUT_CUDA("device checks of the detection losses");
  const Device dev = Device::cuda();
  Tensor x = Tensor::zeros({1, 1, 4, 4}, DType::F32, dev), t = Tensor::zeros({1, 1, 4, 4});
  expect_throw_with([&] { focal_loss(x, t); }, {"focal_loss", "different devices"});
  expect_throw_with([&] { masked_l1_loss(x, t, Tensor::zeros({1, 1, 4, 4})); }, {"masked_l1_loss", "different devices"});
  expect_throw_with([&] { masked_l1_loss(x, x, Tensor::zeros({1, 1, 4, 4})); }, {"masked_l1_loss", "different devices"});
  Tensor x64 = Tensor::empty({4}, DType::F64, dev);  // (zeros would fail in fill_, itself float32-only)
  expect_throw_with([&] { sigmoid(x64); }, {"sigmoid", "float32"});
  expect_throw_with([&] { focal_loss(x64, x64); }, {"focal_loss", "float32"});
}

#ifdef FF_HAS_CUDA
// Forward and backward of both losses on the device read nothing back (the positives are counted
// there), and the values agree with the CPU.
TEST(DetectLossCuda, LossesDoNotSynchronise) {
  FF_SKIP_WITHOUT_CUDA("host synchronisations of the detection losses");
  const Device dev = Device::cuda();
  Rng rng(7);
  Tensor x = Tensor::empty({2, 1, 48, 50}), t = Tensor::empty({2, 1, 48, 50});  // 4800: two reduction blocks
  uniform_(x, -3, 3, rng);
  uniform_(t, 0, 0.9, rng);
  float* pt = t.data<float>();
  for (int i = 0; i < 4800; i += 97) pt[i] = 1.f;
  Tensor p = Tensor::empty({2, 4, 48, 50}), q = Tensor::empty({2, 4, 48, 50}), m = Tensor::empty({2, 1, 48, 50});
  uniform_(p, -1, 1, rng);
  uniform_(q, -1, 1, rng);
  uniform_(m, 0, 1, rng);
  Tensor xg = x.to(dev), tg = t.to(dev), pg = p.to(dev), qg = q.to(dev), mg = m.to(dev);
  xg.requires_grad_(true);
  pg.requires_grad_(true);
  const int64_t before = cudart::host_syncs();
  Tensor f = focal_loss(xg, tg), l = masked_l1_loss(pg, qg, mg);
  Tensor s = sigmoid(xg);
  add(f, l).backward();
  EXPECT_EQ(cudart::host_syncs() - before, 0) << "a detection loss read something back";
  EXPECT_NEAR(f.item(), focal_loss(x, t).item(), 1e-4 * std::fabs(focal_loss(x, t).item()));
  EXPECT_NEAR(l.item(), masked_l1_loss(p, q, m).item(), 1e-5);
}
#endif

}  // namespace
}  // namespace ff::test
