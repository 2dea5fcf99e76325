// engine/ops_linear.cpp — linear (x wᵀ + b) and l2_normalize, with their gradients. Each op checks
// its arguments once, dispatches to kernels/linear.h, and records an autograd node capturing
// detached saved tensors.
#include <vector>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/trace.h"
#include "kernels/linear.h"

namespace ff {

// ---------------------------------------------------------------- linear
static Tensor linear_untraced(const Tensor& x, const Tensor& w, const Tensor& b) {
  const char* op = "linear";
  check_float(op, x, "x");
  check_float(op, w, "w");
  check_dim(op, x, 2, "x [N, in]");
  check_dim(op, w, 2, "w [out, in]");
  check_same_device(op, x, w);
  check_same_dtype(op, x, w);
  FF_CHECK(x.size(1) == w.size(1), op, ": x ", x.str(), " has ", x.size(1), " features but w ", w.str(),
           " expects ", w.size(1));
  if (b.defined()) {
    check_float(op, b, "b");
    check_same_device(op, x, b);
    check_same_dtype(op, x, b);
    FF_CHECK(b.dim() == 1 && b.size(0) == w.size(0), op, ": bias ", b.str(), " must be [", w.size(0),
             "] for w ", w.str());
  }
  const int64_t n = x.size(0), in = x.size(1), out = w.size(0);
  Tensor y = Tensor::empty({n, out}, x.dtype(), x.device());
  FF_DISPATCH_FLOAT(op, x, {
    BK::gemm(false, true, n, out, in, T(1), x.data<T>(), w.data<T>(), T(0), y.data<T>());
    if (b.defined()) BK::add_bias_rows(y.data<T>(), b.data<T>(), n, out);
  });
  bool gx = x.requires_grad(), gw = w.requires_grad(), gb = b.defined() && b.requires_grad();
  // x is needed for the weight gradient, w for the input gradient.
  Tensor sx = gw ? x.detach() : Tensor(), sw = gx ? w.detach() : Tensor();
  return record(y, op, {x, w, b}, [sx, sw, gx, gw, gb, n, in, out](const Tensor& g) {
    Tensor dx, dw, db;
    if (gx) dx = Tensor::empty({n, in}, g.dtype(), g.device());
    if (gw) dw = Tensor::empty({out, in}, g.dtype(), g.device());
    if (gb) db = Tensor::empty({out}, g.dtype(), g.device());
    FF_DISPATCH_FLOAT("linear_backward", g, {
      // dx [N, in] = g [N, out] w [out, in]
      if (gx) BK::gemm(false, false, n, in, out, T(1), g.data<T>(), sw.data<T>(), T(0), dx.data<T>());
      // dw [out, in] = gᵀ [out, N] x [N, in]
      if (gw) BK::gemm(true, false, out, in, n, T(1), g.data<T>(), sx.data<T>(), T(0), dw.data<T>());
      // db [out] = column sums of g
      if (gb) BK::sum_rows(g.data<T>(), db.data<T>(), n, out);
    });
    return std::vector<Tensor>{dx, dw, db};
  });
}

// Traced for export (engine/trace.h): the op above, recorded when a Tracer is active.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  TraceScope trace;
  Tensor y = linear_untraced(x, w, b);
  if (trace.outer()) trace.record(TraceRecord{"linear", {x, w, b}, y, {}, {}});
  return y;
}

// ---------------------------------------------------------------- l2_normalize
static Tensor l2_normalize_untraced(const Tensor& x, double eps) {
  const char* op = "l2_normalize";
  check_float(op, x, "x");
  check_dim(op, x, 2, "x [N, D]");
  FF_CHECK(eps > 0, op, ": eps must be positive, got ", eps, " for x ", x.str());
  const int64_t rows = x.size(0), cols = x.size(1);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor norm = Tensor::empty({rows}, x.dtype(), x.device());
  FF_DISPATCH_FLOAT(op, x,
                    BK::l2_normalize_forward(x.data<T>(), y.data<T>(), norm.data<T>(), rows, cols, T(eps)));
  Tensor sy = y.detach();
  return record(y, op, {x}, [sy, norm, rows, cols, eps](const Tensor& g) {
    Tensor dx = Tensor::empty({rows, cols}, g.dtype(), g.device());
    FF_DISPATCH_FLOAT("l2_normalize_backward", g,
                      BK::l2_normalize_backward(g.data<T>(), sy.data<T>(), norm.data<T>(), dx.data<T>(),
                                                rows, cols, T(eps)));
    return std::vector<Tensor>{dx};
  });
}

// Traced for export (engine/trace.h): the op above, recorded when a Tracer is active.
Tensor l2_normalize(const Tensor& x, double eps) {
  TraceScope trace;
  Tensor y = l2_normalize_untraced(x, eps);
  if (trace.outer()) trace.record(TraceRecord{"l2_normalize", {x}, y, {}, {{"eps", eps}}});
  return y;
}

}  // namespace ff
