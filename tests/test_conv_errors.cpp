// tests/test_conv_errors.cpp — conv2d, max_pool2d and adaptive_avg_pool2d_1x1 reject bad input
// with an ff::Error that names the op and the offending shapes.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "tests/test_util.h"

namespace ff::test {
namespace {

// Runs f, which must throw ff::Error whose message contains every one of `parts`.
void expect_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
  } catch (const Error& e) {
    std::string msg = e.what();
    for (const std::string& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
    return;
  }
  ADD_FAILURE() << "no ff::Error thrown (expected one mentioning '" << parts.front() << "')";
}

Tensor f32(const Shape& s) { return Tensor::zeros(s, DType::F32); }

TEST(ConvErrors, InputMustBe4D) {
  expect_error([] { conv2d(f32({3, 5, 5}), f32({4, 3, 3, 3}), Tensor(), 1, 1); }, {"conv2d", "[3, 5, 5]"});
}
TEST(ConvErrors, WeightMustBe4D) {
  expect_error([] { conv2d(f32({1, 3, 5, 5}), f32({4, 27}), Tensor(), 1, 1); }, {"conv2d", "[4, 27]"});
}
TEST(ConvErrors, ChannelMismatch) {
  expect_error([] { conv2d(f32({1, 3, 5, 5}), f32({4, 2, 3, 3}), Tensor(), 1, 1); },
               {"conv2d", "[1, 3, 5, 5]", "[4, 2, 3, 3]"});
}
TEST(ConvErrors, NonSquareKernel) {
  expect_error([] { conv2d(f32({1, 3, 5, 5}), f32({4, 3, 3, 2}), Tensor(), 1, 1); }, {"conv2d", "[4, 3, 3, 2]"});
}
TEST(ConvErrors, BiasShape) {
  expect_error([] { conv2d(f32({1, 3, 5, 5}), f32({4, 3, 3, 3}), f32({5}), 1, 1); },
               {"conv2d", "bias", "[5]", "[4, 3, 3, 3]"});
  expect_error([] { conv2d(f32({1, 3, 5, 5}), f32({4, 3, 3, 3}), f32({1, 4}), 1, 1); }, {"conv2d", "[1, 4]"});
}
TEST(ConvErrors, StrideAndPad) {
  expect_error([] { conv2d(f32({1, 3, 5, 5}), f32({4, 3, 3, 3}), Tensor(), 0, 1); }, {"conv2d", "stride", "[1, 3, 5, 5]"});
  expect_error([] { conv2d(f32({1, 3, 5, 5}), f32({4, 3, 3, 3}), Tensor(), 1, -1); }, {"conv2d", "pad", "[1, 3, 5, 5]"});
}
TEST(ConvErrors, KernelLargerThanPaddedInput) {
  expect_error([] { conv2d(f32({1, 3, 2, 6}), f32({4, 3, 5, 5}), Tensor(), 1, 1); },
               {"conv2d", "[1, 3, 2, 6]", "[4, 3, 5, 5]", "output size"});
}
TEST(ConvErrors, DtypesAndDefinedness) {
  expect_error([] { conv2d(f32({1, 3, 5, 5}), Tensor::zeros({4, 3, 3, 3}, DType::F64), Tensor(), 1, 1); },
               {"conv2d", "float32[1, 3, 5, 5]", "float64[4, 3, 3, 3]"});
  expect_error([] { conv2d(f32({1, 3, 5, 5}), f32({4, 3, 3, 3}), Tensor::zeros({4}, DType::F64), 1, 1); },
               {"conv2d", "float64[4]"});
  expect_error([] { conv2d(Tensor::zeros({1, 3, 5, 5}, DType::I64), f32({4, 3, 3, 3}), Tensor(), 1, 1); },
               {"conv2d", "int64[1, 3, 5, 5]"});
  expect_error([] { conv2d(Tensor(), f32({4, 3, 3, 3}), Tensor(), 1, 1); }, {"conv2d", "undefined"});
  expect_error([] { conv2d(f32({0, 3, 5, 5}), f32({4, 3, 3, 3}), Tensor(), 1, 1); }, {"conv2d", "[0, 3, 5, 5]"});
}
TEST(ConvErrors, MixedDevices) {
  FF_SKIP_WITHOUT_CUDA("mixed-device check");
  expect_error([] { conv2d(f32({1, 3, 5, 5}), f32({4, 3, 3, 3}).to(Device::cuda()), Tensor(), 1, 1); },
               {"conv2d", "[1, 3, 5, 5]", "[4, 3, 3, 3]"});
  expect_error([] { conv2d(f32({1, 3, 5, 5}).to(Device::cuda()), f32({4, 3, 3, 3}).to(Device::cuda()), f32({4}), 1, 1); },
               {"conv2d", "[4]"});
  expect_error([] {
    conv2d(Tensor::zeros({1, 3, 5, 5}, DType::F64).to(Device::cuda()), Tensor::zeros({4, 3, 3, 3}, DType::F64).to(Device::cuda()),
           Tensor(), 1, 1);
  }, {"conv2d", "float64[1, 3, 5, 5]"});
}

TEST(MaxPoolErrors, BadArguments) {
  expect_error([] { max_pool2d(f32({3, 5, 5}), 2, 2, 0); }, {"max_pool2d", "[3, 5, 5]"});
  expect_error([] { max_pool2d(f32({1, 3, 5, 5}), 0, 2, 0); }, {"max_pool2d", "kernel", "[1, 3, 5, 5]"});
  expect_error([] { max_pool2d(f32({1, 3, 5, 5}), 2, 0, 0); }, {"max_pool2d", "stride", "[1, 3, 5, 5]"});
  expect_error([] { max_pool2d(f32({1, 3, 5, 5}), 2, 2, 2); }, {"max_pool2d", "pad", "[1, 3, 5, 5]"});
  expect_error([] { max_pool2d(f32({1, 3, 5, 5}), 3, 2, -1); }, {"max_pool2d", "pad", "[1, 3, 5, 5]"});
  expect_error([] { max_pool2d(f32({1, 3, 2, 7}), 5, 1, 1); }, {"max_pool2d", "[1, 3, 2, 7]", "output size"});
  expect_error([] { max_pool2d(Tensor::zeros({1, 3, 5, 5}, DType::I32), 2, 2, 0); }, {"max_pool2d", "int32[1, 3, 5, 5]"});
  expect_error([] { max_pool2d(f32({1, 0, 5, 5}), 2, 2, 0); }, {"max_pool2d", "[1, 0, 5, 5]"});
}

TEST(AdaptiveAvgPoolErrors, BadArguments) {
  expect_error([] { adaptive_avg_pool2d_1x1(f32({3, 5})); }, {"adaptive_avg_pool2d_1x1", "[3, 5]"});
  expect_error([] { adaptive_avg_pool2d_1x1(Tensor::zeros({1, 3, 5, 5}, DType::U8)); },
               {"adaptive_avg_pool2d_1x1", "uint8[1, 3, 5, 5]"});
  expect_error([] { adaptive_avg_pool2d_1x1(f32({2, 3, 0, 5})); }, {"adaptive_avg_pool2d_1x1", "[2, 3, 0, 5]"});
}

}  // namespace
}  // namespace ff::test
