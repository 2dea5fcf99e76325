// tests/test_kernel_paths.cpp — the CPU kernels' parallel branches agree with their serial runs.
//
// The kernels in kernels/*_cpu.cpp take two kinds of paths by size and thread count:
//   - different code: kernels/conv_cpu.cpp (direct 1x1 per image, batch chunks of several images,
//     single-image chunks, partial last chunk, per-thread weight-gradient sums) and
//     kernels/blas_cpu.cpp (a lone product split by rows or columns, A or B transposed). Op cases
//     with PyTorch goldens reach each of these with several images per thread (tests/cases_conv.cpp
//     conv2d_1x1_direct, conv2d_3x3_chunks, conv2d_3x3_image_chunks, conv2d_3x3_gemm_split;
//     tests/cases_linear.cpp linear_gemm_split), at 1 and 2 threads;
//   - the same loop, parallel above a size threshold (`#pragma omp parallel for if (n > ...)`):
//     element-wise maps, reductions (sum, MSE, cross-entropy: OpenMP reduction clauses), batch
//     norm, pooling, upsampling, dropout, the optimizer steps, heatmaps, the warp, the conv bias
//     gradient, the ArcFace rows. The op cases are below those thresholds, so each such kernel
//     runs here on an input above its threshold at 2 threads and must give what it gives at 1
//     (the serial loop the op cases check): bit for bit where every element is computed alone,
//     to 1e-5 of the result's largest value where sums are added in another order (a reduction's
//     partial sums, per-thread weight gradients, a product split over the threads; measured up
//     to 1.4e-6, on OpenBLAS's AVX-512, Haswell, Sandybridge and Prescott kernels).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>

#include "engine/autograd.h"
#include "engine/ops_geometry.h"
#include "tests/op_cases.h"
#include "tests/test_util.h"
#include "train/optim.h"

