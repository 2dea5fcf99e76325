// engine/ops_detect.cpp — the detector's training ops: sigmoid, the CenterNet focal loss on logits
// and the masked L1 loss, with their gradients. Each op checks its arguments once, dispatches to
// kernels/detect_loss.h, and records an autograd node capturing detached saved tensors. The losses
// keep their denominator (max(1, positives), max(1, C * sum of mask)) in a one-element tensor on
// the device for the backward, so neither reads anything back to the host.
#include <vector>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/trace.h"
#include "kernels/detect_loss.h"

namespace ff {

namespace {
// Checks that `data` (a target or a mask) is float, on x's device, of x's dtype, and does not
// require a gradient (the losses differentiate only their prediction).
void check_data(const char* op, const Tensor& x, const Tensor& data, const char* what) {
  check_float(op, data, what);
  check_same_device(op, x, data);
  check_same_dtype(op, x, data);
  FF_CHECK(!data.requires_grad(), op, ": ", what, " ", data.str(),
           " requires a gradient; it is data (only the prediction is differentiated): detach it");
}
}  // namespace

// ---------------------------------------------------------------- sigmoid
static Tensor sigmoid_untraced(const Tensor& x) {
  const char* op = "sigmoid";
  check_float(op, x, "x");
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  const int64_t n = x.numel();
  FF_DISPATCH_FLOAT(op, x, BK::sigmoid_forward(x.data<T>(), y.data<T>(), n));
  Tensor saved = y.detach();
  return record(y, op, {x}, [saved](const Tensor& g) {
    Tensor gx = Tensor::empty(g.shape(), g.dtype(), g.device());
    FF_DISPATCH_FLOAT("sigmoid_backward", g,
                      BK::sigmoid_backward(g.data<T>(), saved.data<T>(), gx.data<T>(), g.numel()));
    return std::vector<Tensor>{gx};
  });
}

// Traced for export (engine/trace.h): the op above, recorded when a Tracer is active.
Tensor sigmoid(const Tensor& x) {
  TraceScope trace;
  Tensor y = sigmoid_untraced(x);
  if (trace.outer()) trace.record(TraceRecord{"sigmoid", {x}, y, {}, {}});
  return y;
}

// ---------------------------------------------------------------- focal_loss
Tensor focal_loss(const Tensor& logits, const Tensor& target, double alpha, double beta) {
  const char* op = "focal_loss";
  check_float(op, logits, "logits");
  check_data(op, logits, target, "target");
  check_same_shape(op, logits, target);
  FF_CHECK(logits.numel() > 0, op, ": empty logits ", logits.str());
  FF_CHECK(alpha >= 0 && beta >= 0, op, ": alpha ", alpha, " and beta ", beta, " must be >= 0");
  const int64_t n = logits.numel();
  Tensor denom = Tensor::empty({1}, logits.dtype(), logits.device());
  Tensor y = Tensor::empty({}, logits.dtype(), logits.device());
  FF_DISPATCH_FLOAT(op, logits,
                    BK::focal_loss_forward(logits.data<T>(), target.data<T>(), denom.data<T>(), y.data<T>(), n,
                                           T(alpha), T(beta)));
  Tensor sx = logits.detach(), st = target.detach();
  return record(y, op, {logits, target}, [sx, st, denom, n, alpha, beta](const Tensor& g) {
    Tensor gx = Tensor::empty(sx.shape(), g.dtype(), g.device());
    FF_DISPATCH_FLOAT("focal_loss_backward", g,
                      BK::focal_loss_backward(sx.data<T>(), st.data<T>(), denom.data<T>(), g.data<T>(),
                                              gx.data<T>(), n, T(alpha), T(beta)));
    return std::vector<Tensor>{gx, Tensor()};
  });
}

// ---------------------------------------------------------------- masked_l1_loss
Tensor masked_l1_loss(const Tensor& pred, const Tensor& target, const Tensor& mask) {
  const char* op = "masked_l1_loss";
  check_float(op, pred, "pred");
  check_dim(op, pred, 4, "pred [N, C, H, W]");
  check_data(op, pred, target, "target");
  check_same_shape(op, pred, target);
  check_data(op, pred, mask, "mask");
  check_dim(op, mask, 4, "mask [N, 1, H, W]");
  FF_CHECK(mask.size(0) == pred.size(0) && mask.size(1) == 1 && mask.size(2) == pred.size(2) &&
               mask.size(3) == pred.size(3),
           op, ": mask ", mask.str(), " must be [N, 1, H, W] for pred ", pred.str());
  FF_CHECK(pred.numel() > 0, op, ": empty pred ", pred.str());
  const int64_t n = pred.size(0), c = pred.size(1), hw = pred.size(2) * pred.size(3);
  Tensor denom = Tensor::empty({1}, pred.dtype(), pred.device());
  Tensor y = Tensor::empty({}, pred.dtype(), pred.device());
  FF_DISPATCH_FLOAT(op, pred,
                    BK::masked_l1_forward(pred.data<T>(), target.data<T>(), mask.data<T>(), denom.data<T>(),
                                          y.data<T>(), n, c, hw));
  Tensor sp = pred.detach(), st = target.detach(), sm = mask.detach();
  return record(y, op, {pred, target, mask}, [sp, st, sm, denom, n, c, hw](const Tensor& g) {
    Tensor gp = Tensor::empty(sp.shape(), g.dtype(), g.device());
    FF_DISPATCH_FLOAT("masked_l1_loss_backward", g,
                      BK::masked_l1_backward(sp.data<T>(), st.data<T>(), sm.data<T>(), denom.data<T>(), g.data<T>(),
                                             gp.data<T>(), n, c, hw));
    return std::vector<Tensor>{gp, Tensor(), Tensor()};
  });
}

}  // namespace ff
