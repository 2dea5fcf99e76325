// tests/test_linear_errors.cpp — bad input to linear, mse_loss, cross_entropy and l2_normalize
// raises ff::Error naming the op (and, for labels, the bad label and its index); plus checks the
// op-case table cannot make: no-grad paths, cross_entropy's stability at extreme logits, and the
// CUDA-only paths (mixed devices, the device label check, TF32) where a GPU is present.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "engine/autograd.h"
#include "engine/checks.h"
#include "engine/config.h"
#include "engine/ops.h"
#include "kernels/linear.h"
#include "tests/test_util.h"

namespace ff::test {
namespace {

// Runs f, expects an ff::Error whose message contains every one of `parts`.
template <typename F>
void expect_error(F f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "expected ff::Error containing '" << *parts.begin() << "'";
  } catch (const Error& e) {
    std::string msg = e.what();
    for (const std::string& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "message: " << msg << "\nmissing: " << p;
  }
}

Tensor labels_of(std::vector<int64_t> v) { return Tensor::from_vector(v, {static_cast<int64_t>(v.size())}); }

// Review I7: cuBLAS's and OpenBLAS's gemm take int dimensions, and both twins cast int64 m, n, k
// to int. A dimension of 2^31 or more must fail with the sizes before any memory is touched
// (null pointers here), on the CPU and — without a device, since the check comes first — CUDA.
TEST(LinearErrors, GemmDimensionsBeyondIntAreRefused) {
  const int64_t big = int64_t{1} << 31;
  for (int which = 0; which < 3; ++which) {
    const int64_t m = which == 0 ? big : 4, n = which == 1 ? big : 4, k = which == 2 ? big : 4;
    const std::string dims = "m " + std::to_string(m) + ", n " + std::to_string(n) + ", k " + std::to_string(k);
    expect_throw_with([&] { cpu::gemm(false, false, m, n, k, 1.f, nullptr, nullptr, 0.f, nullptr); },
                      {"gemm (cpu)", "2^31", dims});
    expect_throw_with([&] { cpu::gemm(true, true, m, n, k, 1.0, nullptr, nullptr, 0.0, nullptr); },
                      {"gemm (cpu)", dims});
#ifdef FF_HAS_CUDA
    expect_throw_with([&] { cuda::gemm(false, true, m, n, k, 1.f, nullptr, nullptr, 0.f, nullptr); },
                      {"gemm (cuda)", "2^31", dims});
#endif
  }
  // Just below the limit passes the check (m = 0: then nothing is computed or touched).
  EXPECT_NO_THROW(cpu::gemm(false, false, 0, big - 1, big - 1, 1.f, nullptr, nullptr, 0.f, nullptr));
}

TEST(LinearErrors, Linear) {
  Tensor x = Tensor::zeros({3, 5}), w = Tensor::zeros({7, 5}), b = Tensor::zeros({7});
  EXPECT_NO_THROW(linear(x, w, b));
  expect_error([&] { linear(x, Tensor::zeros({7, 4}), b); }, {"linear", "[3, 5]", "[7, 4]"});
  expect_error([&] { linear(x, w, Tensor::zeros({6})); }, {"linear", "bias", "[6]"});
  expect_error([&] { linear(x, w, Tensor::zeros({7, 1})); }, {"linear", "bias"});
  expect_error([&] { linear(Tensor::zeros({3, 5, 1}), w, b); }, {"linear", "x [N, in]"});
  expect_error([&] { linear(x, Tensor::zeros({35}), b); }, {"linear", "w [out, in]"});
  expect_error([&] { linear(x.to(DType::F64), w, b); }, {"linear", "float64", "float32"});
  expect_error([&] { linear(x, w, b.to(DType::F64)); }, {"linear", "float64"});
  expect_error([&] { linear(Tensor::zeros({3, 5}, DType::I64), w, b); }, {"linear", "int64"});
  expect_error([&] { linear(Tensor(), w, b); }, {"linear", "undefined"});
}

TEST(LinearErrors, MseLoss) {
  expect_error([&] { mse_loss(Tensor::zeros({3, 5}), Tensor::zeros({5, 3})); }, {"mse_loss", "[3, 5]", "[5, 3]"});
  expect_error([&] { mse_loss(Tensor::zeros({4}), Tensor::zeros({4}, DType::F64)); }, {"mse_loss", "float64"});
  expect_error([&] { mse_loss(Tensor::zeros({0}), Tensor::zeros({0})); }, {"mse_loss", "empty"});
  expect_error([&] { mse_loss(Tensor::zeros({4}, DType::I32), Tensor::zeros({4}, DType::I32)); }, {"mse_loss", "int32"});
}

TEST(LinearErrors, CrossEntropyLabelsOutOfRange) {
  Tensor logits = Tensor::zeros({4, 3});
  EXPECT_NO_THROW(cross_entropy(logits, labels_of({0, 1, 2, 0})));
  expect_error([&] { cross_entropy(logits, labels_of({0, 1, 3, 0})); }, {"cross_entropy", "label 3", "index 2", "[0, 3)"});
  expect_error([&] { cross_entropy(logits, labels_of({0, -1, 2, 7})); },
               {"cross_entropy", "label -1", "index 1", "2 bad labels"});
  // float64 path checks the same way
  expect_error([&] { cross_entropy(logits.to(DType::F64), labels_of({0, 0, 0, 99})); }, {"cross_entropy", "label 99", "index 3"});
}

TEST(LinearErrors, CrossEntropyShapesAndTypes) {
  Tensor logits = Tensor::zeros({4, 3});
  expect_error([&] { cross_entropy(logits, labels_of({0, 1, 2})); }, {"cross_entropy", "3 labels", "[4, 3]"});
  expect_error([&] { cross_entropy(logits, Tensor::zeros({4}, DType::I32)); }, {"cross_entropy", "int64", "int32"});
  expect_error([&] { cross_entropy(logits, Tensor::zeros({4})); }, {"cross_entropy", "int64", "float32"});
  expect_error([&] { cross_entropy(logits, Tensor::zeros({4, 1}, DType::I64)); }, {"cross_entropy", "labels [N]"});
  expect_error([&] { cross_entropy(Tensor::zeros({12}), labels_of({0})); }, {"cross_entropy", "logits [N, K]"});
  expect_error([&] { cross_entropy(Tensor::zeros({0, 3}), Tensor::zeros({0}, DType::I64)); }, {"cross_entropy", "empty"});
  expect_error([&] { cross_entropy(logits, Tensor()); }, {"cross_entropy", "labels", "undefined"});
}

TEST(LinearErrors, L2Normalize) {
  expect_error([&] { l2_normalize(Tensor::zeros({2, 3, 4})); }, {"l2_normalize", "[2, 3, 4]"});
  expect_error([&] { l2_normalize(Tensor::zeros({2, 3}), 0.0); }, {"l2_normalize", "eps"});
  expect_error([&] { l2_normalize(Tensor::zeros({2, 3}, DType::U8)); }, {"l2_normalize", "uint8"});
}

// Gradients reach only the inputs that asked for one; the others get none.
TEST(LinearOps, GradientsOnlyWhereRequired) {
  Rng rng(7);
  Tensor x = Tensor::empty({3, 4}), w = Tensor::empty({2, 4}), b = Tensor::empty({2});
  uniform_(x, -1, 1, rng);
  uniform_(w, -1, 1, rng);
  uniform_(b, -1, 1, rng);
  w.requires_grad_(true);
  sum(linear(x, w, b)).backward();
  EXPECT_TRUE(w.grad().defined());
  EXPECT_FALSE(x.grad().defined());
  EXPECT_FALSE(b.grad().defined());
  // dL/dw = column sums of x for every output row, L = sum(x wᵀ + b).
  std::vector<float> gw = w.grad().to_vector<float>(), xv = x.to_vector<float>();
  for (int o = 0; o < 2; ++o)
    for (int i = 0; i < 4; ++i) {
      double s = 0;
      for (int n = 0; n < 3; ++n) s += xv[n * 4 + i];
      EXPECT_NEAR(gw[o * 4 + i], s, 1e-6);
    }
  // mse: only the target asks for a gradient: -2 (x - t) / n.
  Tensor t = Tensor::zeros({3, 4});
  t.requires_grad_(true);
  mse_loss(x, t).backward();
  std::vector<float> gt = t.grad().to_vector<float>();
  for (int i = 0; i < 12; ++i) EXPECT_NEAR(gt[i], -2.0 * xv[i] / 12.0, 1e-7);
}

// Extreme logits stay finite and exact where the answer is known in closed form.
TEST(LinearOps, CrossEntropyExtremeLogits) {
  // Row 0: two equal huge logits (1e4): loss log 2 at either label. Row 1: label's logit 200 above
  // the rest: loss 0, gradient 0. Naive exp() overflows on both.
  Tensor logits = Tensor::from_vector<float>({1e4f, 1e4f, -1e4f, 0.f, 200.f, 0.f}, {2, 3});
  logits.requires_grad_(true);
  Tensor loss = cross_entropy(logits, labels_of({0, 1}));
  EXPECT_NEAR(loss.item(), std::log(2.0) / 2, 1e-6);
  loss.backward();
  std::vector<float> g = logits.grad().to_vector<float>();
  std::vector<float> want = {-0.25f, 0.25f, 0.f, 0.f, 0.f, 0.f};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(g[i], want[i], 1e-7) << i;
}

TEST(LinearOps, L2NormalizeZeroRowIsFinite) {
  // An all-zero row gives zeros (x / eps), and a finite gradient of 1 / eps.
  Tensor x = Tensor::from_vector<double>({0, 0, 0, 3, 4, 0}, {2, 3});
  x.requires_grad_(true);
  Tensor y = l2_normalize(x);
  std::vector<double> yv = y.to_vector<double>();
  std::vector<double> want = {0, 0, 0, 0.6, 0.8, 0};
  for (int i = 0; i < 6; ++i) EXPECT_DOUBLE_EQ(yv[i], want[i]);
  sum(y).backward();
  std::vector<double> g = x.grad().to_vector<double>();
  for (int i = 0; i < 3; ++i) EXPECT_DOUBLE_EQ(g[i], 1e12);
  EXPECT_TRUE(std::isfinite(g[3]) && std::isfinite(g[4]));
}

// ---- CUDA-only paths (skip without a GPU)

TEST(LinearCuda, MixedDevicesRaise) {
  FF_SKIP_WITHOUT_CUDA("mixed-device checks");
  Device d = Device::cuda();
  Tensor x = Tensor::zeros({3, 5}), w = Tensor::zeros({7, 5}), b = Tensor::zeros({7});
  expect_error([&] { linear(x, w.to(d), b); }, {"linear", "different devices"});
  expect_error([&] { linear(x.to(d), w.to(d), b); }, {"linear", "different devices"});
  expect_error([&] { mse_loss(x, x.to(d)); }, {"mse_loss", "different devices"});
  expect_error([&] { cross_entropy(x.to(d), labels_of({0, 1, 2})); }, {"cross_entropy", "different devices"});
  expect_error([&] { cross_entropy(x, labels_of({0, 1, 2}).to(d)); }, {"cross_entropy", "different devices"});
  expect_error([&] { l2_normalize(x.to(d).to(DType::F64)); }, {"l2_normalize", "float32"});
}

// The CUDA losses check device labels only when asked (engine/checks.h: by default the check would be a
// host synchronisation per training step; the loader checks labels where they are made). Asked, the
// check finds every bad label, as before; tests/test_step_syncs.cpp checks the default reads nothing.
struct DeviceLabelChecks {
  bool saved = check_device_labels();
  DeviceLabelChecks() { set_check_device_labels(true); }
  ~DeviceLabelChecks() { set_check_device_labels(saved); }
};

TEST(LinearCuda, DeviceLabelCheck) {
  FF_SKIP_WITHOUT_CUDA("device label check");
  DeviceLabelChecks checked;
  Device d = Device::cuda();
  // 3000 labels: more than one thread's stride in the one-block kernel; bad ones at 1500 and 2999.
  std::vector<int64_t> lab(3000, 1);
  lab[2999] = -5;
  lab[1500] = 10;
  Tensor logits = Tensor::zeros({3000, 10}, DType::F32, d);
  expect_error([&] { cross_entropy(logits, labels_of(lab).to(d)); }, {"cross_entropy", "label 10", "index 1500", "2 bad labels"});
  lab[1500] = 9;
  expect_error([&] { cross_entropy(logits, labels_of(lab).to(d)); }, {"cross_entropy", "label -5", "index 2999", "1 bad label)"});
  lab[2999] = 0;
  EXPECT_NEAR(cross_entropy(logits, labels_of(lab).to(d)).item(), std::log(10.0), 1e-5);
  // The label-indexed ops and ArcFace share the check.
  Tensor cos = Tensor::zeros({4, 6}, DType::F32, d), bad = labels_of({0, 5, 6, -1}).to(d);
  expect_error([&] { arcface_loss(cos, bad, 45, 0.1); }, {"arcface_loss", "label 6", "index 2", "2 bad labels"});
  expect_error([&] { gather_label(cos, bad); }, {"gather_label", "label 6", "index 2"});
}

// An empty product (k = 0) is c = beta c without cuBLAS: kernels/linear.cu's scale_k for beta != 0,
// a memset for beta == 0 (even over NaN). No op reaches it with beta != 0, so it is called here.
TEST(LinearCuda, EmptyProductScalesOrClears) {
  FF_SKIP_WITHOUT_CUDA("empty-product check");
#ifdef FF_HAS_CUDA  // a CPU-only build has no cuda::gemm to link (the skip above always fires there)
  Rng rng(5);
  Tensor c0 = Tensor::empty({3, 700});
  uniform_(c0, -1, 1, rng);
  Tensor c = c0.to(Device::cuda());
  cuda::gemm(false, false, 3, 700, 0, 1.f, nullptr, nullptr, -2.f, c.data<float>());
  expect_close(c, scale(c0, -2.0), 0, 0, "gemm k=0 beta=-2");
  Tensor nan = Tensor::full({3, 700}, std::nanf("")).to(Device::cuda());
  cuda::gemm(true, true, 3, 700, 0, 1.f, nullptr, nullptr, 0.f, nan.data<float>());
  expect_close(nan, Tensor::zeros({3, 700}), 0, 0, "gemm k=0 beta=0");
#endif
}

// Unchecked (the default, no read-back), a bad CUDA label touches nothing outside its row: the
// losses come out NaN, so the training loop's NaN guard stops, and the other rows stay exact.
TEST(LinearCuda, UncheckedBadLabelsGiveNaNNotStrayAccesses) {
  FF_SKIP_WITHOUT_CUDA("unchecked device labels");
  ASSERT_FALSE(check_device_labels());
  Device d = Device::cuda();
  Tensor cos = Tensor::zeros({4, 6}, DType::F32, d), bad = labels_of({0, 5, 6, -1}).to(d);
  EXPECT_TRUE(std::isnan(arcface_loss(cos, bad, 45, 0.1).item()));
  EXPECT_TRUE(std::isnan(cross_entropy(cos, bad).item()));
  std::vector<float> g = gather_label(cos, bad).to_vector<float>();
  ASSERT_EQ(g.size(), 4u);
  EXPECT_EQ(g[0], 0.f);
  EXPECT_EQ(g[1], 0.f);
  EXPECT_TRUE(std::isnan(g[2]));
  EXPECT_TRUE(std::isnan(g[3]));
}

TEST(LinearCuda, Tf32MatchesCpuLoosely) {
  FF_SKIP_WITHOUT_CUDA("TF32 check");
  FF_SKIP_STAND_IN("linear's TF32 matrix product is cuBLAS");
  Rng rng(3);
  Tensor x = Tensor::empty({64, 256}), w = Tensor::empty({96, 256});
  uniform_(x, -1, 1, rng);
  uniform_(w, -1, 1, rng);
  Tensor ref = linear(x, w, Tensor());
  Tensor got;
  {
    Tf32Scope tf32(true);
    got = linear(x.to(Device::cuda()), w.to(Device::cuda()), Tensor());
  }
  // TF32 keeps 10 mantissa bits: ~1e-3 relative per product, sums of 256 terms of size ~1/3.
  expect_close(got, ref, 3e-3, 3e-2, "linear TF32 vs CPU");
  Tensor exact = linear(x.to(Device::cuda()), w.to(Device::cuda()), Tensor());
  expect_close(exact, ref, 1e-5, 1e-4, "linear FP32 (TF32 off again) vs CPU");
}

}  // namespace
}  // namespace ff::test
