// tests/test_norm.cpp — what the op cases (tests/cases_norm.cpp) cannot say about batch_norm2d,
// upsample_bilinear2d and dropout: running statistics over several steps against PyTorch, eval
// mode reading them, dropout's mask statistics, determinism and backend agreement, bad input.
//   ./build-cpu/ff_tests --gtest_filter='Norm*'
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "engine/random.h"
#include "engine/safetensors.h"
#include "layers/basic.h"
#include "kernels/philox.h"
#include "tests/op_cases.h"
#include "tests/test_util.h"

namespace ff::test {
namespace {

// Runs `f` and expects an ff::Error whose message names `op`.
template <typename F>
void expect_error(F f, const std::string& op, const std::string& what) {
  try {
    f();
    ADD_FAILURE() << what << ": no error raised";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(op), std::string::npos) << what << ": message does not name " << op
                                                                  << ": " << e.what();
  }
}

SafeTensors running_golden() {
  return read_safetensors(std::string(FF_SOURCE_DIR) + "/tests/data/ops/batch_norm2d_running.safetensors");
}

// Three training steps as tools/goldens/norm.py (bn_running) takes them, then eval on the last batch.
void check_running_stats(Device dev) {
  SafeTensors g = running_golden();
  Tensor gamma = g.at("0/in3").to(dev), beta = g.at("0/in4").to(dev);
  Tensor rm = Tensor::zeros({3}, DType::F32, dev), rv = Tensor::ones({3}, DType::F32, dev);
  for (int i = 0; i < 3; ++i) {
    Tensor x = g.at("0/in" + std::to_string(i)).to(dev);
    batch_norm2d(x, gamma, beta, rm, rv, true, 0.1, 1e-5);
  }
  std::vector<float> ref = g.at("0/out").to_vector<float>();  // [2, 3]: running mean, running var
  expect_close(rm, Tensor::from_vector(std::vector<float>(ref.begin(), ref.begin() + 3), {3}), 1e-5, 1e-6,
               "running_mean after 3 steps vs PyTorch on " + dev.str());
  expect_close(rv, Tensor::from_vector(std::vector<float>(ref.begin() + 3, ref.end()), {3}), 1e-5, 1e-6,
               "running_var after 3 steps vs PyTorch on " + dev.str());

  // Eval: y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta, statistics untouched.
  Tensor x = g.at("0/in2");
  Tensor rm_before = rm.clone(), rv_before = rv.clone();
  Tensor y = batch_norm2d(x.to(dev), gamma, beta, rm, rv, false, 0.1, 1e-5);
  std::vector<float> xv = x.to_vector<float>(), m = rm.to_vector<float>(), v = rv.to_vector<float>(),
                     gv = gamma.to_vector<float>(), bv = beta.to_vector<float>();
  std::vector<double> expect(xv.size());
  const int64_t C = 3, HW = x.size(2) * x.size(3);
  for (size_t i = 0; i < xv.size(); ++i) {
    int64_t c = (static_cast<int64_t>(i) / HW) % C;
    expect[i] = (xv[i] - m[c]) / std::sqrt(static_cast<double>(v[c]) + 1e-5) * gv[c] + bv[c];
  }
  expect_close(y, Tensor::from_vector(expect, x.shape()), 1e-5, 1e-6, "eval output from running stats on " + dev.str());
  expect_close(rm, rm_before, 0, 0, "eval must not change running_mean");
  expect_close(rv, rv_before, 0, 0, "eval must not change running_var");
}

TEST(NormBatchNorm, RunningStatsMatchPyTorchAndEvalUsesThem) { check_running_stats(Device::cpu()); }

TEST(NormBatchNorm, RunningStatsMatchPyTorchCuda) {
  FF_SKIP_WITHOUT_CUDA("cuDNN running statistics");
  FF_SKIP_STAND_IN("batch_norm2d running statistics are cuDNN");
  check_running_stats(Device::cuda());
}

// The running variance takes the unbiased batch variance: one step with momentum 1 leaves exactly
// the batch's unbiased variance (the known example [1, 2, 3, 4] -> 5/3), the normalisation the
// biased one (1.25).
TEST(NormBatchNorm, RunningVarIsUnbiasedNormalisationBiased) {
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {4, 1, 1, 1});
  Tensor g = Tensor::ones({1}, DType::F64), b = Tensor::zeros({1}, DType::F64);
  Tensor rm = Tensor::zeros({1}, DType::F64), rv = Tensor::ones({1}, DType::F64);
  Tensor y = batch_norm2d(x, g, b, rm, rv, true, 1.0, 0.0);
  EXPECT_NEAR(rm.item(), 2.5, 1e-12);
  EXPECT_NEAR(rv.item(), 5.0 / 3.0, 1e-12);
  EXPECT_NEAR(y.to_vector<double>()[0], -1.5 / std::sqrt(1.25), 1e-12);
}

