// engine/ops_norm.cpp — batch normalisation and dropout, the two ops that behave differently in
// training and in eval, with their gradients (declared in engine/ops.h; kernels in
// kernels/batchnorm* and kernels/dropout*).
#include <cmath>
#include <vector>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/trace.h"
#include "kernels/batchnorm.h"
#include "kernels/dropout.h"

namespace ff {

// ---------------------------------------------------------------- batch_norm2d

namespace {
// A per-channel tensor of batch_norm2d: float, [C], same device and dtype as x.
void check_channel_param(const Tensor& x, const Tensor& t, const char* what) {
  const char* op = "batch_norm2d";
  check_float(op, t, what);
  check_same_device(op, x, t);
  check_same_dtype(op, x, t);
  FF_CHECK(t.dim() == 1 && t.size(0) == x.size(1), op, ": ", what, " must be [", x.size(1),
           "] for x ", x.str(), ", got ", t.str());
}
}  // namespace

static Tensor batch_norm2d_untraced(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                                    Tensor& running_var, bool training, double momentum, double eps) {
  const char* op = "batch_norm2d";
  check_float(op, x, "x");
  check_dim(op, x, 4, "x");
  check_channel_param(x, gamma, "gamma");
  check_channel_param(x, beta, "beta");
  check_channel_param(x, running_mean, "running_mean");
  check_channel_param(x, running_var, "running_var");
  FF_CHECK(x.numel() > 0, op, ": x is empty: ", x.str());
  FF_CHECK(std::isfinite(eps) && eps >= 0, op, ": eps must be >= 0, got ", eps);
  FF_CHECK(std::isfinite(momentum), op, ": momentum must be finite, got ", momentum);
  // The running statistics are buffers, never differentiated (training updates them in place).
  FF_CHECK(!running_mean.requires_grad() && !running_var.requires_grad(), op,
           ": running_mean/running_var must not require a gradient (", running_mean.str(), ", ",
           running_var.str(), ")");
  const int64_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
  // PyTorch's rule: the unbiased variance of a single value per channel is undefined.
  FF_CHECK(!training || N * HW > 1, op, ": expected more than 1 value per channel when training, got x ",
           x.str());

  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  const bool gx_needed = x.requires_grad(), gg_needed = gamma.requires_grad(), gb_needed = beta.requires_grad();
  if (training) {
    Tensor save_mean = Tensor::empty({C}, x.dtype(), x.device());
    Tensor save_invstd = Tensor::empty({C}, x.dtype(), x.device());
    FF_DISPATCH_FLOAT(op, x,
                      BK::batch_norm_forward_train(x.data<T>(), gamma.data<T>(), beta.data<T>(), y.data<T>(),
                                                   running_mean.data<T>(), running_var.data<T>(),
                                                   save_mean.data<T>(), save_invstd.data<T>(), N, C, HW,
                                                   momentum, eps));
    if (!any_requires_grad({x, gamma, beta})) return y;
    Tensor sx = x.detach(), sg = gamma.detach();
    return record(y, op, {x, gamma, beta},
                  [sx, sg, save_mean, save_invstd, N, C, HW, eps, gx_needed, gg_needed, gb_needed](const Tensor& g) {
                    Tensor gx = Tensor::empty(sx.shape(), g.dtype(), g.device());
                    Tensor gg = Tensor::empty({C}, g.dtype(), g.device());
                    Tensor gb = Tensor::empty({C}, g.dtype(), g.device());
                    FF_DISPATCH_FLOAT("batch_norm2d_backward", g,
                                      BK::batch_norm_backward_train(g.data<T>(), sx.data<T>(), sg.data<T>(),
                                                                    save_mean.data<T>(), save_invstd.data<T>(),
                                                                    gx.data<T>(), gg.data<T>(), gb.data<T>(), N,
                                                                    C, HW, eps));
                    return std::vector<Tensor>{gx_needed ? gx : Tensor(), gg_needed ? gg : Tensor(),
                                               gb_needed ? gb : Tensor()};
                  });
  }

  FF_DISPATCH_FLOAT(op, x,
                    BK::batch_norm_forward_eval(x.data<T>(), gamma.data<T>(), beta.data<T>(),
                                                running_mean.data<T>(), running_var.data<T>(), y.data<T>(), N, C,
                                                HW, eps));
  if (!any_requires_grad({x, gamma, beta})) return y;
  // Copies of the running statistics: a later training step updates the buffers in place.
  Tensor sx = x.detach(), sg = gamma.detach(), rm = running_mean.clone(), rv = running_var.clone();
  return record(y, op, {x, gamma, beta},
                [sx, sg, rm, rv, N, C, HW, eps, gx_needed, gg_needed, gb_needed](const Tensor& g) {
                  Tensor gx = Tensor::empty(sx.shape(), g.dtype(), g.device());
                  Tensor gg = Tensor::empty({C}, g.dtype(), g.device());
                  Tensor gb = Tensor::empty({C}, g.dtype(), g.device());
                  FF_DISPATCH_FLOAT("batch_norm2d_backward", g,
                                    BK::batch_norm_backward_eval(g.data<T>(), sx.data<T>(), sg.data<T>(),
                                                                 rm.data<T>(), rv.data<T>(), gx.data<T>(),
                                                                 gg.data<T>(), gb.data<T>(), N, C, HW, eps));
                  return std::vector<Tensor>{gx_needed ? gx : Tensor(), gg_needed ? gg : Tensor(),
                                             gb_needed ? gb : Tensor()};
                });
}

// Traced for export (engine/trace.h): the op above, recorded when a Tracer is active.
Tensor batch_norm2d(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean, Tensor& running_var,
                    bool training, double momentum, double eps) {
  TraceScope trace;
  Tensor y = batch_norm2d_untraced(x, gamma, beta, running_mean, running_var, training, momentum, eps);
  if (trace.outer())
    trace.record(TraceRecord{"batch_norm2d",
                             {x, gamma, beta, running_mean, running_var},
                             y,
                             {{"training", {training ? 1 : 0}}},
                             {{"eps", eps}}});
  return y;
}

// ---------------------------------------------------------------- dropout

Tensor dropout(const Tensor& x, double p, bool training, Rng& rng) {
  const char* op = "dropout";
  check_float(op, x, "x");
  FF_CHECK(p >= 0.0 && p < 1.0, op, ": p must be in [0, 1), got ", p, " for x ", x.str());
  if (!training || p == 0.0) return x;
  const int64_t n = x.numel();
  const uint64_t seed = rng.seed(), first = rng.reserve(static_cast<uint64_t>(n));
  const float pf = static_cast<float>(p);
  const double scale = 1.0 / (1.0 - p);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  FF_DISPATCH_FLOAT(op, x, BK::dropout_apply(x.data<T>(), y.data<T>(), n, pf, T(scale), seed, first));
  // Backward re-draws the same mask from (seed, first): nothing saved but two integers.
  return record(y, op, {x}, [n, pf, scale, seed, first](const Tensor& g) {
    Tensor gx = Tensor::empty(g.shape(), g.dtype(), g.device());
    FF_DISPATCH_FLOAT("dropout_backward", g,
                      BK::dropout_apply(g.data<T>(), gx.data<T>(), n, pf, T(scale), seed, first));
    return std::vector<Tensor>{gx};
  });
}

}  // namespace ff
