// tests/cases_elementwise.cpp — op cases for the element-wise ops and reductions.
// PyTorch side: tools/goldens/elementwise.py (same case names, same shape sets).
#include "tests/op_cases.h"

namespace ff::test {
namespace {

const Shape kShapes[] = {{7}, {3, 5}, {2, 3, 4, 5}};

OpCase unary(const std::string& name, std::function<Tensor(const Tensor&)> f, double lo = -1, double hi = 1) {
  OpCase c;
  c.name = name;
  c.shape_sets = 3;
  c.make = [lo, hi](Rng& rng, DType dt, int k) { return std::vector<Tensor>{rand_tensor(rng, kShapes[k], dt, lo, hi)}; };
  c.fn = [f](const std::vector<Tensor>& in) { return f(in[0]); };
  c.grad_inputs = {0};
  return c;
}
OpCase binary_case(const std::string& name, std::function<Tensor(const Tensor&, const Tensor&)> f) {
  OpCase c;
  c.name = name;
  c.shape_sets = 3;
  c.make = [](Rng& rng, DType dt, int k) {
    return std::vector<Tensor>{rand_tensor(rng, kShapes[k], dt), rand_tensor(rng, kShapes[k], dt)};
  };
  c.fn = [f](const std::vector<Tensor>& in) { return f(in[0], in[1]); };
  c.grad_inputs = {0, 1};
  return c;
}

FF_OP_CASE(add) { return binary_case("add", [](const Tensor& a, const Tensor& b) { return add(a, b); }); }
FF_OP_CASE(sub) { return binary_case("sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); }); }
FF_OP_CASE(mul) { return binary_case("mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }); }
FF_OP_CASE(scale) { return unary("scale", [](const Tensor& x) { return scale(x, -2.5); }); }
FF_OP_CASE(add_scalar) { return unary("add_scalar", [](const Tensor& x) { return add_scalar(x, 0.75); }); }
FF_OP_CASE(relu) { return unary("relu", [](const Tensor& x) { return relu(x); }); }
FF_OP_CASE(sum) {
  OpCase c = unary("sum", [](const Tensor& x) { return sum(x); });
  c.rtol = 1e-5;
  c.atol = 1e-5;  // float32 sums of up to 120 terms: summation order differs from PyTorch's
  return c;
}
FF_OP_CASE(mean) {
  OpCase c = unary("mean", [](const Tensor& x) { return mean(x); });
  c.atol = 1e-6;
  return c;
}
FF_OP_CASE(flatten) { return unary("flatten", [](const Tensor& x) { return mul(flatten(x, x.dim() > 1 ? 1 : 0), flatten(x, x.dim() > 1 ? 1 : 0)); }); }

}  // namespace
}  // namespace ff::test
