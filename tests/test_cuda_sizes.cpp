// tests/test_cuda_sizes.cpp — CUDA against CPU at sizes the op table's tiny shapes never reach
// (CUDA review, section 3, gap 1): reductions beyond one block's share (the two-stage grid
// reduction of kernels/reduce.cuh: one block, several, the 1024-block cap with several strides
// per thread), cross-entropy beyond 256 classes and beyond one block of rows, the batch-norm eval
// backward beyond 256 pixels per channel, and element-wise, upsample and pool kernels over many
// blocks; plus the reductions' bitwise determinism. Skipped without a CUDA device. Each test
// starts under 2 million CUDA threads in all, so the emulated build (cudaemu/) runs it quickly.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "tests/cuda_check.h"
#include "tests/test_util.h"

namespace ff::test {
namespace {

Tensor uniform(Rng& rng, const Shape& s, double lo = -1.0, double hi = 1.0) {
  Tensor t = Tensor::empty(s, DType::F32);
  uniform_(t, lo, hi, rng);
  return t;
}

// The float32 bits of a one-element tensor (on any device).
uint32_t bits_of(const Tensor& t) {
  const float v = t.to(Device::cpu()).to_vector<float>()[0];
  uint32_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// Element counts around the grid reduction's boundaries (kernels/reduce.cuh: 256 threads x 8
// elements per block, at most 1024 blocks): one block with a partial tail, just past one block
// (two), many blocks with a tail of the 4-way unrolled loop, and past the cap (1024 blocks,
// several unrolled strides per thread). The largest starts 262 144 threads per launch.
const int64_t kReduceSizes[] = {1, 1023, 2048, 2049, 100003, 2500001};

TEST(CudaSizes, SumAndMeanAcrossGridReductionSizes) {
  FF_SKIP_WITHOUT_CUDA("sum/mean grid reduction at large sizes");
  PoisonGuard poison;
  Rng rng(71);
  for (int64_t n : kReduceSizes) {
    // Inputs in [-1, 2): the sum grows with n, so a lost or doubled block shows far above rounding.
    Tensor x = uniform(rng, {n}, -1.0, 2.0);
    // Forward only: the backward is an element-wise fill of n threads (covered below at 100003).
    auto sum_fn = [](const std::vector<Tensor>& in) { return sum(in[0]); };
    auto mean_fn = [](const std::vector<Tensor>& in) { return mean(in[0]); };
    const std::vector<int> grads = n <= 100003 ? std::vector<int>{0} : std::vector<int>{};
    expect_cuda_matches_cpu(sum_fn, {x}, grads, rng, 1e-6, 1e-6, "sum of " + std::to_string(n));
    expect_cuda_matches_cpu(mean_fn, {x}, {}, rng, 1e-6, 1e-7, "mean of " + std::to_string(n));
  }
}

TEST(CudaSizes, MseAcrossGridReductionSizes) {
  FF_SKIP_WITHOUT_CUDA("mse_loss grid reduction at large sizes");
  PoisonGuard poison;
  Rng rng(72);
  for (int64_t n : kReduceSizes) {
    Tensor x = uniform(rng, {n}), t = uniform(rng, {n});
    auto fn = [](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1]); };
    const std::vector<int> grads = n <= 100003 ? std::vector<int>{0, 1} : std::vector<int>{};
    expect_cuda_matches_cpu(fn, {x, t}, grads, rng, 1e-6, 1e-7, "mse_loss of " + std::to_string(n));
  }
}

// The same reduction again, and over a copy in another allocation: the same bits (fixed grid,
// fixed trees, no atomics). Cross-entropy's mean is the same grid reduction (CeMeanReduce).
TEST(CudaSizes, ReductionsAreBitwiseDeterministic) {
  FF_SKIP_WITHOUT_CUDA("reduction determinism");
  Rng rng(73);
  const int64_t n = 300007;  // 147 blocks
  Tensor x = uniform(rng, {n}).to(Device::cuda()), t = uniform(rng, {n}).to(Device::cuda());
  Tensor x2 = x.clone();
  const uint32_t s = bits_of(sum(x)), m = bits_of(mse_loss(x, t));
  for (int rep = 0; rep < 3; ++rep) {
    EXPECT_EQ(bits_of(sum(x)), s) << "sum, repeat " << rep;
    EXPECT_EQ(bits_of(sum(x2)), s) << "sum of a copy, repeat " << rep;
    EXPECT_EQ(bits_of(mse_loss(x, t)), m) << "mse_loss, repeat " << rep;
  }
}

// ce_stats beyond 256 classes (several strided passes per thread over a row), and the mean over
// more rows than one reduction block takes (2 blocks: the two-stage path), whose label check
// (count_bad_labels) then also runs over two blocks.
TEST(CudaSizes, CrossEntropyWideRowsAndManyRows) {
  FF_SKIP_WITHOUT_CUDA("cross_entropy at large sizes");
  PoisonGuard poison;
  Rng rng(74);
  const int64_t shapes[][2] = {{37, 1000}, {5, 4099}, {2100, 3}};
  for (const auto& s : shapes) {
    Tensor logits = uniform(rng, {s[0], s[1]}, -6, 6);
    std::vector<int64_t> lab(s[0]);
    for (auto& l : lab) l = rng.randint(s[1]);
    Tensor labels = Tensor::from_vector(lab, {s[0]});
    auto fn = [&labels](const std::vector<Tensor>& in) { return cross_entropy(in[0], labels.to(in[0].device())); };
    expect_cuda_matches_cpu(fn, {logits}, {0}, rng, 1e-5, 1e-6,
                            "cross_entropy [" + std::to_string(s[0]) + ", " + std::to_string(s[1]) + "]");
  }
}

// The batch-norm eval backward (our kernels: per-channel reduction, then the input gradient)
// beyond 256 pixels per channel, and with one pixel per channel (BatchNorm1d's [N, C, 1, 1]).
TEST(CudaSizes, BatchNormEvalBackwardLargeChannels) {
  FF_SKIP_WITHOUT_CUDA("batch_norm2d eval backward at large sizes");
  PoisonGuard poison;
  Rng rng(75);
  for (const Shape& s : {Shape{3, 4, 20, 21}, Shape{2, 3, 33, 40}, Shape{300, 7, 1, 1}}) {
    const int64_t ch = s[1];
    std::vector<Tensor> in{uniform(rng, s, -1, 2), uniform(rng, {ch}, 0.5, 1.5), uniform(rng, {ch}),
                           uniform(rng, {ch}, -0.5, 0.5), uniform(rng, {ch}, 0.5, 2.0)};
    auto fn = [](const std::vector<Tensor>& v) {
      Tensor rm = v[3], rv = v[4];
      return batch_norm2d(v[0], v[1], v[2], rm, rv, false, 0.1, 1e-5);
    };
    expect_cuda_matches_cpu(fn, in, {0, 1, 2}, rng, 1e-5, 1e-5, "batch_norm2d eval " + shape_str(s));
  }
}

// Element-wise kernels over many blocks (50021 elements: 196 blocks of 256, a partial last one).
TEST(CudaSizes, ElementwiseManyBlocks) {
  FF_SKIP_WITHOUT_CUDA("element-wise kernels at large sizes");
  PoisonGuard poison;
  Rng rng(76);
  const int64_t n = 50021;
  Tensor a = uniform(rng, {n}), b = uniform(rng, {n}), pos = uniform(rng, {n}, 0.05, 2.0);
  auto chain = [](const std::vector<Tensor>& in) {
    Tensor y = add(mul(relu(in[0]), in[1]), scale(sub(in[0], in[1]), 0.5));
    return add(clamp(y, -0.4, 0.6), sqrt(in[2]));
  };
  expect_cuda_matches_cpu(chain, {a, b, pos}, {0, 1, 2}, rng, 1e-5, 1e-6, "element-wise chain of 50021");
}

// Upsample forward and backward (atomics) and max / average pooling over many blocks.
TEST(CudaSizes, UpsampleAndPoolManyBlocks) {
  FF_SKIP_WITHOUT_CUDA("upsample and pool kernels at large sizes");
  PoisonGuard poison;
  Rng rng(77);
  Tensor x = uniform(rng, {2, 3, 40, 50});
  for (bool align : {true, false}) {
    auto up = [align](const std::vector<Tensor>& in) { return upsample_bilinear2d(in[0], 80, 100, align); };
    expect_cuda_matches_cpu(up, {x}, {0}, rng, 1e-5, 1e-5, std::string("upsample 40x50 -> 80x100, align ") +
                                                                 (align ? "on" : "off"));
  }
  Tensor p = uniform(rng, {2, 4, 61, 60});
  auto pool = [](const std::vector<Tensor>& in) { return max_pool2d(in[0], 3, 2, 1); };
  expect_cuda_matches_cpu(pool, {p}, {0}, rng, 1e-6, 1e-6, "max_pool2d 3x3/2 on [2, 4, 61, 60]");
  Tensor q = uniform(rng, {4, 300, 7, 7});
  auto avg = [](const std::vector<Tensor>& in) { return adaptive_avg_pool2d_1x1(in[0]); };
  expect_cuda_matches_cpu(avg, {q}, {0}, rng, 1e-5, 1e-6, "adaptive_avg_pool2d_1x1 on [4, 300, 7, 7]");
}

}  // namespace
}  // namespace ff::test