TEST(NormBatchNorm, BadInputsNameTheOp) {
  Tensor x = Tensor::zeros({2, 3, 4, 4}), g = Tensor::ones({3}), b = Tensor::zeros({3});
  Tensor rm = Tensor::zeros({3}), rv = Tensor::ones({3});
  const std::string op = "batch_norm2d";
  expect_error([&] { Tensor x3 = Tensor::zeros({2, 3, 4}); batch_norm2d(x3, g, b, rm, rv, true); }, op, "3-D x");
  expect_error([&] { Tensor g4 = Tensor::ones({4}); batch_norm2d(x, g4, b, rm, rv, true); }, op, "gamma [4] for C=3");
  expect_error([&] { Tensor rv2 = Tensor::ones({3, 1}); batch_norm2d(x, g, b, rm, rv2, false); }, op, "2-D running_var");
  expect_error([&] { Tensor bd = Tensor::zeros({3}, DType::F64); batch_norm2d(x, g, bd, rm, rv, true); }, op,
               "float64 beta with float32 x");
  expect_error([&] { Tensor xi = Tensor::zeros({2, 3, 4, 4}, DType::I32); batch_norm2d(xi, g, b, rm, rv, true); }, op,
               "int32 x");
  expect_error([&] { Tensor x1 = Tensor::zeros({1, 3, 1, 1}); batch_norm2d(x1, g, b, rm, rv, true); }, op,
               "one value per channel in training");
  expect_error([&] { batch_norm2d(x, g, b, rm, rv, true, 0.1, -1.0); }, op, "negative eps");
  expect_error([&] { Tensor rq = Tensor::zeros({3}); rq.requires_grad_(); batch_norm2d(x, g, b, rq, rv, true); }, op,
               "running_mean requiring a gradient");
  if (cuda_available())
    expect_throw_with([&] { Tensor gc = g.to(Device::cuda()); batch_norm2d(x, gc, b, rm, rv, true); },
                      {op, "different devices", "on cuda:0"});  // the op's check, not a failed copy
}

// BatchNorm1d (layers/basic.h) is batch_norm2d on [N, C, 1, 1]; its values and gradients against
// torch.nn.BatchNorm1d are in ModelParity.ResNetEmbeddingWithBatchNormSmall (the embedding head).
TEST(NormBatchNorm, BatchNorm1dEqualsBatchNorm2dOnPointsAndRejectsOtherShapes) {
  Rng rng(3);
  Tensor x = Tensor::empty({6, 4});
  uniform_(x, -2, 2, rng);
  BatchNorm1d bn1(4);
  BatchNorm2d bn2(4);
  Tensor y1 = bn1.forward(x), y2 = bn2.forward(x.reshape({6, 4, 1, 1}));
  EXPECT_EQ(y1.shape(), (Shape{6, 4}));
  EXPECT_EQ(y1.to_vector<float>(), y2.to_vector<float>());
  EXPECT_EQ(bn1.running_var.to_vector<float>(), bn2.running_var.to_vector<float>());
  expect_error([&] { bn1.forward(Tensor::zeros({6, 4, 2})); }, "BatchNorm1d", "[N, C]");
  expect_error([&] { bn1.forward(Tensor::zeros({1, 4})); }, "batch_norm2d", "one value per channel in training");
}

// ---------------------------------------------------------------- upsample_bilinear2d

TEST(NormUpsample, SameSizeIsIdentity) {
  Rng rng(3);
  Tensor x = rand_tensor(rng, {2, 3, 5, 7}, DType::F32);
  expect_close(upsample_bilinear2d(x, 5, 7, false), x, 0, 0, "same size, align_corners=false");
  expect_close(upsample_bilinear2d(x, 5, 7, true), x, 0, 0, "same size, align_corners=true");
}

