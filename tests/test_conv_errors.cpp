// tests/test_conv_errors.cpp — conv2d, max_pool2d and adaptive_avg_pool2d_1x1 reject bad input
// with an ff::Error that names the op and the offending shapes.
#include <gtest/gtest.h>

#include "engine/ops.h"
#include "tests/test_util.h"

namespace ff::test {
namespace {

Tensor f32(const Shape& s) { return Tensor::zeros(s, DType::F32); }

TEST(ConvErrors, InputMustBe4D) {
  expect_throw_with([] { conv2d(f32({3, 5, 5}), f32({4, 3, 3, 3}), Tensor(), 1, 1); }, {"conv2d", "[3, 5, 5]"});
}
TEST(ConvErrors, WeightMustBe4D) {
  expect_throw_with([] { conv2d(f32({1, 3, 5, 5}), f32({4, 27}), Tensor(), 1, 1); }, {"conv2d", "[4, 27]"});
}
TEST(ConvErrors, ChannelMismatch) {
  expect_throw_with([] { conv2d(f32({1, 3, 5, 5}), f32({4, 2, 3, 3}), Tensor(), 1, 1); },
               {"conv2d", "[1, 3, 5, 5]", "[4, 2, 3, 3]"});
}
TEST(ConvErrors, NonSquareKernel) {
  expect_throw_with([] { conv2d(f32({1, 3, 5, 5}), f32({4, 3, 3, 2}), Tensor(), 1, 1); }, {"conv2d", "[4, 3, 3, 2]"});
}
TEST(ConvErrors, BiasShape) {
  expect_throw_with([] { conv2d(f32({1, 3, 5, 5}), f32({4, 3, 3, 3}), f32({5}), 1, 1); },
               {"conv2d", "bias", "[5]", "[4, 3, 3, 3]"});
  expect_throw_with([] { conv2d(f32({1, 3, 5, 5}), f32({4, 3, 3, 3}), f32({1, 4}), 1, 1); }, {"conv2d", "[1, 4]"});
}
TEST(ConvErrors, StrideAndPad) {
  expect_throw_with([] { conv2d(f32({1, 3, 5, 5}), f32({4, 3, 3, 3}), Tensor(), 0, 1); }, {"conv2d", "stride", "[1, 3, 5, 5]"});
  expect_throw_with([] { conv2d(f32({1, 3, 5, 5}), f32({4, 3, 3, 3}), Tensor(), 1, -1); }, {"conv2d", "pad", "[1, 3, 5, 5]"});
}
TEST(ConvErrors, KernelLargerThanPaddedInput) {
  expect_throw_with([] { conv2d(f32({1, 3, 2, 6}), f32({4, 3, 5, 5}), Tensor(), 1, 1); },
               {"conv2d", "[1, 3, 2, 6]", "[4, 3, 5, 5]", "output size"});
}
TEST(ConvErrors, DtypesAndDefinedness) {
  expect_throw_with([] { conv2d(f32({1, 3, 5, 5}), Tensor::zeros({4, 3, 3, 3}, DType::F64), Tensor(), 1, 1); },
               {"conv2d", "float32[1, 3, 5, 5]", "float64[4, 3, 3, 3]"});
  expect_throw_with([] { conv2d(f32({1, 3, 5, 5}), f32({4, 3, 3, 3}), Tensor::zeros({4}, DType::F64), 1, 1); },
               {"conv2d", "float64[4]"});
  expect_throw_with([] { conv2d(Tensor::zeros({1, 3, 5, 5}, DType::I64), f32({4, 3, 3, 3}), Tensor(), 1, 1); },
               {"conv2d", "int64[1, 3, 5, 5]"});
  expect_throw_with([] { conv2d(Tensor(), f32({4, 3, 3, 3}), Tensor(), 1, 1); }, {"conv2d", "undefined"});
  expect_throw_with([] { conv2d(f32({0, 3, 5, 5}), f32({4, 3, 3, 3}), Tensor(), 1, 1); }, {"conv2d", "[0, 3, 5, 5]"});
}
TEST(ConvErrors, MixedDevices) {
  FF_SKIP_WITHOUT_CUDA("mixed-device check");
  expect_throw_with([] { conv2d(f32({1, 3, 5, 5}), f32({4, 3, 3, 3}).to(Device::cuda()), Tensor(), 1, 1); },
               {"conv2d", "different devices", "[1, 3, 5, 5] on cpu", "[4, 3, 3, 3] on cuda:0"});
  expect_throw_with([] { conv2d(f32({1, 3, 5, 5}).to(Device::cuda()), f32({4, 3, 3, 3}).to(Device::cuda()), f32({4}), 1, 1); },
               {"conv2d", "different devices", "[4] on cpu"});
  // float64 on cuda: made on the CPU and moved (Tensor::zeros(..., F64, cuda) itself throws in
  // fill_, before conv2d is reached), so the throw checked is conv2d's own.
  expect_throw_with([] {
    conv2d(Tensor::zeros({1, 3, 5, 5}, DType::F64).to(Device::cuda()),
           Tensor::zeros({4, 3, 3, 3}, DType::F64).to(Device::cuda()), Tensor(), 1, 1);
  }, {"conv2d", "CUDA tensors must be float32", "float64[1, 3, 5, 5] on cuda:0"});
}

TEST(MaxPoolErrors, BadArguments) {
  expect_throw_with([] { max_pool2d(f32({3, 5, 5}), 2, 2, 0); }, {"max_pool2d", "[3, 5, 5]"});
  expect_throw_with([] { max_pool2d(f32({1, 3, 5, 5}), 0, 2, 0); }, {"max_pool2d", "kernel", "[1, 3, 5, 5]"});
  expect_throw_with([] { max_pool2d(f32({1, 3, 5, 5}), 2, 0, 0); }, {"max_pool2d", "stride", "[1, 3, 5, 5]"});
  expect_throw_with([] { max_pool2d(f32({1, 3, 5, 5}), 2, 2, 2); }, {"max_pool2d", "pad", "[1, 3, 5, 5]"});
  expect_throw_with([] { max_pool2d(f32({1, 3, 5, 5}), 3, 2, -1); }, {"max_pool2d", "pad", "[1, 3, 5, 5]"});
  expect_throw_with([] { max_pool2d(f32({1, 3, 2, 7}), 5, 1, 1); }, {"max_pool2d", "[1, 3, 2, 7]", "output size"});
  expect_throw_with([] { max_pool2d(Tensor::zeros({1, 3, 5, 5}, DType::I32), 2, 2, 0); }, {"max_pool2d", "int32[1, 3, 5, 5]"});
  expect_throw_with([] { max_pool2d(f32({1, 0, 5, 5}), 2, 2, 0); }, {"max_pool2d", "[1, 0, 5, 5]"});
}

TEST(AdaptiveAvgPoolErrors, BadArguments) {
  expect_throw_with([] { adaptive_avg_pool2d_1x1(f32({3, 5})); }, {"adaptive_avg_pool2d_1x1", "[3, 5]"});
  expect_throw_with([] { adaptive_avg_pool2d_1x1(Tensor::zeros({1, 3, 5, 5}, DType::U8)); },
               {"adaptive_avg_pool2d_1x1", "uint8[1, 3, 5, 5]"});
  expect_throw_with([] { adaptive_avg_pool2d_1x1(f32({2, 3, 0, 5})); }, {"adaptive_avg_pool2d_1x1", "[2, 3, 0, 5]"});
}

}  // namespace
}  // namespace ff::test
