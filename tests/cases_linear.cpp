// tests/cases_linear.cpp — op cases for linear, mse_loss, cross_entropy and l2_normalize.
// PyTorch side: tools/goldens/linear.py (same case names, same shape sets and input recipes).
#include "tests/op_cases.h"

namespace ff::test {
namespace {

// linear: x [N, in], w [out, in], b [out]: 3x5 -> 7, 1x1 -> 1, 4x17 -> 9.
const Shape kLinX[] = {{3, 5}, {1, 1}, {4, 17}};
const Shape kLinW[] = {{7, 5}, {1, 1}, {9, 17}};

FF_OP_CASE(linear) {
  OpCase c;
  c.name = "linear";
  c.shape_sets = 3;
  c.make = [](Rng& rng, DType dt, int k) {
    return std::vector<Tensor>{rand_tensor(rng, kLinX[k], dt), rand_tensor(rng, kLinW[k], dt),
                               rand_tensor(rng, {kLinW[k][0]}, dt)};
  };
  c.fn = [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); };
  c.grad_inputs = {0, 1, 2};
  c.stand_in = "linear's matrix products are cuBLAS";  // the bias kernels are ours
  return c;
}

FF_OP_CASE(linear_nobias) {
  OpCase c;
  c.name = "linear_nobias";
  c.shape_sets = 3;
  c.make = [](Rng& rng, DType dt, int k) {
    return std::vector<Tensor>{rand_tensor(rng, kLinX[k], dt), rand_tensor(rng, kLinW[k], dt)};
  };
  c.fn = [](const std::vector<Tensor>& in) { return linear(in[0], in[1], Tensor()); };
  c.grad_inputs = {0, 1};
  c.stand_in = "linear's matrix products are cuBLAS";
  c.stand_in_only = true;  // no bias: only the products
  return c;
}

// Products of 2^18 multiply-adds, which kernels/blas_cpu.cpp splits over the threads (at 2): set 0
// splits the forward by rows and the input and weight gradients by columns, set 1 the forward by
// columns and both gradients by rows — each of the four (rows, columns) x (transposed A, B) cases.
FF_OP_CASE(linear_gemm_split) {
  static const Shape x_shapes[] = {{64, 128}, {64, 32}}, w_shapes[] = {{32, 128}, {128, 32}};
  OpCase c;
  c.name = "linear_gemm_split";
  c.shape_sets = 2;
  c.make = [](Rng& rng, DType dt, int k) {
    return std::vector<Tensor>{rand_tensor(rng, x_shapes[k], dt), rand_tensor(rng, w_shapes[k], dt),
                               rand_tensor(rng, {w_shapes[k][0]}, dt)};
  };
  c.fn = [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); };
  c.grad_inputs = {0, 1, 2};
  // The reference is PyTorch's float64 result rounded to float32; ours is within 4.8e-6 of it (both
  // OpenBLAS kernels, 1 and 2 threads), which relative 1e-5 does not cover for sums near zero.
  c.atol = 2e-5;
  c.stand_in = "linear's matrix products are cuBLAS";  // the bias kernels are ours
  return c;
}

FF_OP_CASE(mse_loss) {
  static const Shape shapes[] = {{7}, {3, 5}, {2, 3, 4, 5}};
  OpCase c;
  c.name = "mse_loss";
  c.shape_sets = 3;
  c.make = [](Rng& rng, DType dt, int k) {
    return std::vector<Tensor>{rand_tensor(rng, shapes[k], dt), rand_tensor(rng, shapes[k], dt)};
  };
  c.fn = [](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1]); };
  c.grad_inputs = {0, 1};  // the target is differentiable too
  return c;
}

// Plain logits: [5, 10] in [-1, 1), K = 1 (the loss is identically 0), [4, 7] in [-40, 40).
FF_OP_CASE(cross_entropy) {
  OpCase c;
  c.name = "cross_entropy";
  c.shape_sets = 3;
  c.make = [](Rng& rng, DType dt, int k) {
    static const int64_t n[] = {5, 3, 4}, kk[] = {10, 1, 7};
    static const double range[] = {1, 1, 40};
    return std::vector<Tensor>{rand_tensor(rng, {n[k], kk[k]}, dt, -range[k], range[k]),
                               rand_labels(rng, n[k], kk[k])};
  };
  c.fn = [](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1]); };
  c.grad_inputs = {0};
  return c;
}

// Hard inputs for a softmax (DESIGN.md §5): one logit per row +30 at a random column (set 0), at
// the label (set 1: loss ~ e^-30, softmax - onehot ~ 0 at the label), and the label's logit -30
// (set 2: loss ~ 30). A kernel that forgets to subtract the row max, or mixes up rows, fails.
FF_OP_CASE(cross_entropy_spiked) {
  OpCase c;
  c.name = "cross_entropy_spiked";
  c.shape_sets = 3;
  c.make = [](Rng& rng, DType dt, int k) {
    static const int64_t n[] = {6, 4, 3}, kk[] = {10, 5, 10};
    Tensor logits = rand_tensor(rng, {n[k], kk[k]}, dt).to(DType::F64);
    Tensor labels = rand_labels(rng, n[k], kk[k]);
    double* l = logits.data<double>();
    const int64_t* lab = labels.data<int64_t>();
    for (int64_t r = 0; r < n[k]; ++r) {
      if (k == 0) l[r * kk[k] + rng.randint(kk[k])] += 30.0;
      if (k == 1) l[r * kk[k] + lab[r]] += 30.0;
      if (k == 2) l[r * kk[k] + lab[r]] -= 30.0;
    }
    return std::vector<Tensor>{logits.to(dt), labels};
  };
  c.fn = [](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1]); };
  c.grad_inputs = {0};
  return c;
}

FF_OP_CASE(l2_normalize) {
  OpCase c;
  c.name = "l2_normalize";
  c.shape_sets = 3;
  c.make = [](Rng& rng, DType dt, int k) { return std::vector<Tensor>{rand_tensor(rng, kLinX[k], dt)}; };
  c.fn = [](const std::vector<Tensor>& in) { return l2_normalize(in[0]); };
  c.grad_inputs = {0};
  return c;
}

// Rows of tiny values (scaled by 1e-4, norm < eps = 1e-3) take the clamped branch, y = x / eps,
// next to ordinary rows. eps is raised from 1e-12 so the float64 gradient check's 1e-6 step stays
// inside the clamped branch.
FF_OP_CASE(l2_normalize_tiny) {
  OpCase c;
  c.name = "l2_normalize_tiny";
  c.shape_sets = 3;
  c.make = [](Rng& rng, DType dt, int k) {
    static const Shape shapes[] = {{4, 6}, {2, 3}, {5, 1}};
    Tensor x = rand_tensor(rng, shapes[k], DType::F64);
    double* p = x.data<double>();
    int64_t rows = shapes[k][0], cols = shapes[k][1];
    for (int64_t r = 0; r < rows; ++r) {
      bool tiny = k == 0 ? r == 1 : (k == 1 ? true : r % 2 == 0);
      if (tiny)
        for (int64_t j = 0; j < cols; ++j) p[r * cols + j] *= 1e-4;
    }
    return std::vector<Tensor>{x.to(dt)};
  };
  c.fn = [](const std::vector<Tensor>& in) { return l2_normalize(in[0], 1e-3); };
  c.grad_inputs = {0};
  return c;
}

}  // namespace
}  // namespace ff::test
