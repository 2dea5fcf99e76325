// tests/test_autograd.cpp — the autograd engine's contract: accumulation, no-grad, freeing of
// saved tensors, errors on misuse, views, and no memory growth across training steps.
#include <gtest/gtest.h>

#include "engine/autograd.h"
#include "engine/cuda_runtime.h"
#include "engine/ops.h"
#include "tests/test_util.h"

namespace ff::test {
namespace {

Tensor vec(std::vector<float> v) { return Tensor::from_vector(v, {static_cast<int64_t>(v.size())}); }

TEST(Autograd, GradientsAccumulateAcrossBackwardCalls) {
  Tensor x = vec({1, 2, 3}).requires_grad_();
  sum(mul(x, x)).backward();  // d/dx = 2x
  sum(scale(x, 3.0)).backward();  // + 3
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{5, 7, 9}));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, SharedSubexpressionSumsBothPaths) {
  Tensor x = vec({1, -2, 3}).requires_grad_();
  Tensor y = relu(x);
  Tensor z = add(mul(y, y), y);  // y used three times
  sum(z).backward();
  // dz/dx = (2y + 1) * [x > 0]
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{3, 0, 7}));
}

TEST(Autograd, NoGradGuardRecordsNothing) {
  Tensor x = vec({1, 2}).requires_grad_();
  {
    NoGradGuard g;
    Tensor y = mul(x, x);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
  }
  EXPECT_TRUE(mul(x, x).requires_grad());
}

TEST(Autograd, SecondBackwardThroughFreedGraphIsAnError) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor l = sum(mul(x, x));
  l.backward();
  try {
    l.backward();
    FAIL() << "second backward did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already freed"), std::string::npos) << e.what();
  }
}

TEST(Autograd, SavedTensorsAndNodesAreReleased) {
  int64_t nodes0 = live_node_count();
  int64_t bytes0 = host_bytes_in_use();
  {
    Tensor x = Tensor::ones({1000}).requires_grad_();
    Tensor l = sum(relu(mul(x, x)));
    EXPECT_GT(live_node_count(), nodes0);
    l.backward();
    // The graph's backward functions are gone; only the nodes' small records remain until l dies.
    EXPECT_EQ(l.grad_fn()->backward, nullptr);
  }
  EXPECT_EQ(live_node_count(), nodes0);
  EXPECT_EQ(host_bytes_in_use(), bytes0);
}

TEST(Autograd, ReshapeIsAViewAndDifferentiable) {
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}).requires_grad_();
  Tensor v = x.reshape({3, -1});
  EXPECT_EQ(v.shape(), (Shape{3, 2}));
  EXPECT_EQ(v.raw(), x.raw());  // same storage
  sum(mul(v, v)).backward();
  EXPECT_EQ(x.grad().shape(), (Shape{2, 3}));
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{2, 4, 6, 8, 10, 12}));
  EXPECT_THROW(x.reshape({4, -1}), Error);
  EXPECT_THROW(x.reshape({-1, -1}), Error);
}

TEST(Autograd, BackwardNeedsAScalarOrASeedOfTheRightShape) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor y = mul(x, x);
  EXPECT_THROW(y.backward(), Error);
  EXPECT_THROW(y.backward(Tensor::ones({3})), Error);
  EXPECT_THROW(vec({1}).backward(), Error);  // does not require grad
}

TEST(Autograd, OnlyFloatLeavesCanRequireGrad) {
  Tensor l = Tensor::zeros({3}, DType::I64);
  EXPECT_THROW(l.requires_grad_(), Error);
  Tensor x = vec({1}).requires_grad_();
  Tensor y = mul(x, x);
  EXPECT_THROW(y.requires_grad_(false), Error);  // not a leaf
}

TEST(Autograd, DtypeConversionIsDifferentiable) {
  Tensor x = vec({1.5f, -2.f}).requires_grad_();
  Tensor d = x.to(DType::F64);
  EXPECT_EQ(d.dtype(), DType::F64);
  sum(mul(d, d)).backward();
  EXPECT_EQ(x.grad().dtype(), DType::F32);
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{3.f, -4.f}));
}

// 100 steps of gradient descent on a tiny model: host memory and the node count come back to the
// same level after every step (and device memory in use too, on a GPU).
void memory_steady_over_100_steps(Device dev) {
  Rng rng(7);
  Tensor w = Tensor::empty({64, 32}, DType::F32, dev);
  uniform_(w, -1, 1, rng);
  w.requires_grad_();
  Tensor x = Tensor::empty({64, 32}, DType::F32, dev);
  uniform_(x, -1, 1, rng);
  int64_t nodes0 = live_node_count();
  int64_t host_after_first = -1;
  size_t dev_after_first = 0;
  for (int step = 0; step < 100; ++step) {
    Tensor loss = mean(mul(relu(mul(w, x)), add_scalar(w, 0.5)));
    loss.backward();
    {
      NoGradGuard g;
      Tensor grad = w.grad();
      axpy_(w, -0.1, grad);
    }
    w.zero_grad();
    loss = Tensor();
    EXPECT_EQ(live_node_count(), nodes0) << "step " << step;
    if (step == 0) {
      host_after_first = host_bytes_in_use();
#ifdef FF_HAS_CUDA
      if (dev.is_cuda()) dev_after_first = cudart::allocator_stats().bytes_in_use;
#endif
    } else {
      ASSERT_EQ(host_bytes_in_use(), host_after_first) << "host memory grew at step " << step;
#ifdef FF_HAS_CUDA
      if (dev.is_cuda()) {
        ASSERT_EQ(cudart::allocator_stats().bytes_in_use, dev_after_first) << "device memory grew at step " << step;
      }
#endif
    }
  }
  (void)dev_after_first;
}

