// tests/cases_detect.cpp — op cases for the detector's training ops: sigmoid, the CenterNet focal
// loss and the masked L1 loss, on random inputs and at the edges (large |logits|, no positive,
// an all-zero target, an all-zero mask, a NaN target where the mask is 0, prediction equal to
// target). Sizes are chosen off the block sizes (256 threads, 2048 elements per reduction block)
// and past one reduction block, so the CUDA twins' two-stage reductions and grid-stride tails run.
// PyTorch side: tools/goldens/detect.py (same case names, same shape sets, same edits).
#include <cmath>
#include <limits>

#include "tests/op_cases.h"

namespace ff::test {
namespace {

// ---------------------------------------------------------------- sigmoid

const Shape kSigmoidShapes[] = {{7}, {3, 5}, {2, 3, 37, 29}};  // the last: 6438 elements, 26 blocks

FF_OP_CASE(sigmoid) {
  OpCase c;
  c.name = "sigmoid";
  c.shape_sets = 3;
  c.make = [](Rng& rng, DType dt, int k) { return std::vector<Tensor>{rand_tensor(rng, kSigmoidShapes[k], dt, -6, 6)}; };
  c.fn = [](const std::vector<Tensor>& in) { return sigmoid(in[0]); };
  c.grad_inputs = {0};
  return c;
}

// Logits far out on both sides, where a naive 1 / (1 + exp(-x)) overflows exp (x < -88 in float32),
// and exactly 0. tools/goldens/detect.py writes the same values.
const double kLargeLogits[] = {0.0, 15.0, -15.0, 40.0, -40.0, 88.0, -88.0, 89.0, -89.0, 100.0, -100.0, 1e4, -1e4};
constexpr int kNumLarge = sizeof(kLargeLogits) / sizeof(kLargeLogits[0]);

FF_OP_CASE(sigmoid_large) {
  OpCase c;
  c.name = "sigmoid_large";
  c.make = [](Rng& rng, DType dt, int) {
    Tensor x = rand_tensor(rng, {3, 9}, DType::F64, -3, 3);
    double* p = x.data<double>();
    for (int i = 0; i < kNumLarge; ++i) p[2 * i] = kLargeLogits[i];
    return std::vector<Tensor>{x.to(dt)};
  };
  c.fn = [](const std::vector<Tensor>& in) { return sigmoid(in[0]); };
  c.grad_inputs = {0};
  return c;
}

// ---------------------------------------------------------------- focal loss

// Heatmap-like targets [N, 1, H, W]: uniform in [0, 0.95) with every `every`-th element exactly 1
// (a face centre); logits uniform in [-4, 4).
const Shape kHeatShapes[] = {{1, 1, 5, 7}, {2, 1, 13, 11}, {2, 1, 41, 37}};  // 35, 286, 3034 elements
std::vector<Tensor> logits_and_heatmap(Rng& rng, DType dt, int k, int every = 9, double tmax = 0.95) {
  const Shape& s = kHeatShapes[k];
  Tensor x = rand_tensor(rng, s, dt, -4, 4);
  Tensor t = rand_tensor(rng, s, DType::F64, 0, tmax);
  if (every > 0) {
    double* p = t.data<double>();
    for (int64_t i = 3; i < t.numel(); i += every) p[i] = 1.0;
  }
  return {x, t.to(dt)};
}

OpCase focal_case(const std::string& name, double alpha, double beta) {
  OpCase c;
  c.name = name;
  c.shape_sets = 3;
  c.make = [](Rng& rng, DType dt, int k) { return logits_and_heatmap(rng, dt, k); };
  c.fn = [alpha, beta](const std::vector<Tensor>& in) { return focal_loss(in[0], in[1], alpha, beta); };
  c.grad_inputs = {0};
  c.rtol = 1e-5;
  c.atol = 1e-5;  // float32 sums of up to 3034 terms: PyTorch sums in another order
  // Without positives the loss is a sum of up to 3034 terms of order 1: at a step of 1e-6 its
  // rounding (1e-16 x 3e3 / 1e-6) would be 3e-7 in the differences.
  c.grad_eps = 1e-4;
  return c;
}
FF_OP_CASE(focal_loss) { return focal_case("focal_loss", 2, 4); }
FF_OP_CASE(focal_loss_a15_b3) { return focal_case("focal_loss_a15_b3", 1.5, 3); }

// No positive at all (the denominator is max(1, 0) = 1), and a target of zeros only.
FF_OP_CASE(focal_loss_no_positives) {
  OpCase c = focal_case("focal_loss_no_positives", 2, 4);
  c.make = [](Rng& rng, DType dt, int k) { return logits_and_heatmap(rng, dt, k, 0, 0.99); };
  return c;
}
FF_OP_CASE(focal_loss_zero_target) {
  OpCase c = focal_case("focal_loss_zero_target", 2, 4);
  c.make = [](Rng& rng, DType dt, int k) {
    std::vector<Tensor> in = logits_and_heatmap(rng, dt, k, 0);
    in[1] = Tensor::zeros(in[1].shape(), dt);
    return in;
  };
  return c;
}
// Every element a positive.
FF_OP_CASE(focal_loss_all_positive) {
  OpCase c = focal_case("focal_loss_all_positive", 2, 4);
  c.shape_sets = 1;
  c.make = [](Rng& rng, DType dt, int) {
    std::vector<Tensor> in = logits_and_heatmap(rng, dt, 1, 0);
    in[1] = Tensor::full(in[1].shape(), 1.0, dt);
    return in;
  };
  return c;
}
// Large logits on positives and negatives alike (the values of kLargeLogits but 1e4, which gives
// a loss term of 1e4 whose float32 sum with the rest is exact only to 1e-3): log p and log(1 - p)
// through softplus never give log(0) = -inf.
FF_OP_CASE(focal_loss_large_logits) {
  OpCase c = focal_case("focal_loss_large_logits", 2, 4);
  c.shape_sets = 1;
  c.make = [](Rng& rng, DType dt, int) {
    Tensor x = rand_tensor(rng, {1, 1, 6, 9}, DType::F64, -3, 3);
    Tensor t = rand_tensor(rng, {1, 1, 6, 9}, DType::F64, 0, 0.9);
    double* px = x.data<double>();
    double* pt = t.data<double>();
    for (int i = 0; i < kNumLarge - 2; ++i) {
      px[2 * i] = kLargeLogits[i];  // a negative
      px[2 * i + 1] = kLargeLogits[i];
      pt[2 * i + 1] = 1.0;  // a positive
    }
    return std::vector<Tensor>{x.to(dt), t.to(dt)};
  };
  c.rtol = 1e-5;
  c.atol = 1e-4;  // loss terms up to 100 summed in float32 by PyTorch
  return c;
}

// ---------------------------------------------------------------- masked L1 loss

// pred, target [N, C, H, W] uniform in [-2, 2); mask [N, 1, H, W]: 1 at one cell in 5, a weight
// in (0.1, 1) at one in 7 others, else 0.
const Shape kBoxShapes[] = {{1, 2, 3, 5}, {2, 4, 7, 9}, {2, 10, 11, 14}};  // the last: 3080 elements
Tensor make_mask(Rng& rng, const Shape& s, DType dt) {
  Tensor m = rand_tensor(rng, {s[0], 1, s[2], s[3]}, DType::F64, 0.1, 1);
  double* p = m.data<double>();
  for (int64_t i = 0; i < m.numel(); ++i)
    if (i % 5 == 1)
      p[i] = 1.0;
    else if (i % 7 != 3)
      p[i] = 0.0;
  return m.to(dt);
}
std::vector<Tensor> pred_target_mask(Rng& rng, DType dt, int k) {
  const Shape& s = kBoxShapes[k];
  Tensor pred = rand_tensor(rng, s, dt, -2, 2), target = rand_tensor(rng, s, dt, -2, 2);
  return {pred, target, make_mask(rng, s, dt)};
}

OpCase masked_l1_case(const std::string& name) {
  OpCase c;
  c.name = name;
  c.shape_sets = 3;
  c.make = pred_target_mask;
  c.fn = [](const std::vector<Tensor>& in) { return masked_l1_loss(in[0], in[1], in[2]); };
  c.grad_inputs = {0};
  c.atol = 1e-5;
  return c;
}
FF_OP_CASE(masked_l1_loss) { return masked_l1_case("masked_l1_loss"); }

// An all-zero mask: loss 0 (denominator max(1, 0) = 1), gradient 0.
FF_OP_CASE(masked_l1_loss_zero_mask) {
  OpCase c = masked_l1_case("masked_l1_loss_zero_mask");
  c.make = [](Rng& rng, DType dt, int k) {
    std::vector<Tensor> in = pred_target_mask(rng, dt, k);
    in[2] = Tensor::zeros(in[2].shape(), dt);
    return in;
  };
  return c;
}

// Where the mask is 0 the target holds NaN, +inf and -inf (cells nobody labelled), and pred equals
// target at some masked-in elements (|d| has its kink there: torch's gradient is 0, and so is the
// central difference). The loss stays finite.
std::vector<Tensor> unlabelled_cells(Rng& rng, DType dt, int k) {
  std::vector<Tensor> in = pred_target_mask(rng, DType::F64, k);
  const Shape& s = kBoxShapes[k];
  const int64_t cc = s[1], hw = s[2] * s[3];
  const double* m = in[2].data<double>();
  double* t = in[1].data<double>();
  const double* p = in[0].data<double>();
  const double special[] = {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                            -std::numeric_limits<double>::infinity()};
  int zero = 0, equal = 0;
  for (int64_t i = 0; i < in[1].numel(); ++i) {
    const int64_t b = i / (cc * hw), j = i % hw;
    if (m[b * hw + j] == 0.0)
      t[i] = special[zero++ % 3];
    else if (equal++ % 4 == 0)
      t[i] = p[i];
  }
  return {in[0].to(dt), in[1].to(dt), in[2].to(dt)};
}
FF_OP_CASE(masked_l1_loss_unlabelled) {
  OpCase c = masked_l1_case("masked_l1_loss_unlabelled");
  c.make = unlabelled_cells;
  return c;
}

}  // namespace
}  // namespace ff::test
