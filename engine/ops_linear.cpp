// engine/ops_linear.cpp — linear (x wᵀ + b), mse_loss, cross_entropy and l2_normalize, with their
// gradients. Each op checks its arguments once, dispatches to kernels/linear.h or kernels/loss.h,
// and records an autograd node capturing detached saved tensors.
#include <vector>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "kernels/linear.h"
#include "kernels/loss.h"

namespace ff {

// ---------------------------------------------------------------- linear
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
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

// ---------------------------------------------------------------- mse_loss
Tensor mse_loss(const Tensor& x, const Tensor& target) {
  const char* op = "mse_loss";
  check_float(op, x, "x");
  check_float(op, target, "target");
  check_same_device(op, x, target);
  check_same_dtype(op, x, target);
  check_same_shape(op, x, target);
  FF_CHECK(x.numel() > 0, op, ": empty input ", x.str());
  const int64_t n = x.numel();
  Tensor y = Tensor::empty({}, x.dtype(), x.device());
  FF_DISPATCH_FLOAT(op, x, BK::mse_forward(x.data<T>(), target.data<T>(), y.data<T>(), n));
  bool gx = x.requires_grad(), gt = target.requires_grad();
  Tensor sx = x.detach(), st = target.detach();
  return record(y, op, {x, target}, [sx, st, gx, gt, n](const Tensor& g) {
    Tensor dx, dt;
    if (gx) dx = Tensor::empty(sx.shape(), g.dtype(), g.device());
    if (gt) dt = Tensor::empty(st.shape(), g.dtype(), g.device());
    FF_DISPATCH_FLOAT("mse_loss_backward", g,
                      BK::mse_backward(sx.data<T>(), st.data<T>(), g.data<T>(), gx ? dx.data<T>() : nullptr,
                                       gt ? dt.data<T>() : nullptr, n));
    return std::vector<Tensor>{dx, dt};
  });
}

// ---------------------------------------------------------------- cross_entropy
Tensor cross_entropy(const Tensor& logits, const Tensor& labels) {
  const char* op = "cross_entropy";
  check_float(op, logits, "logits");
  check_dim(op, logits, 2, "logits [N, K]");
  check_defined(op, labels, "labels");
  FF_CHECK(labels.dtype() == DType::I64, op, ": labels must be int64, got ", labels.str());
  check_dim(op, labels, 1, "labels [N]");
  check_same_device(op, logits, labels);
  FF_CHECK(labels.size(0) == logits.size(0), op, ": ", labels.size(0), " labels ", labels.str(), " for ",
           logits.size(0), " rows of logits ", logits.str());
  const int64_t n = logits.size(0), k = logits.size(1);
  FF_CHECK(n > 0 && k > 0, op, ": empty logits ", logits.str());
  // Label range check. On CUDA this is the op's one host synchronisation: a one-block kernel
  // counts the bad labels and the 24-byte result is read back, because an out-of-range label
  // must raise here rather than index out of bounds inside the kernels.
  {
    Tensor bad = Tensor::empty({3}, DType::I64, labels.device());
    if (labels.device().is_cuda())
      FF_CUDA_CALL(op, cuda::count_bad_labels(labels.data<int64_t>(), n, k, bad.data<int64_t>()));
    else
      cpu::count_bad_labels(labels.data<int64_t>(), n, k, bad.data<int64_t>());
    std::vector<int64_t> v = bad.to_vector<int64_t>();
    FF_CHECK(v[0] == 0, op, ": label ", v[2], " at index ", v[1], " is outside [0, ", k, ") for logits ",
             logits.str(), " (", v[0], " bad label", v[0] == 1 ? "" : "s", ")");
  }
  Tensor stats = Tensor::empty({n, 2}, logits.dtype(), logits.device());  // row max, log-sum-exp rest
  Tensor y = Tensor::empty({}, logits.dtype(), logits.device());
  FF_DISPATCH_FLOAT(op, logits,
                    BK::cross_entropy_forward(logits.data<T>(), labels.data<int64_t>(), stats.data<T>(),
                                              y.data<T>(), n, k));
  Tensor sl = logits.detach(), slab = labels.detach();
  return record(y, op, {logits, labels}, [sl, slab, stats, n, k](const Tensor& g) {
    Tensor dl = Tensor::empty({n, k}, g.dtype(), g.device());
    FF_DISPATCH_FLOAT("cross_entropy_backward", g,
                      BK::cross_entropy_backward(sl.data<T>(), slab.data<int64_t>(), stats.data<T>(),
                                                 g.data<T>(), dl.data<T>(), n, k));
    return std::vector<Tensor>{dl, Tensor()};
  });
}

// ---------------------------------------------------------------- l2_normalize
Tensor l2_normalize(const Tensor& x, double eps) {
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

}  // namespace ff