TEST(Autograd, HostMemoryDoesNotGrowOver100Steps) { memory_steady_over_100_steps(Device::cpu()); }

TEST(Autograd, DeviceMemoryDoesNotGrowOver100Steps) {
  FF_SKIP_WITHOUT_CUDA("device-memory check");
  memory_steady_over_100_steps(Device::cuda());
}

TEST(Tensor, BasicsAndErrors) {
  Tensor t = Tensor::full({2, 3}, 1.5);
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.size(-1), 3);
  EXPECT_THROW(t.size(2), Error);
  EXPECT_THROW(t.data<double>(), Error);
  EXPECT_DOUBLE_EQ(sum(t).item(), 9.0);
  EXPECT_THROW(t.item(), Error);
  EXPECT_THROW(Tensor::from_vector<float>({1, 2}, {3}), Error);
  EXPECT_THROW(Device::parse("gpu"), Error);
  Tensor c = t.clone();
  fill_(c, 2.0);
  EXPECT_EQ(t.to_vector<float>()[0], 1.5f);  // clone is deep
  Tensor i = t.to(DType::I32);
  EXPECT_EQ(i.to_vector<int32_t>()[0], 1);
  EXPECT_THROW(Tensor().shape(), Error);
}

// faceforge drives cuda:0 only: any other index is refused (it used to run on device 0 under
// another name), with a message naming the index and this machine's device count. CPU-testable:
// on a machine with 0 or 1 devices cuda:1 names no device at all.
TEST(Device, RejectsAnIndexWithoutADevice) {
#ifdef FF_HAS_CUDA
  const int devices = cudart::device_count();
#else
  const int devices = 0;
#endif
  const std::string count = "has " + std::to_string(devices) + " CUDA device(s)";
  expect_throw_with([] { Device::parse("cuda:1"); }, {"Device::parse", "cuda:1", "index 1", count, "cuda:0 only"});
  expect_throw_with([] { Device::parse("cuda:7"); }, {"Device::parse", "index 7", count});
  expect_throw_with([] { Device::parse("cuda:99999999999"); }, {"Device::parse", "index 99999999999", count});
  expect_throw_with([] { Device::cuda(1); }, {"Device::cuda", "index 1", count});
  expect_throw_with([] { Device::cuda(-1); }, {"Device::cuda", "index -1", count});
  // cuda and cuda:0 parse where there is a device, and are refused (index 0, count 0) where none.
  for (const char* name : {"cuda", "cuda:0", "cuda:00"}) {
    if (devices > 0)
      EXPECT_EQ(Device::parse(name).str(), "cuda:0") << name;
    else
      expect_throw_with([&] { Device::parse(name); }, {"Device::parse", "device cuda:0 rejected", "index 0", count});
  }
  EXPECT_EQ(Device::cuda().str(), "cuda:0");  // the programmatic index 0 is always accepted
  expect_throw_with([] { Device::parse("cuda:"); }, {"unknown device 'cuda:'"});
  expect_throw_with([] { Device::parse("cuda:-1"); }, {"unknown device 'cuda:-1'"});
}

TEST(Tensor, CudaWithoutDeviceFailsClearly) {
  if (cuda_available()) GTEST_SKIP() << "not applicable: a CUDA device is present (this checks the error without one)";
  try {
    Tensor::zeros({2}, DType::F32, Device::cuda());
    FAIL() << "allocating on a missing device did not throw";
  } catch (const Error& e) {
    EXPECT_FALSE(std::string(e.what()).empty());
  }
}

TEST(Tensor, RoundTripThroughDevice) {
  FF_SKIP_WITHOUT_CUDA("host/device copy check");
  Tensor h = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});
  Tensor d = h.to(Device::cuda());
  EXPECT_TRUE(d.device().is_cuda());
  EXPECT_EQ(d.cpu().to_vector<float>(), h.to_vector<float>());
}

TEST(ElementwiseErrors, NameTheOpAndShapes) {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({3, 2});
  try {
    add(a, b);
    FAIL();
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("add"), std::string::npos) << m;
    EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
    EXPECT_NE(m.find("[3, 2]"), std::string::npos) << m;
  }
  EXPECT_THROW(mul(a, Tensor::zeros({2, 3}, DType::F64)), Error);
  EXPECT_THROW(relu(Tensor::zeros({2}, DType::I64)), Error);
  EXPECT_THROW(mean(Tensor::zeros({0})), Error);
  EXPECT_THROW(flatten(a, 5), Error);
}

}  // namespace
}  // namespace ff::test
