// tests/test_nan_propagation.cpp — a NaN entering a network must reach its loss, or a training
// run's NaN guard (train/fit.h) never fires while backward fills the weights with
// NaN. relu is the op that used to swallow it (NaN > 0 is false, so relu(NaN) was 0); torch.relu
// returns NaN, and so must we, on both devices. Its gradient at a NaN output is 0, as torch's.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "engine/ops.h"
#include "tests/test_util.h"

namespace ff::test {
namespace {

void check_relu_nan(Device dev) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = Tensor::from_vector<float>({-1.0f, nan, 2.0f, -nan, 0.0f}, {5}, dev).requires_grad_();
  Tensor y = relu(x);
  std::vector<float> v = y.to_vector<float>();
  EXPECT_EQ(v[0], 0.0f);
  EXPECT_TRUE(std::isnan(v[1])) << dev.str();
  EXPECT_EQ(v[2], 2.0f);
  EXPECT_TRUE(std::isnan(v[3])) << dev.str();
  EXPECT_EQ(v[4], 0.0f);
  y.backward(Tensor::ones({5}, DType::F32, dev));
  std::vector<float> g = x.grad().to_vector<float>();
  EXPECT_EQ(g, (std::vector<float>{0.0f, 0.0f, 1.0f, 0.0f, 0.0f})) << dev.str();
}

TEST(NanPropagation, ReluPassesNaNCpu) { check_relu_nan(Device::cpu()); }

TEST(NanPropagation, ReluPassesNaNCuda) {
  FF_SKIP_WITHOUT_CUDA("relu NaN propagation on CUDA");
  check_relu_nan(Device::cuda());
}

// ArcFace (review W1): a NaN cosine that is not the row's target made the fused CUDA kernel's
// row loss finite (its online log-sum-exp skipped NaN) while the CPU gave NaN, so the training
// NaN guard let the step through. Both losses, on both devices: a NaN cosine makes its row's loss
// and whole gradient row NaN; +inf too (the CPU's exp(inf - max) with max = inf is NaN); -inf is
// a logit of probability 0 (finite loss, gradient 0 there). The other row stays finite.
void check_arcface_nonfinite(Device dev) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (bool fused : {true, false}) {
    for (float bad : {nan, inf, -inf}) {
      const std::string what = std::string(fused ? "fused" : "unfused") + " arcface with " + std::to_string(bad) +
                               " at a non-target cosine on " + dev.str();
      std::vector<float> v = {0.1f, 0.3f, -0.2f, 0.05f, bad, 0.2f, -0.4f, 0.0f, 0.35f, -0.1f};
      Tensor cos = Tensor::from_vector<float>(v, {2, 5}, dev).requires_grad_();
      Tensor labels = Tensor::from_vector<int64_t>({1, 3}, {2}, dev);
      Tensor loss = fused ? arcface_loss(cos, labels, 64.0, 0.5) : arcface_loss_unfused(cos, labels, 64.0, 0.5);
      loss.backward();
      std::vector<float> g = cos.grad().to_vector<float>();
      if (std::isnan(bad) || bad > 0) {
        EXPECT_TRUE(std::isnan(loss.item())) << what << ": loss " << loss.item();
        for (int j = 0; j < 5; ++j) EXPECT_TRUE(std::isnan(g[j])) << what << ": grad[0][" << j << "] = " << g[j];
      } else {
        EXPECT_TRUE(std::isfinite(loss.item())) << what << ": loss " << loss.item();
        EXPECT_EQ(g[4], 0.0f) << what;
        for (int j = 0; j < 5; ++j) EXPECT_TRUE(std::isfinite(g[j])) << what << ": grad[0][" << j << "] = " << g[j];
      }
      for (int j = 5; j < 10; ++j) EXPECT_TRUE(std::isfinite(g[j])) << what << ": grad[1][" << j - 5 << "] = " << g[j];
    }
  }
}

TEST(NanPropagation, ArcFaceNonFiniteCosineCpu) { check_arcface_nonfinite(Device::cpu()); }

TEST(NanPropagation, ArcFaceNonFiniteCosineCuda) {
  FF_SKIP_WITHOUT_CUDA("ArcFace NaN/inf propagation on CUDA");
  check_arcface_nonfinite(Device::cuda());
}

// cross_entropy and l2_normalize, the other reductions whose CUDA max / clamp skipped NaN (fmaxf):
// a NaN anywhere in a row, not only first, makes that row's loss NaN (CPU) and its normalised row
// NaN (l2_normalize used fmaxf(norm, eps) on CUDA: a NaN norm became eps and the row's other
// elements finite).
void check_rows_nan(Device dev) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor logits = Tensor::from_vector<float>({0.5f, -1.0f, 2.0f, 0.25f, 1.0f, nan}, {2, 3}, dev);
  Tensor ce = cross_entropy(logits, Tensor::from_vector<int64_t>({2, 0}, {2}, dev));
  EXPECT_TRUE(std::isnan(ce.item())) << dev.str() << ": cross_entropy " << ce.item();
  Tensor x = Tensor::from_vector<float>({3.0f, 4.0f, 1.0f, nan, 2.0f, 2.0f}, {2, 3}, dev);
  std::vector<float> y = l2_normalize(x).to_vector<float>();
  for (int j = 0; j < 3; ++j) EXPECT_TRUE(std::isfinite(y[j])) << dev.str() << ": l2_normalize row 0";
  for (int j = 3; j < 6; ++j) EXPECT_TRUE(std::isnan(y[j])) << dev.str() << ": l2_normalize row 1 element " << j - 3 << " = " << y[j];
}

TEST(NanPropagation, CrossEntropyAndL2NormalizeRowsCpu) { check_rows_nan(Device::cpu()); }

TEST(NanPropagation, CrossEntropyAndL2NormalizeRowsCuda) {
  FF_SKIP_WITHOUT_CUDA("cross_entropy / l2_normalize NaN propagation on CUDA");
  check_rows_nan(Device::cuda());
}

TEST(NanPropagation, NaNInputReachesTheLossOfAConvBnReluNet) {
  // conv -> batch norm -> relu -> max pool -> linear -> cross entropy, as in the ResNets.
  Rng rng(1);
  Tensor x = Tensor::zeros({2, 3, 6, 6});
  uniform_(x, -1, 1, rng);
  x.data<float>()[7] = std::numeric_limits<float>::quiet_NaN();
  Tensor w = Tensor::zeros({4, 3, 3, 3}), g = Tensor::ones({4}), b = Tensor::zeros({4});
  uniform_(w, -0.5, 0.5, rng);
  Tensor rm = Tensor::zeros({4}), rv = Tensor::ones({4});
  Tensor h = max_pool2d(relu(batch_norm2d(conv2d(x, w, Tensor(), 1, 1), g, b, rm, rv, true)), 2, 2, 0);
  Tensor fw = Tensor::zeros({3, 36});
  uniform_(fw, -0.1, 0.1, rng);
  Tensor loss = cross_entropy(linear(flatten(h), fw, Tensor()), Tensor::from_vector<int64_t>({0, 2}, {2}));
  EXPECT_TRUE(std::isnan(loss.item()));
}

}  // namespace
}  // namespace ff::test
