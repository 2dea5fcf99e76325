// tests/test_conv.cpp — conv2d and max_pool2d beyond the op cases (tests/cases_conv.cpp):
// a direct-loop reference on shapes large enough to split the CPU im2col into several chunks
// (with a remainder), PyTorch's tie and NaN rules for max pooling, the no-grad path, and on a
// GPU a larger CUDA-vs-CPU comparison (cuDNN picks other algorithms there than for tiny shapes)
// in both math modes and both algorithm modes, and the algorithm cache of kernels/conv.cu: one
// measurement per geometry and direction, bitwise-repeatable results in deterministic mode.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "engine/autograd.h"
#include "engine/config.h"
#include "engine/ops.h"
#include "kernels/conv_dnnl.h"  // the CPU backend switch (oneDNN or im2col) for float
#include "tests/test_util.h"

#if defined(FF_HAS_CUDA) && !defined(FF_CUDA_EMU)
#include <iostream>

#include "kernels/conv.h"  // the algorithm cache's counters (real cuDNN only)
#endif

namespace ff::test {
namespace {

Tensor uniform(Rng& rng, const Shape& s, DType dt = DType::F32) {
  Tensor t = Tensor::empty(s, dt);
  uniform_(t, -1, 1, rng);
  return t;
}

// Direct convolution in double, and its gradients for upstream gradient gy.
struct DirectConv {
  std::vector<double> y, gx, gw, gb;
};
DirectConv direct_conv(const Tensor& xt, const Tensor& wt, const Tensor& bt, int stride, int pad, const Tensor& gyt) {
  const int64_t N = xt.size(0), C = xt.size(1), H = xt.size(2), W = xt.size(3), O = wt.size(0), K = wt.size(2);
  const int64_t Ho = (H + 2 * pad - K) / stride + 1, Wo = (W + 2 * pad - K) / stride + 1;
  std::vector<double> x = xt.to_vector<double>(), w = wt.to_vector<double>(), b = bt.to_vector<double>(),
                      gy = gyt.to_vector<double>();
  DirectConv r;
  r.y.assign(N * O * Ho * Wo, 0);
  r.gx.assign(x.size(), 0);
  r.gw.assign(w.size(), 0);
  r.gb.assign(O, 0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
          const int64_t yi = ((n * O + o) * Ho + oh) * Wo + ow;
          double acc = b[o];
          r.gb[o] += gy[yi];
          for (int64_t c = 0; c < C; ++c)
            for (int64_t ki = 0; ki < K; ++ki)
              for (int64_t kj = 0; kj < K; ++kj) {
                const int64_t ih = oh * stride - pad + ki, iw = ow * stride - pad + kj;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const int64_t xi = ((n * C + c) * H + ih) * W + iw, wi = ((o * C + c) * K + ki) * K + kj;
                acc += x[xi] * w[wi];
                r.gx[xi] += gy[yi] * w[wi];
                r.gw[wi] += gy[yi] * x[xi];
              }
          r.y[yi] = acc;
        }
  return r;
}

// Sets the CPU float convolution backend for a scope, restoring the previous one.
struct ConvBackendScope {
  cpu::CpuConvBackend saved = cpu::cpu_conv_backend();
  explicit ConvBackendScope(cpu::CpuConvBackend b) { cpu::set_cpu_conv_backend(b); }
  ~ConvBackendScope() { cpu::set_cpu_conv_backend(saved); }
};
// The float backends this build has: im2col always, oneDNN where built in.
std::vector<cpu::CpuConvBackend> float_backends() {
  std::vector<cpu::CpuConvBackend> b{cpu::CpuConvBackend::Im2col};
  if (cpu::onednn_built()) b.push_back(cpu::CpuConvBackend::OneDnn);
  return b;
}
const char* backend_name(cpu::CpuConvBackend b) { return b == cpu::CpuConvBackend::OneDnn ? "onednn" : "im2col"; }

void check_against_direct_once(const Shape& xs, int64_t cout, int k, int stride, int pad, const std::string& tag) {
  Rng rng(7);
  Tensor x = uniform(rng, xs), w = uniform(rng, {cout, xs[1], k, k}), b = uniform(rng, {cout});
  x.requires_grad_(true);
  w.requires_grad_(true);
  b.requires_grad_(true);
  Tensor y = conv2d(x, w, b, stride, pad);
  Tensor gy = uniform(rng, y.shape());
  y.backward(gy);
  DirectConv r = direct_conv(x, w, b, stride, pad, gy);
  auto ref = [](const std::vector<double>& v, const Shape& s) { return Tensor::from_vector(v, s); };
  // Sums of up to a few thousand float32 products: 1e-4 relative, 1e-4 absolute near zero.
  const std::string what = "conv2d " + tag + " " + shape_str(xs) + " k" + std::to_string(k) + " s" + std::to_string(stride);
  expect_close(y, ref(r.y, y.shape()), 1e-4, 1e-4, what + " output");
  expect_close(x.grad(), ref(r.gx, x.shape()), 1e-4, 1e-4, what + " grad x");
  expect_close(w.grad(), ref(r.gw, w.shape()), 1e-4, 1e-4, what + " grad w");
  expect_close(b.grad(), ref(r.gb, b.shape()), 1e-4, 1e-4, what + " grad b");
}
// Every float backend of this build, then float64 (im2col only).
void check_against_direct(const Shape& xs, int64_t cout, int k, int stride, int pad) {
  for (cpu::CpuConvBackend be : float_backends()) {
    ConvBackendScope scope(be);
    check_against_direct_once(xs, cout, k, stride, pad, backend_name(be));
  }
}

// P = 48*48 = 2304 output pixels per image: chunks of 2 images, then a remainder of 1.
TEST(Conv2d, ChunkedIm2colMatchesDirectLoop) { check_against_direct({3, 2, 48, 48}, 3, 3, 1, 1); }
// P = 31*25 = 775: chunks of 6 images, then a remainder of 1.
TEST(Conv2d, StridedChunksMatchDirectLoop) { check_against_direct({7, 3, 61, 50}, 2, 3, 2, 1); }
// 1x1: small images go through the chunked column matrix, large ones (P >= 1024) multiply x[n]
// directly, image by image.
TEST(Conv2d, Pointwise1x1MatchesDirectLoop) {
  check_against_direct({3, 4, 9, 13}, 5, 1, 1, 0);
  check_against_direct({2, 3, 32, 33}, 4, 1, 1, 0);
}

// The geometries of the networks (ResNet's 7x7/2 stem, strided 1x1 and 3x3, channel counts that
// are not multiples of oneDNN's 8- or 16-channel blocks, odd sizes): oneDNN against the direct loop.
TEST(Conv2d, NetworkGeometriesMatchDirectLoopOnEveryBackend) {
  check_against_direct({2, 3, 29, 31}, 16, 7, 2, 3);  // the stem
  check_against_direct({3, 24, 14, 14}, 40, 1, 2, 0);  // a strided projection
  check_against_direct({2, 20, 15, 13}, 12, 3, 2, 1);  // a strided 3x3
  check_against_direct({1, 5, 6, 7}, 3, 3, 1, 1);      // tiny, one image
}

// The two float backends agree on the same inputs with only some gradients asked for (the
// "not needed" pointers of kernels/conv.h), with and without a bias, and a geometry's plan is made
// once: calling it again adds no plan.
TEST(Conv2d, OneDnnMatchesIm2colOnPartialGradients) {
  if (!cpu::onednn_built()) GTEST_SKIP() << "needs oneDNN: this build has none (libdnnl-dev)";
  Rng rng(11);
  Tensor x0 = uniform(rng, {4, 10, 17, 12}), w0 = uniform(rng, {18, 10, 3, 3}), b0 = uniform(rng, {18});
  Tensor gy = uniform(rng, {4, 18, 9, 6});
  for (int mask = 1; mask < 8; ++mask) {
    std::vector<Tensor> out[2];
    for (int be = 0; be < 2; ++be) {
      ConvBackendScope scope(be ? cpu::CpuConvBackend::OneDnn : cpu::CpuConvBackend::Im2col);
      Tensor x = x0.clone(), w = w0.clone(), b = b0.clone();
      x.requires_grad_((mask & 1) != 0);
      w.requires_grad_((mask & 2) != 0);
      b.requires_grad_((mask & 4) != 0);
      Tensor y = conv2d(x, w, (mask & 4) ? b : Tensor(), 2, 1);
      y.backward(gy);
      out[be] = {y.detach(), x.grad(), w.grad(), b.grad()};
    }
    const char* names[] = {"y", "grad x", "grad w", "grad b"};
    for (int i = 0; i < 4; ++i) {
      ASSERT_EQ(out[0][i].defined(), out[1][i].defined()) << names[i] << " mask " << mask;
      if (out[0][i].defined())
        expect_close(out[1][i], out[0][i], 1e-4, 1e-4, std::string("onednn vs im2col ") + names[i] + " mask " + std::to_string(mask));
    }
  }
  ConvBackendScope scope(cpu::CpuConvBackend::OneDnn);
  const int64_t plans = cpu::dnnl_conv_stats().plans;
  Tensor w = w0.clone().requires_grad_(true);
  conv2d(x0, w, Tensor(), 2, 1).backward(gy);
  EXPECT_EQ(cpu::dnnl_conv_stats().plans, plans) << "a geometry seen before made a new plan";
  EXPECT_GT(cpu::dnnl_conv_stats().largest_scratch_bytes, 0);
}

// NaN and infinities: oneDNN gives NaN and infinities in the same places as im2col, in the output
// and in both gradients (a NaN or inf in x reaches every output whose window holds it).
TEST(Conv2d, OneDnnPropagatesNonFiniteLikeIm2col) {
  if (!cpu::onednn_built()) GTEST_SKIP() << "needs oneDNN: this build has none (libdnnl-dev)";
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  Rng rng(13);
  for (float bad : {nan, inf, -inf}) {
    Tensor x0 = uniform(rng, {2, 9, 11, 10}), w0 = uniform(rng, {16, 9, 3, 3}), gy0 = uniform(rng, {2, 16, 11, 10});
    x0.data<float>()[5 * 110 + 37] = bad;   // image 0, channel 5
    gy0.data<float>()[16 * 110 + 3 * 110 + 64] = bad;  // image 1, channel 3
    std::vector<Tensor> out[2];
    for (int be = 0; be < 2; ++be) {
      ConvBackendScope scope(be ? cpu::CpuConvBackend::OneDnn : cpu::CpuConvBackend::Im2col);
      Tensor x = x0.clone().requires_grad_(true), w = w0.clone().requires_grad_(true);
      Tensor y = conv2d(x, w, Tensor(), 1, 1);
      y.backward(gy0);
      out[be] = {y.detach(), x.grad(), w.grad()};
    }
    for (int i = 0; i < 3; ++i) {
      std::vector<double> a = out[0][i].to_vector<double>(), b = out[1][i].to_vector<double>();
      int64_t nonfinite = 0;
      for (size_t j = 0; j < a.size(); ++j) {
        nonfinite += !std::isfinite(a[j]);
        ASSERT_EQ(std::isnan(a[j]), std::isnan(b[j])) << "NaN position " << j << " of output " << i << " for " << bad;
        ASSERT_EQ(std::isinf(a[j]), std::isinf(b[j])) << "inf position " << j << " of output " << i << " for " << bad;
        if (std::isinf(a[j])) ASSERT_EQ(a[j], b[j]) << "sign of inf at " << j << " of output " << i;
      }
      EXPECT_GT(nonfinite, 0) << "output " << i << " for " << bad << ": the bad value reached nothing";
    }
  }
}

// The fused inference op equals conv2d -> batch norm (eval) -> ReLU, in float32 and float64, with
// and without a convolution bias and the ReLU; it refuses to run where a gradient is recorded.
TEST(Conv2d, FusedEvalBatchNormEqualsTheThreeOps) {
  for (DType dt : {DType::F32, DType::F64}) {
    for (int variant = 0; variant < 4; ++variant) {
      const bool with_bias = variant & 1, with_relu = variant & 2;
      Rng rng(21 + variant);
      Tensor x = uniform(rng, {3, 6, 13, 11}, dt), w = uniform(rng, {10, 6, 3, 3}, dt), b = uniform(rng, {10}, dt);
      Tensor gamma = uniform(rng, {10}, dt), beta = uniform(rng, {10}, dt), mean = uniform(rng, {10}, dt);
      Tensor var = Tensor::empty({10}, dt);
      uniform_(var, 0.2, 2.0, rng);
      NoGradGuard ng;
      Tensor rm = mean.clone(), rv = var.clone();
      Tensor ref = batch_norm2d(conv2d(x, w, with_bias ? b : Tensor(), 2, 1), gamma, beta, rm, rv, false, 0.1, 1e-5);
      if (with_relu) ref = relu(ref);
      Tensor fused = conv2d_bn_eval(x, w, with_bias ? b : Tensor(), gamma, beta, mean, var, 1e-5, 2, 1, with_relu);
      const double tol = dt == DType::F32 ? 2e-5 : 1e-12;
      expect_close(fused, ref, tol, tol, std::string("conv2d_bn_eval ") + dtype_name(dt) + " variant " + std::to_string(variant));
    }
  }
  Rng rng(3);
  Tensor x = uniform(rng, {1, 2, 5, 5}), w = uniform(rng, {3, 2, 3, 3}).requires_grad_(true);
  Tensor g = Tensor::ones({3}), z = Tensor::zeros({3});
  test::expect_throw_with([&] { conv2d_bn_eval(x, w, Tensor(), g, z, z, g, 1e-5, 1, 1, true); },
                          {"conv2d_bn_eval", "inference only"});
  NoGradGuard ng;
  test::expect_throw_with([&] { conv2d_bn_eval(x, w, Tensor(), Tensor::ones({4}), z, z, g, 1e-5, 1, 1, true); },
                          {"conv2d_bn_eval", "must be [3]"});
}

TEST(Conv2d, NoGradPathGivesSameOutput) {
  Rng rng(3);
  Tensor x = uniform(rng, {2, 3, 9, 7}), w = uniform(rng, {4, 3, 3, 3});
  Tensor with = conv2d(x, w, Tensor(), 2, 1);
  w.requires_grad_(true);
  Tensor recorded = conv2d(x, w, Tensor(), 2, 1);
  EXPECT_TRUE(recorded.requires_grad());
  EXPECT_FALSE(with.requires_grad());
  expect_close(recorded, with, 0, 0, "conv2d recorded vs plain");
  recorded.backward(Tensor::ones(recorded.shape()));
  EXPECT_TRUE(w.grad().defined());
}

// Ties go to the first maximum in row-major window order; NaN wins and propagates. Expected
// values are what torch.nn.functional.max_pool2d(x, 2, 2) gives for this input.
TEST(MaxPool2d, TiesGoToFirstMaximumAndNaNPropagates) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor x = Tensor::from_vector<double>({1, 5, 5, 0, 5, 2, 3, 5, 0, 0, nan, 1, 0, 7, 7, 1}, {1, 1, 4, 4}).to(dt);
    x.requires_grad_(true);
    Tensor y = max_pool2d(x, 2, 2, 0);
    std::vector<double> yv = y.to_vector<double>();
    EXPECT_EQ(yv[0], 5);
    EXPECT_EQ(yv[1], 5);
    EXPECT_EQ(yv[2], 7);
    EXPECT_TRUE(std::isnan(yv[3]));
    y.backward(Tensor::from_vector<double>({1, 2, 3, 4}, {1, 1, 2, 2}).to(dt));
    expect_close(x.grad(), Tensor::from_vector<double>({0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 3, 0, 0}, {1, 1, 4, 4}),
                 0, 0, "max_pool2d grad with ties");
  }
}