// A ramp is reproduced exactly by bilinear interpolation: with align_corners the corners map to
// the corners, so out[j] = j * (in - 1) / (out - 1).
TEST(NormUpsample, AlignCornersRampIsLinear) {
  Tensor x = Tensor::from_vector(std::vector<double>{0, 1, 2, 3}, {1, 1, 1, 4});
  std::vector<double> y = upsample_bilinear2d(x, 1, 7, true).to_vector<double>();
  ASSERT_EQ(y.size(), 7u);
  for (int j = 0; j < 7; ++j) EXPECT_NEAR(y[j], j * 3.0 / 6.0, 1e-12) << "column " << j;
  // Without align_corners the edges clamp: out[0] = in[0], out[last] = in[last] for x2.
  std::vector<double> z = upsample_bilinear2d(x, 1, 8, false).to_vector<double>();
  EXPECT_NEAR(z[0], 0.0, 1e-12);
  EXPECT_NEAR(z[1], 0.25, 1e-12);  // src = 1.5 * 0.5 - 0.5 = 0.25
  EXPECT_NEAR(z[7], 3.0, 1e-12);
}

TEST(NormUpsample, BadInputsNameTheOp) {
  const std::string op = "upsample_bilinear2d";
  Tensor x = Tensor::zeros({1, 2, 3, 3});
  expect_error([&] { upsample_bilinear2d(x, 0, 4, false); }, op, "zero output height");
  expect_error([&] { upsample_bilinear2d(x, 4, -1, true); }, op, "negative output width");
  expect_error([&] { upsample_bilinear2d(Tensor::zeros({2, 3, 3}), 4, 4, false); }, op, "3-D x");
  expect_error([&] { upsample_bilinear2d(Tensor::zeros({1, 1, 2, 2}, DType::U8), 4, 4, false); }, op, "uint8 x");
  expect_error([&] { upsample_bilinear2d(Tensor::zeros({1, 1, 0, 2}), 4, 4, false); }, op, "empty input plane");
}

// ---------------------------------------------------------------- dropout

// The generator behind the mask is the standard Philox4x32-10 (Random123's known answer for
// counter 0, key 0), which tools/goldens/norm.py reimplements for the dropout golden.
TEST(NormDropout, PhiloxKnownAnswer) {
  const uint32_t kat[4] = {0x6627E8D5u, 0xE169C58Du, 0xBC57AC4Cu, 0x9B00DBD8u};
  for (int w = 0; w < 4; ++w) EXPECT_EQ(philox4x32_10(0, 0, w), kat[w]) << "word " << w;
}

// Kept fraction within 4 sigma of 1 - p over 100k elements; kept values exactly x * float(1/(1-p)),
// which is x / (1 - p) to float32 rounding.
void check_mask_statistics(double p) {
  const int64_t n = 100000;
  Rng data_rng(11);
  Tensor x = rand_tensor(data_rng, {n}, DType::F32, 1.0, 2.0);  // nonzero, so a zero output means dropped
  Rng rng(2024);
  Tensor y = dropout(x, p, true, rng);
  std::vector<float> xv = x.to_vector<float>(), yv = y.to_vector<float>();
  const float scale = static_cast<float>(1.0 / (1.0 - p));
  int64_t kept = 0, wrong = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (yv[i] == 0.f) continue;
    ++kept;
    if (yv[i] != xv[i] * scale || std::fabs(yv[i] - xv[i] / (1.0 - p)) > 1e-6 * std::fabs(yv[i])) ++wrong;
  }
  double sigma = std::sqrt(p * (1 - p) / n);
  EXPECT_NEAR(static_cast<double>(kept) / n, 1 - p, 4 * sigma) << "p " << p;
  EXPECT_EQ(wrong, 0) << "p " << p << ": kept values not x / (1 - p)";
}
TEST(NormDropout, KeptFractionAndScale) {
  check_mask_statistics(0.3);
  check_mask_statistics(0.7);
}

