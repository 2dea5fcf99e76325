// tests/cases_norm.cpp — op cases for batch_norm2d, upsample_bilinear2d and dropout.
// PyTorch side: tools/goldens/norm.py (same case names, same shape sets and size tables).
#include <utility>

#include "tests/op_cases.h"

namespace ff::test {
namespace {

constexpr double kEps = 1e-5, kMomentum = 0.1;

// N=1 with H*W > 1, H*W == 1 with N > 1, odd sizes.
const Shape kBnShapes[] = {{2, 3, 4, 5}, {1, 2, 3, 3}, {3, 4, 1, 2}, {4, 3, 1, 1}};

// Fresh running statistics on x's device, as a new BatchNorm2d holds them.
std::pair<Tensor, Tensor> fresh_running(const Tensor& x) {
  Tensor rm = Tensor::zeros({x.size(1)}, x.dtype(), x.device());
  Tensor rv = Tensor::ones({x.size(1)}, x.dtype(), x.device());
  return {rm, rv};
}

FF_OP_CASE(batch_norm2d_train) {
  OpCase c;
  c.name = "batch_norm2d_train";
  c.shape_sets = 4;
  c.make = [](Rng& rng, DType dt, int k) {
    const Shape& s = kBnShapes[k];
    return std::vector<Tensor>{rand_tensor(rng, s, dt, -1, 2), rand_tensor(rng, {s[1]}, dt, 0.5, 1.5),
                               rand_tensor(rng, {s[1]}, dt)};
  };
  c.fn = [](const std::vector<Tensor>& in) {
    auto [rm, rv] = fresh_running(in[0]);  // fresh each call: every call sees the same state
    return batch_norm2d(in[0], in[1], in[2], rm, rv, true, kMomentum, kEps);
  };
  c.grad_inputs = {0, 1, 2};
  // Against the CPU, cuDNN accumulates the per-channel sums in float32 (we use double), and the x
  // gradient is a difference of such sums (gy - mean(gy) - xhat * mean(gy * xhat)): allow 1e-4
  // relative there. PyTorch's float32 CPU result meets the default 1e-5.
  c.cuda_rtol = 1e-4;
  // Non-finite values only in x: cuDNN folds gamma, beta and the statistics into its own
  // expression (gamma * (x - mean) * invstd + beta) and the CPU into another (a * x + b), so an
  // infinite parameter gives inf - inf = NaN in one and an infinity in the other.
  c.nonfinite_inputs = {0};
  c.stand_in = "batch_norm2d training forward and backward are cuDNN";
  c.stand_in_only = true;
  return c;
}

FF_OP_CASE(batch_norm2d_eval) {
  OpCase c;
  c.name = "batch_norm2d_eval";
  c.shape_sets = 4;
  c.make = [](Rng& rng, DType dt, int k) {
    const Shape& s = kBnShapes[k];
    int64_t ch = s[1];
    return std::vector<Tensor>{rand_tensor(rng, s, dt, -1, 2), rand_tensor(rng, {ch}, dt, 0.5, 1.5),
                               rand_tensor(rng, {ch}, dt), rand_tensor(rng, {ch}, dt, -0.5, 0.5),
                               rand_tensor(rng, {ch}, dt, 0.5, 2.0)};  // running var > 0
  };
  c.fn = [](const std::vector<Tensor>& in) {
    Tensor rm = in[3], rv = in[4];  // read only in eval mode
    return batch_norm2d(in[0], in[1], in[2], rm, rv, false, kMomentum, kEps);
  };
  c.grad_inputs = {0, 1, 2};
  // Non-finite values only in x: cuDNN folds gamma, beta and the statistics into its own
  // expression (gamma * (x - mean) * invstd + beta) and the CPU into another (a * x + b), so an
  // infinite parameter gives inf - inf = NaN in one and an infinity in the other.
  c.nonfinite_inputs = {0};
  c.stand_in = "batch_norm2d inference forward is cuDNN";  // the backward kernels are ours
  return c;
}

// Three training steps from fresh statistics; the result is the running statistics, [2, C]
// (mean, var), assembled on the host (there is no concatenation op). Not differentiable: checks
// the in-place updates against PyTorch and cuDNN's against the CPU's.
FF_OP_CASE(batch_norm2d_running) {
  OpCase c;
  c.name = "batch_norm2d_running";
  c.make = [](Rng& rng, DType dt, int) {
    std::vector<Tensor> in;
    const double shift_spread[3][2] = {{0.5, 1.0}, {-1.0, 2.0}, {2.0, 0.5}};
    for (const auto& ss : shift_spread) in.push_back(rand_tensor(rng, {4, 3, 3, 5}, dt, ss[0] - ss[1], ss[0] + ss[1]));
    in.push_back(rand_tensor(rng, {3}, dt, 0.5, 1.5));
    in.push_back(rand_tensor(rng, {3}, dt));
    return in;
  };
  c.fn = [](const std::vector<Tensor>& in) {
    auto [rm, rv] = fresh_running(in[0]);
    for (int i = 0; i < 3; ++i) batch_norm2d(in[i], in[3], in[4], rm, rv, true, kMomentum, kEps);
    std::vector<double> v = rm.to_vector<double>(), var = rv.to_vector<double>();
    v.insert(v.end(), var.begin(), var.end());
    return Tensor::from_vector(v, {2, rm.size(0)}).to(in[0].dtype()).to(in[0].device());
  };
  c.nonfinite_inputs = {0, 1, 2};  // the three batches, not gamma and beta (see batch_norm2d_train)
  c.stand_in = "batch_norm2d running statistics are cuDNN";
  c.stand_in_only = true;
  return c;
}

// ---------------------------------------------------------------- upsample_bilinear2d

struct Resize {
  Shape in;
  int64_t oh, ow;
};
const std::vector<Resize> kUpX2 = {{{1, 2, 3, 4}, 6, 8}, {{2, 1, 5, 5}, 10, 10}};
const std::vector<Resize> kUpOdd = {{{1, 2, 5, 7}, 9, 4}, {{1, 1, 8, 8}, 11, 13}};
const std::vector<Resize> kUpDown = {{{1, 2, 9, 7}, 4, 3}, {{2, 1, 8, 8}, 3, 5}, {{1, 1, 5, 4}, 1, 3}};

OpCase upsample_case(const std::string& name, const std::vector<Resize>& table, bool align) {
  OpCase c;
  c.name = name;
  c.shape_sets = static_cast<int>(table.size());
  c.make = [table](Rng& rng, DType dt, int k) { return std::vector<Tensor>{rand_tensor(rng, table[k].in, dt)}; };
  // The output size is looked up from the input's shape (the golden file carries only tensors).
  c.fn = [table, align](const std::vector<Tensor>& in) {
    for (const Resize& r : table)
      if (r.in == in[0].shape()) return upsample_bilinear2d(in[0], r.oh, r.ow, align);
    FF_FAIL("upsample case: no output size for input ", in[0].str());
  };
  c.grad_inputs = {0};
  return c;
}

FF_OP_CASE(upsample_x2_align) { return upsample_case("upsample_bilinear2d_x2_align", kUpX2, true); }
FF_OP_CASE(upsample_x2) { return upsample_case("upsample_bilinear2d_x2", kUpX2, false); }
FF_OP_CASE(upsample_odd_align) { return upsample_case("upsample_bilinear2d_odd_align", kUpOdd, true); }
FF_OP_CASE(upsample_odd) { return upsample_case("upsample_bilinear2d_odd", kUpOdd, false); }
FF_OP_CASE(upsample_down_align) { return upsample_case("upsample_bilinear2d_down_align", kUpDown, true); }
FF_OP_CASE(upsample_down) { return upsample_case("upsample_bilinear2d_down", kUpDown, false); }

// ---------------------------------------------------------------- dropout

const Shape kDropShapes[] = {{7}, {3, 5}, {2, 3, 4, 5}};

// Training, p = 0.3. A fresh Rng(123) in fn: every call (and every backend) draws the same mask,
// which tools/goldens/norm.py reproduces with its own Philox.
FF_OP_CASE(dropout) {
  OpCase c;
  c.name = "dropout";
  c.shape_sets = 3;
  c.make = [](Rng& rng, DType dt, int k) { return std::vector<Tensor>{rand_tensor(rng, kDropShapes[k], dt)}; };
  c.fn = [](const std::vector<Tensor>& in) {
    Rng rng(123);
    return dropout(in[0], 0.3, true, rng);
  };
  c.grad_inputs = {0};
  return c;
}

// The identity paths: eval mode, and p == 0 in training.
FF_OP_CASE(dropout_eval) {
  OpCase c;
  c.name = "dropout_eval";
  c.shape_sets = 3;
  c.make = [](Rng& rng, DType dt, int k) { return std::vector<Tensor>{rand_tensor(rng, kDropShapes[k], dt)}; };
  c.fn = [](const std::vector<Tensor>& in) {
    Rng rng(5);
    return add(dropout(in[0], 0.3, false, rng), dropout(in[0], 0.0, true, rng));
  };
  c.grad_inputs = {0};
  return c;
}

}  // namespace
}  // namespace ff::test
