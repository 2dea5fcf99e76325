// tests/test_nan_propagation.cpp — a NaN entering a network must reach its loss, or a training
// run's NaN guard (train/fit.h) never fires while backward fills the weights with
// NaN. relu is the op that used to swallow it (NaN > 0 is false, so relu(NaN) was 0); torch.relu
// returns NaN, and so must we, on both devices. Its gradient at a NaN output is 0, as torch's.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

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
