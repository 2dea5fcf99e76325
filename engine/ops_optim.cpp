// engine/ops_optim.cpp — the optimizer updates sgd_step_ and adam_step_ (declared in engine/ops.h):
// argument checks, the host-side coefficients, then one kernel from kernels/optim_update.h.
// train/optim.cpp keeps the bookkeeping (groups, step counts, state save/restore).
#include <cmath>

#include "engine/dispatch.h"
#include "engine/ops.h"
#include "kernels/optim_update.h"

namespace ff {

namespace {
// grad and each defined buffer must match p exactly: the kernels index them alike.
void check_like_param(const char* op, const Tensor& p, const Tensor& t, const char* what) {
  check_float(op, t, what);
  check_same_device(op, p, t);
  check_same_dtype(op, p, t);
  check_same_shape(op, p, t);
}
}  // namespace

void sgd_step_(Tensor& p, const Tensor& grad, Tensor& momentum_buf, double lr, double momentum,
               double dampening, double weight_decay, bool nesterov) {
  const char* op = "sgd_step_";
  check_float(op, p, "parameter");
  check_like_param(op, p, grad, "gradient");
  const bool use_buf = momentum != 0.0;
  Tensor buf = momentum_buf;
  if (use_buf && buf.defined()) check_like_param(op, p, buf, "momentum buffer");
  const bool first = use_buf && !buf.defined();
  // A new buffer's contents are set by its first step (buf = d), so it needs no zero fill.
  if (first) buf = Tensor::empty(p.shape(), p.dtype(), p.device());
  const int64_t n = p.numel();
  // Coefficients such as 1 - dampening are computed in double, then rounded to T, as torch does.
  FF_DISPATCH_FLOAT(op, p,
                    BK::sgd_step(p.data<T>(), grad.data<T>(), use_buf ? buf.data<T>() : nullptr, n, T(lr),
                                 T(momentum), T(1.0 - dampening), T(weight_decay), nesterov, first));
  // The buffer is handed back only once the update was issued, so a throwing dispatch leaves it.
  if (use_buf) momentum_buf = buf;
}

void adam_step_(Tensor& p, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, int64_t step, double lr,
                double beta1, double beta2, double eps, double weight_decay) {
  const char* op = "adam_step_";
  check_float(op, p, "parameter");
  check_like_param(op, p, grad, "gradient");
  FF_CHECK(step >= 1, op, ": step must count this update (>= 1), got ", step, " for parameter ", p.str());
  Tensor m = exp_avg, v = exp_avg_sq;
  if (m.defined()) check_like_param(op, p, m, "exp_avg");
  if (v.defined()) check_like_param(op, p, v, "exp_avg_sq");
  if (!m.defined()) m = Tensor::zeros(p.shape(), p.dtype(), p.device());
  if (!v.defined()) v = Tensor::zeros(p.shape(), p.dtype(), p.device());
  // As torch computes them: in double, from the step count.
  const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  const double step_size = lr / bc1;
  const double bc2_sqrt = std::sqrt(bc2);
  const int64_t n = p.numel();
  FF_DISPATCH_FLOAT(op, p,
                    BK::adam_step(p.data<T>(), grad.data<T>(), m.data<T>(), v.data<T>(), n, T(beta1),
                                  T(1.0 - beta1), T(beta2), T(1.0 - beta2), T(eps), T(weight_decay),
                                  T(step_size), T(bc2_sqrt)));
  exp_avg = m;
  exp_avg_sq = v;
}

}  // namespace ff