TEST(NormDropout, SameSeedSameMaskAndStreamAdvances) {
  Rng data_rng(1);
  Tensor x = rand_tensor(data_rng, {4, 1000}, DType::F32, 1.0, 2.0);
  Rng a(77), b(77), c(78);
  Tensor ya = dropout(x, 0.5, true, a), yb = dropout(x, 0.5, true, b), yc = dropout(x, 0.5, true, c);
  expect_close(ya, yb, 0, 0, "same seed, same mask");
  EXPECT_GE(a.offset(), static_cast<uint64_t>(x.numel())) << "dropout must reserve its draws from the Rng";
  std::vector<float> va = ya.to_vector<float>(), vc = yc.to_vector<float>();
  Tensor ya2 = dropout(x, 0.5, true, a);  // the next call from the same Rng: a fresh mask
  std::vector<float> va2 = ya2.to_vector<float>();
  int64_t differ_seed = 0, differ_step = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    differ_seed += (va[i] == 0.f) != (vc[i] == 0.f);
    differ_step += (va[i] == 0.f) != (va2[i] == 0.f);
  }
  // Independent masks at p = 0.5 disagree on about half the elements.
  EXPECT_GT(differ_seed, 1500) << "another seed must give another mask";
  EXPECT_GT(differ_step, 1500) << "consecutive calls must not repeat the mask";
}

// The backward recomputes the forward's mask: gx = g * scale where kept, 0 where dropped.
TEST(NormDropout, BackwardUsesTheForwardMask) {
  Rng data_rng(2);
  Tensor x = rand_tensor(data_rng, {3, 333}, DType::F64, 1.0, 2.0);
  x.requires_grad_();
  Rng rng(9);
  Tensor y = dropout(x, 0.4, true, rng);
  Tensor g = rand_tensor(data_rng, y.shape(), DType::F64);
  y.backward(g);
  std::vector<double> yv = y.to_vector<double>(), gv = g.to_vector<double>(), gx = x.grad().to_vector<double>();
  const double scale = 1.0 / 0.6;
  int64_t dropped = 0;
  for (size_t i = 0; i < yv.size(); ++i) {
    double expect = yv[i] == 0.0 ? 0.0 : gv[i] * scale;
    dropped += yv[i] == 0.0;
    ASSERT_EQ(gx[i], expect) << "element " << i;
  }
  EXPECT_GT(dropped, 0);
}

TEST(NormDropout, IdentityWhenEvalOrPZero) {
  Rng rng(1);
  Tensor x = Tensor::ones({10});
  EXPECT_TRUE(dropout(x, 0.5, false, rng).same(x));
  EXPECT_TRUE(dropout(x, 0.0, true, rng).same(x));
  EXPECT_EQ(rng.offset(), 0u) << "the identity paths draw nothing";
}

TEST(NormDropout, CudaMaskEqualsCpuMask) {
  FF_SKIP_WITHOUT_CUDA("CUDA-vs-CPU dropout mask");
  PoisonGuard poison;
  Rng data_rng(5);
  Tensor x = rand_tensor(data_rng, {3, 7, 1001}, DType::F32, -1.0, 1.0);
  Rng rc(31), rg(31);
  rc.reserve(5);  // an offset that is not a multiple of the block size
  rg.reserve(5);
  rc.next_u32();
  rg.next_u32();
  Tensor xg = x.to(Device::cuda());
  xg.requires_grad_();
  Tensor yc = dropout(x, 0.3, true, rc), yg = dropout(xg, 0.3, true, rg);
  ASSERT_TRUE(yg.device().is_cuda());
  expect_close(yg, yc, 0, 0, "dropout forward cuda vs cpu (bitwise)");
  Tensor g = rand_tensor(data_rng, x.shape(), DType::F32);
  yg.backward(g.to(Device::cuda()));
  Tensor gc = Tensor::empty(x.shape());
  {
    Rng again(31);
    again.reserve(5);
    again.next_u32();
    gc = dropout(g, 0.3, true, again);  // the backward is the forward applied to g
  }
  expect_close(xg.grad(), gc, 0, 0, "dropout backward cuda vs cpu (bitwise)");
}

TEST(NormDropout, BadInputsNameTheOp) {
  Rng rng(0);
  Tensor x = Tensor::ones({8});
  expect_error([&] { dropout(x, 1.0, true, rng); }, "dropout", "p = 1");
  expect_error([&] { dropout(x, -0.1, true, rng); }, "dropout", "p < 0");
  expect_error([&] { dropout(x, std::nan(""), true, rng); }, "dropout", "p NaN");
  expect_error([&] { dropout(x, 1.5, false, rng); }, "dropout", "p > 1 in eval mode");
  expect_error([&] { dropout(Tensor::zeros({8}, DType::I64), 0.5, true, rng); }, "dropout", "int64 x");
  expect_error([&] { dropout(Tensor(), 0.5, true, rng); }, "dropout", "undefined x");
}

}  // namespace
}  // namespace ff::test
