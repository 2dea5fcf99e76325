// engine/ops_arcface.cpp — label-indexed ops and the ArcFace loss (fused, and the unfused
// reference composed of element-wise ops).
#include <cmath>
#include <limits>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/checks.h"
#include "kernels/arcface.h"
#include "kernels/elementwise.h"

namespace ff {

namespace {
// logits-like x [N, K] and int64 labels [N] in [0, K) on x's device. CPU labels are checked on the
// host; CUDA labels only when set_check_device_labels asks for it (engine/checks.h: the check would
// be a host synchronisation in every training step, so the caller guarantees the range).
void check_rows_labels(const char* op, const Tensor& x, const Tensor& labels) {
  check_float(op, x, "x");
  FF_CHECK(x.dim() == 2, op, ": x must be [N, K], got ", x.str());
  check_defined(op, labels, "labels");
  FF_CHECK(labels.dtype() == DType::I64 && labels.dim() == 1 && labels.size(0) == x.size(0), op,
           ": labels must be int64 [", x.size(0), "], got ", labels.str());
  check_same_device(op, x, labels);
  check_labels(op, labels, x.size(1), x);
}

}  // namespace

Tensor gather_label(const Tensor& x, const Tensor& labels) {
  check_rows_labels("gather_label", x, labels);
  int64_t n = x.size(0), k = x.size(1);
  Tensor y = Tensor::empty({n}, x.dtype(), x.device());
  FF_DISPATCH_FLOAT("gather_label", x, BK::gather_label(x.data<T>(), labels.data<int64_t>(), y.data<T>(), n, k));
  Tensor l = labels.detach();
  Shape shape = x.shape();
  return record(y, "gather_label", {x}, [l, shape](const Tensor& g) {
    Tensor gx = Tensor::zeros(shape, g.dtype(), g.device());
    FF_DISPATCH_FLOAT("gather_label_backward", g,
                      BK::scatter_label_add(gx.data<T>(), l.data<int64_t>(), g.data<T>(), shape[0], shape[1]));
    return std::vector<Tensor>{gx};
  });
}

Tensor scatter_label_add(const Tensor& x, const Tensor& labels, const Tensor& v) {
  check_rows_labels("scatter_label_add", x, labels);
  check_float("scatter_label_add", v, "v");
  FF_CHECK(v.dim() == 1 && v.size(0) == x.size(0) && v.dtype() == x.dtype(), "scatter_label_add: v must be [",
           x.size(0), "] of x's dtype, got ", v.str());
  check_same_device("scatter_label_add", x, v);
  int64_t n = x.size(0), k = x.size(1);
  Tensor y = x.detach().clone();
  FF_DISPATCH_FLOAT("scatter_label_add", x, BK::scatter_label_add(y.data<T>(), labels.data<int64_t>(), v.data<T>(), n, k));
  Tensor l = labels.detach();
  return record(y, "scatter_label_add", {x, v}, [l, n, k](const Tensor& g) {
    Tensor gv = Tensor::empty({n}, g.dtype(), g.device());
    FF_DISPATCH_FLOAT("scatter_label_add_backward", g, BK::gather_label(g.data<T>(), l.data<int64_t>(), gv.data<T>(), n, k));
    return std::vector<Tensor>{g, gv};
  });
}

namespace {
void check_arcface(const char* op, const Tensor& cos, const Tensor& labels, double s, double m) {
  check_rows_labels(op, cos, labels);
  FF_CHECK(s > 0 && std::isfinite(s), op, ": scale s must be positive, got ", s);
  FF_CHECK(m >= 0 && m < 3.14159265358979323846 / 2, op, ": margin m must be in [0, pi/2), got ", m);
  FF_CHECK(cos.size(0) > 0, op, ": empty batch ", cos.str());
}
}  // namespace

Tensor arcface_loss(const Tensor& cos, const Tensor& labels, double s, double m) {
  check_arcface("arcface_loss", cos, labels, s, m);
  int64_t n = cos.size(0), c = cos.size(1);
  Tensor row_loss = Tensor::empty({n}, cos.dtype(), cos.device());
  Tensor dcos = Tensor::empty(cos.shape(), cos.dtype(), cos.device());
  FF_DISPATCH_FLOAT("arcface_loss", cos,
                    BK::arcface_forward(cos.data<T>(), labels.data<int64_t>(), row_loss.data<T>(), dcos.data<T>(), n,
                                        c, T(s), T(m)));
  Tensor loss;
  {
    NoGradGuard no_grad;
    loss = mean(row_loss);
  }
  return record(loss, "arcface_loss", {cos}, [dcos](const Tensor& g) {
    // d loss / d cos was computed in the forward pass; scale it by the incoming gradient (a
    // device scalar, read by the kernel, not by the host) in place: a node's backward runs once,
    // so the buffer is handed back instead of a copy.
    Tensor gx = dcos;
    FF_DISPATCH_FLOAT("arcface_loss_backward", g, BK::mul_by_scalar(gx.data<T>(), g.data<T>(), gx.data<T>(), gx.numel()));
    return std::vector<Tensor>{gx};
  });
}

Tensor arcface_loss_unfused(const Tensor& cos, const Tensor& labels, double s, double m) {
  check_arcface("arcface_loss_unfused", cos, labels, s, m);
  const double pi = 3.14159265358979323846;
  const double cos_m = std::cos(m), sin_m = std::sin(m), th = std::cos(pi - m), mm = std::sin(pi - m) * m;
  Tensor tc = gather_label(cos, labels);                        // target cosines [N]
  Tensor c = clamp(tc, -1.0, 1.0);
  Tensor sin = sqrt(clamp(add_scalar(scale(mul(c, c), -1.0), 1.0), 1e-12, std::numeric_limits<double>::infinity()));
  Tensor phi_margin = sub(scale(c, cos_m), scale(sin, sin_m));  // cos(theta + m)
  Tensor phi_linear = add_scalar(c, -mm);                       // fallback when theta + m > pi
  Tensor mask = greater_mask(c, th);
  Tensor phi = add(mul(mask, phi_margin), mul(add_scalar(scale(mask, -1.0), 1.0), phi_linear));
  Tensor logits = scale(scatter_label_add(cos, labels, sub(phi, tc)), s);
  return cross_entropy(logits, labels);
}

}  // namespace ff