namespace ff::test {
namespace {

struct Path {
  std::string name;  // what runs, and the threshold it crosses
  bool reduction;    // sums in another order at 2 threads: compared to 1e-5 of max|result|, else exactly
  // Runs the kernels from fixed inputs; returns every output and gradient.
  std::function<std::vector<Tensor>()> run;
};

// Leaves of fixed random values (seeded by `seed`), requiring a gradient.
Tensor leaf(uint64_t seed, const Shape& s, double lo = -1, double hi = 1) {
  Rng rng(seed);
  return rand_tensor(rng, s, DType::F32, lo, hi).requires_grad_();
}

// out, then every leaf's gradient after out.backward(R) with a fixed random R.
std::vector<Tensor> with_grads(const Tensor& out, const std::vector<Tensor>& leaves) {
  Rng rng(99);
  out.backward(rand_tensor(rng, out.shape(), out.dtype()));
  std::vector<Tensor> r{out.detach()};
  for (const Tensor& l : leaves) r.push_back(l.grad());
  return r;
}

// Sizes: above each threshold, and for the reductions large enough (2^21 elements, about 1 ms per
// thread) that both threads run at once for a while: with OMP_WAIT_POLICY=PASSIVE a woken thread
// starts late, and a loop shorter than that runs on one thread in effect, hiding a data race
// (measured: a sum over 40,000 elements without its reduction clause gave the right answer). A
// race is still a matter of timing: with the reduction clause dropped, these caught it in 6 (sum),
// 2 (MSE) and 8 (cross-entropy over many short rows) of 8 runs on a shared 2-core machine. They
// never fail a correct kernel; they are no substitute for a race detector.
const int64_t kBig = 40000;     // above the element-wise threshold, 32768
const int64_t kHuge = 1 << 21;  // the reductions

std::vector<Path> paths() {
  return {
      {"add, sub, mul, relu forward and backward (n > 32768)", false,
       [] {
         Tensor x = leaf(1, {kBig}), y = leaf(2, {kBig});
         return with_grads(mul(relu(add(x, y)), sub(x, y)), {x, y});
       }},
      {"scale_, axpy_, fill_, add_scalar (n > 32768)", false,
       [] {
         Tensor x = leaf(3, {kBig}).detach(), y = leaf(4, {kBig}).detach();
         Tensor a = x.clone(), f = Tensor::empty({kBig});
         scale_(a, -1.5);
         axpy_(a, 0.25, y);
         fill_(f, 0.5);
         return std::vector<Tensor>{a, f, add_scalar(x, 0.75)};
       }},
      {"sum, mean (reduction, n > 32768)", true,
       [] {
         Tensor x = leaf(5, {kHuge});
         return with_grads(add(sum(x), mean(mul(x, x))), {x});
       }},
      {"mse_loss (reduction, n > 32768)", true,
       [] {
         Tensor x = leaf(6, {kHuge}), t = leaf(7, {kHuge});
         return with_grads(mse_loss(x, t), {x, t});
       }},
      {"cross_entropy (reduction, rows * classes > 32768)", true,
       [] {
         Tensor l = leaf(8, {65536, 32}, -5, 5);  // many short rows: the accumulator is updated often
         Rng rng(9);
         return with_grads(cross_entropy(l, rand_labels(rng, 65536, 32)), {l});
       }},
      // (the products themselves are split over the threads at 2: their rounding may differ)
      {"linear bias and l2_normalize (rows * cols > 32768)", true,
       [] {
         Tensor x = leaf(10, {300, 128}), w = leaf(11, {120, 128}), b = leaf(12, {120});
         return with_grads(l2_normalize(linear(x, w, b)), {x, w, b});
       }},
      {"batch_norm2d training and eval (N * C * HW = 36864 > 32768)", false,
       [] {
         Tensor x = leaf(13, {4, 9, 32, 32}, -1, 2), g = leaf(14, {9}, 0.5, 1.5), b = leaf(15, {9});
         Tensor rm = Tensor::zeros({9}), rv = Tensor::ones({9});
         Tensor y = batch_norm2d(x, g, b, rm, rv, true);
         std::vector<Tensor> r = with_grads(y, {x, g, b});
         Tensor xe = leaf(16, {4, 9, 32, 32}, -1, 2), ge = leaf(17, {9}, 0.5, 1.5), be = leaf(18, {9});
         std::vector<Tensor> e = with_grads(batch_norm2d(xe, ge, be, rm, rv, false), {xe, ge, be});
         r.insert(r.end(), e.begin(), e.end());
         r.push_back(rm);
         r.push_back(rv);
         return r;
       }},
      {"max_pool2d 2x2 and 3x3/2 pad 1, adaptive average pool (planes * window work > 65536)", false,
       [] {
         Tensor x = leaf(19, {8, 9, 32, 32});
         std::vector<Tensor> r = with_grads(max_pool2d(x, 2, 2, 0), {x});
         Tensor x2 = leaf(20, {8, 9, 32, 32});
         std::vector<Tensor> r2 = with_grads(add(sum(max_pool2d(x2, 3, 2, 1)), sum(adaptive_avg_pool2d_1x1(x2))), {x2});
         r.insert(r.end(), r2.begin(), r2.end());
         return r;
       }},
      {"prelu forward, input and slope gradients (n C inner = 73728 > 65536; slopes per channel)", false,
       [] {
         Tensor x = leaf(60, {8, 9, 32, 32}), w = leaf(61, {9});
         return with_grads(prelu(x, w), {x, w});
       }},
      {"max_pool2d 3x3/2 ceil_mode (planes * window work > 65536)", false,
       [] {
         Tensor x = leaf(62, {8, 9, 33, 31});
         return with_grads(max_pool2d(x, 3, 2, 0, true), {x});
       }},
      {"upsample_bilinear2d, both corner modes (N C OH OW = 73728 > 32768)", false,
       [] {
         Tensor x = leaf(21, {8, 9, 16, 16});
         return with_grads(add(upsample_bilinear2d(x, 32, 32, true), upsample_bilinear2d(x, 32, 32, false)), {x});
       }},
      {"dropout (n > 32768)", false,
       [] {
         Tensor x = leaf(22, {kBig});
         Rng rng(123);
         return with_grads(dropout(x, 0.3, true, rng), {x});
       }},
      {"conv2d 1x1 direct with bias: bias gradient (n cout P > 65536)", true,
       [] {
         Tensor x = leaf(23, {16, 2, 128, 128}), w = leaf(24, {16, 2, 1, 1}), b = leaf(25, {16});
         return with_grads(conv2d(x, w, b, 1, 0), {x, w, b});
       }},
      {"arcface_loss (rows always in parallel)", false,
       [] {
         Tensor c = leaf(26, {64, 100}, -0.99, 0.99);
         Rng rng(27);
         return with_grads(arcface_loss(c, rand_labels(rng, 64, 100), 45.0, 0.1), {c});
       }},
      {"SGD (momentum, weight decay, Nesterov) and Adam steps (n > 32768)", false,
       [] {
         Tensor p = leaf(28, {kBig}).detach().clone().requires_grad_(), q = leaf(29, {kBig}).detach().clone().requires_grad_();
         SGDOptions so;
         so.lr = 0.1, so.momentum = 0.9, so.weight_decay = 1e-3, so.nesterov = true;
         AdamOptions ao;
         ao.lr = 1e-2, ao.weight_decay = 1e-2;
         SGD sgd({&p}, so);
         Adam adam({&q}, ao);
         for (int s = 0; s < 3; ++s) {
           p.set_grad(leaf(30 + s, {kBig}).detach());
           q.set_grad(leaf(40 + s, {kBig}).detach());
           sgd.step();
           adam.step();
         }
         return std::vector<Tensor>{p.detach(), q.detach()};
       }},
      {"render_heatmaps and decode_heatmaps (maps * H * W > 16384)", false,
       [] {
         Tensor pts = leaf(50, {4, 5, 2}, 2, 30).detach();
         Tensor h = render_heatmaps(pts, 32, 32, 2.0);
         return std::vector<Tensor>{h, decode_heatmaps(h, HeatmapDecode::QuarterPixel),
                                    decode_heatmaps(h, HeatmapDecode::SoftArgmax, 5)};
       }},
      {"warp_affine (rows * width * channels > 16384)", false,
       [] {
         Tensor img = leaf(51, {2, 48, 40, 3}, 0, 255).detach();
         std::vector<float> m;
         for (int b = 0; b < 2; ++b) m.insert(m.end(), {0.9f, 0.1f, 2.f - b, -0.1f, 0.9f, 3.f + b});
         return std::vector<Tensor>{
             warp_affine(img, Tensor::from_vector(m, {2, 2, 3}), 64, 56, ImageLayout::HWC, BorderMode::Replicate)};
       }},
      {"sigmoid forward and backward (n > 32768)", false,
       [] {
         Tensor x = leaf(52, {kBig}, -8, 8);
         return with_grads(sigmoid(x), {x});
       }},
      {"focal_loss (reduction, n > 32768)", true,
       [] {
         Tensor x = leaf(53, {8, 1, 512, 512}, -4, 4), t = leaf(54, {8, 1, 512, 512}, 0, 0.95).detach();
         float* pt = t.data<float>();
         for (int64_t i = 3; i < t.numel(); i += 101) pt[i] = 1.f;
         return with_grads(focal_loss(x, t), {x});
       }},
      {"masked_l1_loss (reduction, N C H W > 32768)", true,
       [] {
         Tensor p = leaf(55, {8, 4, 256, 256}), t = leaf(56, {8, 4, 256, 256}).detach();
         Tensor m = leaf(57, {8, 1, 256, 256}, -1, 1).detach();
         float* pm = m.data<float>();
         for (int64_t i = 0; i < m.numel(); ++i) pm[i] = pm[i] > 0.5f ? pm[i] : 0.f;
         return with_grads(masked_l1_loss(p, t, m), {p});
       }},
  };
}

class KernelPath : public ::testing::TestWithParam<Path> {};

TEST_P(KernelPath, TwoThreadsMatchOne) {
  const Path& p = GetParam();
  PoisonGuard poison;  // an element the parallel branch skips reads NaN
  std::vector<Tensor> one, two;
  {
    OmpThreads t(1);
    one = p.run();
  }
  {
    OmpThreads t(2);
    two = p.run();
  }
  ASSERT_EQ(one.size(), two.size());
  for (size_t i = 0; i < one.size(); ++i) {
    ASSERT_TRUE(one[i].defined() && two[i].defined()) << p.name << ": result " << i << " undefined";
    ASSERT_GT(one[i].numel(), 0);
    double scale = 0;
    for (double v : one[i].to_vector<double>()) scale = std::max(scale, std::fabs(v));
    expect_close(two[i], one[i], 0, p.reduction ? 1e-5 * scale : 0, p.name + ": result " + std::to_string(i) + ", 2 threads vs 1");
  }
}

std::string path_name(const ::testing::TestParamInfo<Path>& info) {
  std::string s;
  for (char ch : info.param.name.substr(0, info.param.name.find(" ("))) s += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return std::to_string(info.index) + "_" + s;
}

INSTANTIATE_TEST_SUITE_P(CpuParallelBranches, KernelPath, ::testing::ValuesIn(paths()), path_name);

}  // namespace
}  // namespace ff::test
