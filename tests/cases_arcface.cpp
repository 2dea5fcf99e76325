// tests/cases_arcface.cpp — op cases for the label-indexed ops, sqrt/clamp and the ArcFace loss.
// PyTorch side: tools/goldens/arcface.py.
#include "tests/op_cases.h"

namespace ff::test {
namespace {

const Shape kRows[] = {{1, 1}, {3, 5}, {6, 11}};

std::vector<Tensor> cos_and_labels(Rng& rng, DType dt, int k) {
  const Shape& s = kRows[k];
  return {rand_tensor(rng, s, dt, -0.99, 0.99), rand_labels(rng, s[0], s[1])};
}

FF_OP_CASE(gather_label) {
  OpCase c;
  c.name = "gather_label";
  c.shape_sets = 3;
  c.make = cos_and_labels;
  c.fn = [](const std::vector<Tensor>& in) { return gather_label(in[0], in[1]); };
  c.grad_inputs = {0};
  return c;
}

FF_OP_CASE(scatter_label_add) {
  OpCase c;
  c.name = "scatter_label_add";
  c.shape_sets = 3;
  c.make = [](Rng& rng, DType dt, int k) {
    auto v = cos_and_labels(rng, dt, k);
    v.push_back(rand_tensor(rng, {kRows[k][0]}, dt));
    return v;
  };
  c.fn = [](const std::vector<Tensor>& in) { return scatter_label_add(in[0], in[1], in[2]); };
  c.grad_inputs = {0, 2};
  return c;
}

FF_OP_CASE(sqrt) {
  OpCase c;
  c.name = "sqrt";
  c.shape_sets = 2;
  c.make = [](Rng& rng, DType dt, int k) { return std::vector<Tensor>{rand_tensor(rng, k ? Shape{4, 5} : Shape{7}, dt, 0.05, 2.0)}; };
  c.fn = [](const std::vector<Tensor>& in) { return sqrt(in[0]); };
  c.grad_inputs = {0};
  return c;
}

FF_OP_CASE(clamp) {
  OpCase c;
  c.name = "clamp";
  c.shape_sets = 2;
  c.make = [](Rng& rng, DType dt, int k) { return std::vector<Tensor>{rand_tensor(rng, k ? Shape{4, 5} : Shape{7}, dt, -2, 2)}; };
  c.fn = [](const std::vector<Tensor>& in) { return clamp(in[0], -0.5, 0.75); };
  c.grad_inputs = {0};
  return c;
}

// ArcFace, fused. s and m as in the notebooks (45, 0.1) and a large margin where theta + m > pi
// happens for negative target cosines.
OpCase arcface_case(const std::string& name, double s, double m) {
  OpCase c;
  c.name = name;
  c.shape_sets = 3;
  c.make = cos_and_labels;
  c.fn = [s, m](const std::vector<Tensor>& in) { return arcface_loss(in[0], in[1], s, m); };
  c.grad_inputs = {0};
  c.rtol = 1e-4;  // float32 log-sum-exp over scaled logits (s up to 45): summation order differs
  c.atol = 1e-5;
  c.cuda_rtol = 1e-4;
  c.grad_eps = 1e-7;  // s = 45 makes the loss curved: a smaller step keeps truncation error low
  c.grad_rtol = 1e-4;
  c.grad_atol = 1e-6;
  return c;
}
FF_OP_CASE(arcface_s45_m01) { return arcface_case("arcface_s45_m01", 45.0, 0.1); }
FF_OP_CASE(arcface_s8_m05) { return arcface_case("arcface_s8_m05", 8.0, 0.5); }

}  // namespace
}  // namespace ff::test