// All-equal input with overlapping padded windows (3x3, stride 2, pad 1): each window's first
// real element wins; torch gives grad [[1, 2, 0, 0], [3, 4, 0, 0], 0, 0].
TEST(MaxPool2d, PaddingNeverWins) {
  Tensor x = Tensor::full({1, 1, 4, 4}, -3.0);
  x.requires_grad_(true);
  Tensor y = max_pool2d(x, 3, 2, 1);
  ASSERT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
  expect_close(y, Tensor::full({1, 1, 2, 2}, -3.0), 0, 0, "max_pool2d of a constant");
  y.backward(Tensor::from_vector<float>({1, 2, 3, 4}, {1, 1, 2, 2}));
  expect_close(x.grad(), Tensor::from_vector<float>({1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {1, 1, 4, 4}), 0, 0,
               "max_pool2d grad of a constant");
}

TEST(MaxPool2d, NoGradPathGivesSameOutput) {
  Rng rng(5);
  Tensor x = uniform(rng, {2, 3, 9, 8});
  Tensor plain = max_pool2d(x, 3, 2, 1);
  x.requires_grad_(true);
  Tensor recorded;
  {
    NoGradGuard guard;
    Tensor unrecorded = max_pool2d(x, 3, 2, 1);
    EXPECT_FALSE(unrecorded.requires_grad());
    expect_close(unrecorded, plain, 0, 0, "max_pool2d under no-grad");
  }
  recorded = max_pool2d(x, 3, 2, 1);
  EXPECT_TRUE(recorded.requires_grad());
  expect_close(recorded, plain, 0, 0, "max_pool2d recorded vs plain");
}

// A larger convolution on the GPU than the op cases use, in both math modes.
TEST(Conv2dCuda, LargerShapesMatchCpu) {
  FF_SKIP_WITHOUT_CUDA("conv2d CUDA-vs-CPU on larger shapes");
  FF_SKIP_STAND_IN("conv2d is cuDNN");
  struct Cfg {
    Shape x;
    int64_t cout;
    int k, stride, pad;
  };
  const Cfg cfgs[] = {{{8, 64, 32, 32}, 64, 3, 1, 1}, {{4, 3, 57, 61}, 16, 7, 2, 3}, {{4, 32, 15, 15}, 64, 1, 2, 0},
                      {{4, 64, 16, 16}, 32, 1, 1, 0}};
  for (bool det : {false, true})
  for (bool tf32 : {false, true}) {
    Tf32Scope math(tf32);
    DeterministicScope algos(det);
    for (const Cfg& c : cfgs) {
      Rng rng(11);
      Tensor x = uniform(rng, c.x), w = uniform(rng, {c.cout, c.x[1], c.k, c.k}), b = uniform(rng, {c.cout});
      Tensor xg = x.to(Device::cuda()), wg = w.to(Device::cuda()), bg = b.to(Device::cuda());
      for (Tensor* t : {&x, &w, &b, &xg, &wg, &bg}) t->requires_grad_(true);
      Tensor yc = conv2d(x, w, b, c.stride, c.pad), yg = conv2d(xg, wg, bg, c.stride, c.pad);
      Tensor gy = uniform(rng, yc.shape());
      yc.backward(gy);
      yg.backward(gy.to(Device::cuda()));
      // Each result is a sum of `terms` products of values in [-1, 1) (rms 1/3). FMA math: only
      // the order differs from the CPU's, 1e-4 is generous. TF32 rounds both factors to 10-bit
      // mantissas (rms product error ~1.3e-4), a random walk over the terms: ~6 sigma below.
      auto tol = [tf32](int64_t terms) { return tf32 ? 8e-4 * std::sqrt(double(terms)) : 1e-4; };
      const double rtol = tf32 ? 1e-3 : 1e-4;
      const int64_t n_out = yc.numel() / c.cout;  // N * Ho * Wo
      const std::string what =
          "conv2d cuda " + shape_str(c.x) + (tf32 ? " tf32" : " fp32") + (det ? " deterministic" : " measured");
      expect_close(yg, yc, rtol, tol(c.x[1] * c.k * c.k), what + " output");
      expect_close(xg.grad(), x.grad(), rtol, tol(c.cout * c.k * c.k), what + " grad x");
      expect_close(wg.grad(), w.grad(), rtol, tol(n_out), what + " grad w");
      expect_close(bg.grad(), b.grad(), 1e-4, 1e-3, what + " grad b");  // a plain sum of N*Ho*Wo terms
    }
  }
#if defined(FF_HAS_CUDA) && !defined(FF_CUDA_EMU)
  std::cout << "cuDNN algorithms chosen (kernels/conv.cu):\n" << cuda::conv_algo_report();
#endif
}

// Under the CUDA emulation conv2d is a CPU stand-in: its algorithm cache does not exist there.
#ifdef FF_CUDA_EMU
#define FF_SKIP_WITHOUT_CUDNN(what) GTEST_SKIP() << "needs a real GPU: conv2d is cuDNN (" << what << ")"
#else
#define FF_SKIP_WITHOUT_CUDNN(what) FF_SKIP_WITHOUT_CUDA(what)
#endif

#if defined(FF_HAS_CUDA) && !defined(FF_CUDA_EMU)
// One CUDA convolution, forward and backward with every gradient; its results, read back.
struct ConvRun {
  std::vector<float> y, gx, gw, gb;
};
ConvRun conv_on_cuda(const Tensor& x, const Tensor& w, const Tensor& b, int stride, int pad, const Tensor& gy) {
  Tensor xg = x.to(Device::cuda()), wg = w.to(Device::cuda()), bg = b.to(Device::cuda());
  for (Tensor* t : {&xg, &wg, &bg}) t->requires_grad_(true);
  Tensor yg = conv2d(xg, wg, bg, stride, pad);
  yg.backward(gy.to(Device::cuda()));
  return {yg.to_vector<float>(), xg.grad().to_vector<float>(), wg.grad().to_vector<float>(),
          bg.grad().to_vector<float>()};
}

// The CPU results for the same inputs.
ConvRun conv_on_cpu(const Tensor& x0, const Tensor& w0, const Tensor& b0, int stride, int pad, const Tensor& gy) {
  Tensor x = x0.detach(), w = w0.detach(), b = b0.detach();
  for (Tensor* t : {&x, &w, &b}) t->requires_grad_(true);
  Tensor y = conv2d(x, w, b, stride, pad);
  y.backward(gy);
  return {y.to_vector<float>(), x.grad().to_vector<float>(), w.grad().to_vector<float>(), b.grad().to_vector<float>()};
}

void expect_run_close(const ConvRun& got, const ConvRun& ref, const std::string& what) {
  // FMA math: sums of a few hundred to a few thousand products of values in [-1, 1), only the
  // order differs from the CPU's; 1e-4 as in LargerShapesMatchCpu.
  auto t = [](const std::vector<float>& v) { return Tensor::from_vector(v, {static_cast<int64_t>(v.size())}); };
  expect_close(t(got.y), t(ref.y), 1e-4, 1e-4, what + " output");
  expect_close(t(got.gx), t(ref.gx), 1e-4, 1e-4, what + " grad x");
  expect_close(t(got.gw), t(ref.gw), 1e-4, 1e-4, what + " grad w");
  expect_close(t(got.gb), t(ref.gb), 1e-4, 1e-3, what + " grad b");
}

#endif

// Measured mode: the first call of a geometry measures each direction once (cudnnFind*Ex); the
// second call of the same geometry reuses the plan and measures nothing.
TEST(Conv2dCuda, SecondCallOfAGeometryMeasuresNothing) {
  FF_SKIP_WITHOUT_CUDNN("the algorithm cache");
#if defined(FF_HAS_CUDA) && !defined(FF_CUDA_EMU)
  Tf32Scope math(false);
  DeterministicScope algos(false);
  Rng rng(21);
  Tensor x = uniform(rng, {3, 5, 17, 19}), w = uniform(rng, {6, 5, 3, 3}), b = uniform(rng, {6});
  Tensor gy = uniform(rng, {3, 6, 9, 10});  // stride 2, pad 1: 17 -> 9, 19 -> 10
  const ConvRun ref = conv_on_cpu(x, w, b, 2, 1, gy);
  cuda::conv_algo_cache_clear();
  const cuda::ConvAlgoStats s0 = cuda::conv_algo_stats();
  EXPECT_EQ(s0.plans, 0);
  const ConvRun first = conv_on_cuda(x, w, b, 2, 1, gy);
  const cuda::ConvAlgoStats s1 = cuda::conv_algo_stats();
  EXPECT_EQ(s1.plans, 1);
  EXPECT_EQ(s1.finds - s0.finds, 3) << "one measurement each: forward, backward data, backward filter";
  EXPECT_EQ(s1.heuristic_queries, s0.heuristic_queries) << "measured mode asks no heuristics";
  const ConvRun second = conv_on_cuda(x, w, b, 2, 1, gy);
  const cuda::ConvAlgoStats s2 = cuda::conv_algo_stats();
  EXPECT_EQ(s2.plans, 1);
  EXPECT_EQ(s2.finds, s1.finds) << "the second call of the same geometry measured again";
  expect_run_close(first, ref, "conv2d cuda measured, first call");
  expect_run_close(second, ref, "conv2d cuda measured, second call");
  // Another mode of the same geometry is another plan.
  {
    Tf32Scope tf32(true);
    (void)conv_on_cuda(x, w, b, 2, 1, gy);
  }
  EXPECT_EQ(cuda::conv_algo_stats().plans, 2);
  EXPECT_EQ(cuda::conv_algo_stats().finds - s2.finds, 3);
#endif
}

// Deterministic mode: algorithms from the heuristics (no measurement), only deterministic ones,
// so two runs, each choosing afresh, give bitwise-equal outputs and gradients. The geometry is
// large enough that the fastest backward-filter algorithms would use atomics.
TEST(Conv2dCuda, DeterministicModeIsBitwiseRepeatable) {
  FF_SKIP_WITHOUT_CUDNN("deterministic algorithms");
#if defined(FF_HAS_CUDA) && !defined(FF_CUDA_EMU)
  Tf32Scope math(false);
  DeterministicScope algos(true);
  Rng rng(23);
  Tensor x = uniform(rng, {8, 32, 28, 28}), w = uniform(rng, {32, 32, 3, 3}), b = uniform(rng, {32});
  Tensor gy = uniform(rng, {8, 32, 28, 28});
  const ConvRun ref = conv_on_cpu(x, w, b, 1, 1, gy);
  ConvRun runs[2];
  for (ConvRun& r : runs) {
    cuda::conv_algo_cache_clear();  // each run chooses its algorithms again
    const cuda::ConvAlgoStats before = cuda::conv_algo_stats();
    r = conv_on_cuda(x, w, b, 1, 1, gy);
    const cuda::ConvAlgoStats after = cuda::conv_algo_stats();
    EXPECT_EQ(after.finds, before.finds) << "deterministic mode must not measure";
    EXPECT_EQ(after.heuristic_queries - before.heuristic_queries, 3);
  }
  EXPECT_EQ(runs[0].y, runs[1].y) << "output differs between two deterministic runs";
  EXPECT_EQ(runs[0].gx, runs[1].gx) << "grad x differs between two deterministic runs";
  EXPECT_EQ(runs[0].gw, runs[1].gw) << "grad w differs between two deterministic runs";
  EXPECT_EQ(runs[0].gb, runs[1].gb) << "grad b differs between two deterministic runs";
  expect_run_close(runs[0], ref, "conv2d cuda deterministic");
  std::cout << cuda::conv_algo_report();
#endif
}

}  // namespace
}  // namespace ff::test
