// engine/ops_elementwise.cpp — element-wise ops, full reductions and their gradients.
#include <vector>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/trace.h"
#include "kernels/elementwise.h"
#include "kernels/prelu.h"

namespace ff {

namespace {
void check_pair(const char* op, const Tensor& a, const Tensor& b) {
  check_float(op, a, "a");
  check_float(op, b, "b");
  check_same_device(op, a, b);
  check_same_dtype(op, a, b);
  check_same_shape(op, a, b);
}
Tensor binary(const char* op, BinaryOp kind, const Tensor& a, const Tensor& b) {
  check_pair(op, a, b);
  Tensor y = Tensor::empty(a.shape(), a.dtype(), a.device());
  int64_t n = a.numel();
  FF_DISPATCH_FLOAT(op, a, BK::binary(kind, a.data<T>(), b.data<T>(), y.data<T>(), n));
  return y;
}
// y = alpha * x + beta, not recorded.
Tensor affine(const Tensor& x, double alpha, double beta) {
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  FF_DISPATCH_FLOAT("affine", x, BK::affine(x.data<T>(), y.data<T>(), x.numel(), T(alpha), T(beta)));
  return y;
}
}  // namespace

static Tensor add_untraced(const Tensor& a, const Tensor& b) {
  Tensor y = binary("add", BinaryOp::Add, a, b);
  return record(y, "add", {a, b}, [](const Tensor& g) { return std::vector<Tensor>{g, g}; });
}

// Traced for export (engine/trace.h): the op above, recorded when a Tracer is active.
Tensor add(const Tensor& a, const Tensor& b) {
  TraceScope trace;
  Tensor y = add_untraced(a, b);
  if (trace.outer()) trace.record(TraceRecord{"add", {a, b}, y, {}, {}});
  return y;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor y = binary("sub", BinaryOp::Sub, a, b);
  return record(y, "sub", {a, b}, [](const Tensor& g) {
    return std::vector<Tensor>{g, affine(g, -1.0, 0.0)};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = binary("mul", BinaryOp::Mul, a, b);
  bool ga = a.requires_grad(), gb = b.requires_grad();
  Tensor sa = gb ? a.detach() : Tensor(), sb = ga ? b.detach() : Tensor();
  return record(y, "mul", {a, b}, [sa, sb](const Tensor& g) {
    return std::vector<Tensor>{sb.defined() ? binary("mul", BinaryOp::Mul, g, sb) : Tensor(),
                               sa.defined() ? binary("mul", BinaryOp::Mul, g, sa) : Tensor()};
  });
}

Tensor scale(const Tensor& x, double s) {
  check_float("scale", x, "x");
  Tensor y = affine(x, s, 0.0);
  return record(y, "scale", {x}, [s](const Tensor& g) { return std::vector<Tensor>{affine(g, s, 0.0)}; });
}

Tensor add_scalar(const Tensor& x, double s) {
  check_float("add_scalar", x, "x");
  Tensor y = affine(x, 1.0, s);
  return record(y, "add_scalar", {x}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

static Tensor relu_untraced(const Tensor& x) {
  check_float("relu", x, "x");
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  int64_t n = x.numel();
  FF_DISPATCH_FLOAT("relu", x, BK::relu_forward(x.data<T>(), y.data<T>(), n));
  Tensor saved = y.detach();
  return record(y, "relu", {x}, [saved](const Tensor& g) {
    Tensor gx = Tensor::empty(g.shape(), g.dtype(), g.device());
    int64_t m = g.numel();
    FF_DISPATCH_FLOAT("relu_backward", g, BK::relu_backward(g.data<T>(), saved.data<T>(), gx.data<T>(), m));
    return std::vector<Tensor>{gx};
  });
}

// Traced for export (engine/trace.h): the op above, recorded when a Tracer is active.
Tensor relu(const Tensor& x) {
  TraceScope trace;
  Tensor y = relu_untraced(x);
  if (trace.outer()) trace.record(TraceRecord{"relu", {x}, y, {}, {}});
  return y;
}

static Tensor prelu_untraced(const Tensor& x, const Tensor& w) {
  const char* op = "prelu";
  check_float(op, x, "x");
  check_float(op, w, "weight w");
  check_same_device(op, x, w);
  check_same_dtype(op, x, w);
  FF_CHECK(x.dim() >= 2, "prelu: x ", x.str(), " must be [N, C, ...] (at least 2 dimensions)");
  FF_CHECK(w.dim() == 1 && w.size(0) == x.size(1), "prelu: weight w ", w.str(), " must be [", x.size(1),
           "], one slope per channel of x ", x.str());
  const int64_t n = x.size(0), c = x.size(1), inner = c == 0 || n == 0 ? 0 : x.numel() / (n * c);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  FF_DISPATCH_FLOAT(op, x, BK::prelu_forward(n, c, inner, x.data<T>(), w.data<T>(), y.data<T>()));
  Tensor sx = x.detach(), sw = w.detach();
  const bool need_x = x.requires_grad(), need_w = w.requires_grad();
  return record(y, op, {x, w}, [sx, sw, n, c, inner, need_x, need_w](const Tensor& g) {
    Tensor gx = need_x ? Tensor::empty(sx.shape(), g.dtype(), g.device()) : Tensor();
    Tensor gw = need_w ? Tensor::empty(sw.shape(), g.dtype(), g.device()) : Tensor();
    FF_DISPATCH_FLOAT("prelu_backward", g,
                      BK::prelu_backward(n, c, inner, sx.data<T>(), sw.data<T>(), g.data<T>(),
                                         need_x ? gx.data<T>() : nullptr, need_w ? gw.data<T>() : nullptr));
    return std::vector<Tensor>{gx, gw};
  });
}

// Traced for export (engine/trace.h): the op above, recorded when a Tracer is active.
Tensor prelu(const Tensor& x, const Tensor& w) {
  TraceScope trace;
  Tensor y = prelu_untraced(x, w);
  if (trace.outer()) trace.record(TraceRecord{"prelu", {x, w}, y, {}, {}});
  return y;
}

namespace {
// A new tensor like x (float, same device) filled by f(out).
template <typename F>
Tensor unary_map(const char* op, const Tensor& x, F&& f) {
  check_float(op, x, "x");
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  f(y);
  return y;
}
}  // namespace

Tensor sqrt(const Tensor& x) {
  Tensor y = unary_map("sqrt", x, [&](Tensor& out) {
    FF_DISPATCH_FLOAT("sqrt", x, BK::sqrt_forward(x.data<T>(), out.data<T>(), x.numel()));
  });
  Tensor saved = y.detach();
  return record(y, "sqrt", {x}, [saved](const Tensor& g) {
    Tensor gx = Tensor::empty(g.shape(), g.dtype(), g.device());
    FF_DISPATCH_FLOAT("sqrt_backward", g, BK::sqrt_backward(g.data<T>(), saved.data<T>(), gx.data<T>(), g.numel()));
    return std::vector<Tensor>{gx};
  });
}

Tensor clamp(const Tensor& x, double lo, double hi) {
  FF_CHECK(lo <= hi, "clamp: lo ", lo, " > hi ", hi);
  Tensor y = unary_map("clamp", x, [&](Tensor& out) {
    FF_DISPATCH_FLOAT("clamp", x, BK::clamp_forward(x.data<T>(), out.data<T>(), x.numel(), T(lo), T(hi)));
  });
  Tensor saved = x.detach();
  return record(y, "clamp", {x}, [saved, lo, hi](const Tensor& g) {
    Tensor gx = Tensor::empty(g.shape(), g.dtype(), g.device());
    FF_DISPATCH_FLOAT("clamp_backward", g,
                      BK::clamp_backward(g.data<T>(), saved.data<T>(), gx.data<T>(), g.numel(), T(lo), T(hi)));
    return std::vector<Tensor>{gx};
  });
}

Tensor greater_mask(const Tensor& x, double threshold) {
  return unary_map("greater_mask", x, [&](Tensor& out) {
    FF_DISPATCH_FLOAT("greater_mask", x, BK::greater_mask(x.data<T>(), out.data<T>(), x.numel(), T(threshold)));
  });
}

namespace {
// Reduction to a 0-dim tensor; backward broadcasts g * factor back to x's shape without reading
// the value on the host.
Tensor reduce_all(const char* op, const Tensor& x, double factor) {
  check_float(op, x, "x");
  Tensor y = Tensor::empty({}, x.dtype(), x.device());
  int64_t n = x.numel();
  FF_DISPATCH_FLOAT(op, x, BK::sum_all(x.data<T>(), y.data<T>(), n));
  if (factor != 1.0) y = affine(y, factor, 0.0);
  Shape shape = x.shape();
  return record(y, op, {x}, [shape, factor](const Tensor& g) {
    Tensor gx = Tensor::empty(shape, g.dtype(), g.device());
    int64_t m = gx.numel();
    FF_DISPATCH_FLOAT("sum_backward", g, BK::fill_from_scalar(g.data<T>(), T(factor), gx.data<T>(), m));
    return std::vector<Tensor>{gx};
  });
}
}  // namespace

Tensor sum(const Tensor& x) { return reduce_all("sum", x, 1.0); }
Tensor mean(const Tensor& x) {
  FF_CHECK(x.defined() && x.numel() > 0, "mean: empty tensor ", x.str());
  return reduce_all("mean", x, 1.0 / static_cast<double>(x.numel()));
}

Tensor flatten(const Tensor& x, int64_t start_dim) {
  check_defined("flatten", x, "x");
  FF_CHECK(start_dim >= 0 && start_dim < std::max<int64_t>(x.dim(), 1), "flatten: start_dim ",
           start_dim, " out of range for ", x.str());
  Shape s(x.shape().begin(), x.shape().begin() + start_dim);
  s.push_back(-1);
  return x.reshape(s);
}

void add_(Tensor& a, const Tensor& b) { axpy_(a, 1.0, b); }

void axpy_(Tensor& a, double alpha, const Tensor& b) {
  check_pair("axpy_", a, b);
  int64_t n = a.numel();
  FF_DISPATCH_FLOAT("axpy_", a, BK::axpy(a.data<T>(), T(alpha), b.data<T>(), n));
}

void scale_(Tensor& a, double s) {
  check_float("scale_", a, "a");
  int64_t n = a.numel();
  FF_DISPATCH_FLOAT("scale_", a, BK::affine(a.data<T>(), a.data<T>(), n, T(s), T(0)));
}

void fill_(Tensor& a, double value) {
  check_defined("fill_", a, "a");
  int64_t n = a.numel();
  if (is_floating(a.dtype())) {
    FF_DISPATCH_FLOAT("fill_", a, BK::fill(a.data<T>(), n, T(value)));
    return;
  }
  FF_CHECK(a.device().is_cpu() || value == 0.0, "fill_: integer CUDA tensors can only be zero-filled, got ", a.str());
  if (a.device().is_cuda()) {
    Tensor host = Tensor::zeros(a.shape(), a.dtype());
    a.copy_from(host);
    return;
  }
  switch (a.dtype()) {
    case DType::I32: for (int64_t i = 0; i < n; ++i) a.data<int32_t>()[i] = static_cast<int32_t>(value); break;
    case DType::I64: for (int64_t i = 0; i < n; ++i) a.data<int64_t>()[i] = static_cast<int64_t>(value); break;
    case DType::U8: for (int64_t i = 0; i < n; ++i) a.data<uint8_t>()[i] = static_cast<uint8_t>(value); break;
    default: break;
  }
}

}  // namespace ff
