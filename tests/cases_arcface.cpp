// tests/cases_arcface.cpp — op cases for the label-indexed ops and the ArcFace loss (fused and
// unfused, on random cosines and at the edges +-1).
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

// ArcFace, fused or composed of ordinary ops. s and m as in the notebooks (45, 0.1) and a large
// margin where theta + m > pi happens for negative target cosines.
OpCase arcface_case(const std::string& name, double s, double m, bool fused = true) {
  OpCase c;
  c.name = name;
  c.shape_sets = 3;
  c.make = cos_and_labels;
  c.fn = [s, m, fused](const std::vector<Tensor>& in) {
    return fused ? arcface_loss(in[0], in[1], s, m) : arcface_loss_unfused(in[0], in[1], s, m);
  };
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
FF_OP_CASE(arcface_loss_unfused) { return arcface_case("arcface_loss_unfused", 45.0, 0.1, false); }

// Target cosines exactly -1 (row 0), -0.999 (row 1: theta + m > pi for m = 0.5), exactly +1 (row
// 2), 0.3 with a wrong class at exactly 1 (row 3), the rest uniform in [-0.9, 0.9): at +-1 the
// clamp passes the gradient (torch.clamp), the sine's clamp binds and passes none.
// tools/goldens/arcface.py builds the same rows.
std::vector<Tensor> edge_cosines(Rng& rng, DType dt, int) {
  const int64_t n = 4, c = 6;
  Tensor cos = rand_tensor(rng, {n, c}, DType::F64, -0.9, 0.9);
  Tensor labels = Tensor::from_vector<int64_t>({0, 2, 4, 5}, {n});
  double* p = cos.data<double>();
  p[0 * c + 0] = -1.0;
  p[1 * c + 2] = -0.999;
  p[2 * c + 4] = 1.0;
  p[3 * c + 5] = 0.3;
  p[3 * c + 1] = 1.0;
  return {cos.to(dt), labels};
}
OpCase arcface_edge_case(const std::string& name, double m, bool fused) {
  OpCase c = arcface_case(name, 64.0, m, fused);
  c.shape_sets = 1;
  c.make = edge_cosines;
  c.no_grad_check = "target cosines sit on the clamp's kinks at +-1, where central differences average the two one-sided slopes";
  return c;
}
FF_OP_CASE(arcface_edges_s64_m01) { return arcface_edge_case("arcface_edges_s64_m01", 0.1, true); }
FF_OP_CASE(arcface_edges_s64_m05) { return arcface_edge_case("arcface_edges_s64_m05", 0.5, true); }
FF_OP_CASE(arcface_unfused_edges_s64_m05) { return arcface_edge_case("arcface_unfused_edges_s64_m05", 0.5, false); }

}  // namespace
}  // namespace ff::test
