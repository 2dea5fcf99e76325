// tests/cases_elementwise.cpp — op cases for the element-wise ops, reductions and in-place ops.
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
// PReLU with a [C] slope: x [N, C, ...] and w [C], both uniform in [-1, 1) (negative slopes too).
// Shapes: an image batch, a linear layer's [N, C] output, a 1x1 plane, and one of 17,280 elements
// (many CUDA blocks; the OpenMP branches run in tests/test_kernel_paths.cpp).
FF_OP_CASE(prelu) {
  OpCase c;
  c.name = "prelu";
  c.shape_sets = 4;
  c.make = [](Rng& rng, DType dt, int k) {
    const Shape xs[] = {{2, 3, 5, 7}, {4, 6}, {3, 10, 1, 1}, {2, 3, 40, 72}};
    return std::vector<Tensor>{rand_tensor(rng, xs[k], dt), rand_tensor(rng, {xs[k][1]}, dt)};
  };
  c.fn = [](const std::vector<Tensor>& in) { return prelu(in[0], in[1]); };
  c.grad_inputs = {0, 1};
  // The slope gradient sums up to 5,760 products per channel (in double on both backends, in
  // float32 by PyTorch).
  c.atol = 1e-4;
  c.rtol = 1e-5;
  return c;
}
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

// The in-place ops (never recorded: no gradient), each on a copy of its first input. fill_ writes
// a fresh, uninitialised tensor, so an element it skips stays NaN (the checks poison allocations).
OpCase inplace(const std::string& name, int inputs, std::function<Tensor(const std::vector<Tensor>&)> f) {
  OpCase c;
  c.name = name;
  c.shape_sets = 3;
  c.make = [inputs](Rng& rng, DType dt, int k) {
    std::vector<Tensor> in;
    for (int i = 0; i < inputs; ++i) in.push_back(rand_tensor(rng, kShapes[k], dt));
    return in;
  };
  c.fn = std::move(f);
  return c;
}
FF_OP_CASE(scale_inplace) {
  return inplace("scale_inplace", 1, [](const std::vector<Tensor>& in) {
    Tensor a = in[0].detach().clone();
    scale_(a, -2.5);
    return a;
  });
}
FF_OP_CASE(add_inplace) {
  return inplace("add_inplace", 2, [](const std::vector<Tensor>& in) {
    Tensor a = in[0].detach().clone();
    add_(a, in[1]);
    return a;
  });
}
FF_OP_CASE(axpy_inplace) {
  return inplace("axpy_inplace", 2, [](const std::vector<Tensor>& in) {
    Tensor a = in[0].detach().clone();
    axpy_(a, 0.625, in[1]);
    return a;
  });
}
FF_OP_CASE(fill_inplace) {
  return inplace("fill_inplace", 1, [](const std::vector<Tensor>& in) {
    Tensor a = Tensor::empty(in[0].shape(), in[0].dtype(), in[0].device());
    fill_(a, 0.375);
    return a;
  });
}

// ---------------------------------------------------------------- sqrt, clamp, greater_mask

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

// Values exactly at the bounds, where torch.clamp passes the gradient (x = lo or hi: gradient 1),
// between values inside and outside.
FF_OP_CASE(clamp_at_bounds) {
  OpCase c;
  c.name = "clamp_at_bounds";
  c.make = [](Rng& rng, DType dt, int) {
    Tensor x = rand_tensor(rng, {3, 4}, DType::F64, -2, 2);
    double* p = x.data<double>();
    for (int i : {0, 5, 10}) p[i] = -0.5;
    for (int i : {3, 6, 11}) p[i] = 0.75;
    return std::vector<Tensor>{x.to(dt)};
  };
  c.fn = [](const std::vector<Tensor>& in) { return clamp(in[0], -0.5, 0.75); };
  c.grad_inputs = {0};
  c.no_grad_check = "inputs sit on the clamp's kinks, where central differences average the two one-sided slopes";
  return c;
}

// 1 where x > 0.25 (strictly: the values set exactly to 0.25 give 0, as torch's >), else 0.
FF_OP_CASE(greater_mask) {
  OpCase c;
  c.name = "greater_mask";
  c.shape_sets = 2;
  c.make = [](Rng& rng, DType dt, int k) {
    Tensor x = rand_tensor(rng, k ? Shape{4, 5} : Shape{7}, DType::F64);
    double* p = x.data<double>();
    p[1] = p[4] = 0.25;
    return std::vector<Tensor>{x.to(dt)};
  };
  c.fn = [](const std::vector<Tensor>& in) { return greater_mask(in[0], 0.25); };
  return c;
}

}  // namespace
}  // namespace ff::test
