// engine/ops_conv.cpp — conv2d, max_pool2d, adaptive_avg_pool2d_1x1 and their gradients.
// Kernels: kernels/conv.h (im2col + OpenBLAS / cuDNN), kernels/pool.h (own kernels on both).
#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/trace.h"
#include "kernels/conv.h"
#include "kernels/elementwise.h"
#include "kernels/pool.h"

namespace ff {

// ---------------------------------------------------------------- conv2d

namespace {
// x [N, Cin, H, W], w [Cout, Cin, k, k], b [Cout] or undefined.
ConvShape conv_shape(const Tensor& x, const Tensor& w, const Tensor& b, int stride, int pad) {
  const char* op = "conv2d";
  check_float(op, x, "input x");
  check_float(op, w, "weight w");
  check_dim(op, x, 4, "input x [N, Cin, H, W]");
  check_dim(op, w, 4, "weight w [Cout, Cin, k, k]");
  check_same_device(op, x, w);
  check_same_dtype(op, x, w);
  FF_CHECK(x.numel() > 0 && w.numel() > 0, "conv2d: empty input or weight: x ", x.str(), ", w ", w.str());
  FF_CHECK(w.size(2) == w.size(3), "conv2d: only square kernels are supported, weight w is ", w.str());
  FF_CHECK(w.size(1) == x.size(1), "conv2d: weight w ", w.str(), " expects ", w.size(1),
           " input channels but x ", x.str(), " has ", x.size(1));
  if (b.defined()) {
    check_float(op, b, "bias b");
    check_same_device(op, x, b);
    check_same_dtype(op, x, b);
    FF_CHECK(b.dim() == 1 && b.size(0) == w.size(0), "conv2d: bias b ", b.str(), " must be [",
             w.size(0), "] to match weight w ", w.str());
  }
  FF_CHECK(stride >= 1, "conv2d: stride must be >= 1, got ", stride, " (x ", x.str(), ", w ", w.str(), ")");
  FF_CHECK(pad >= 0, "conv2d: pad must be >= 0, got ", pad, " (x ", x.str(), ", w ", w.str(), ")");
  ConvShape s;
  s.n = x.size(0);
  s.cin = x.size(1);
  s.h = x.size(2);
  s.w = x.size(3);
  s.cout = w.size(0);
  s.k = w.size(2);
  s.stride = stride;
  s.pad = pad;
  FF_CHECK(s.h + 2 * s.pad >= s.k && s.w + 2 * s.pad >= s.k, "conv2d: kernel ", s.k, " with pad ", pad,
           " does not fit input x ", x.str(), " (weight w ", w.str(), "): output size would be < 1");
  s.ho = (s.h + 2 * s.pad - s.k) / s.stride + 1;
  s.wo = (s.w + 2 * s.pad - s.k) / s.stride + 1;
  return s;
}
}  // namespace

static Tensor conv2d_untraced(const Tensor& x, const Tensor& w, const Tensor& b, int stride, int pad) {
  const ConvShape s = conv_shape(x, w, b, stride, pad);
  Tensor y = Tensor::empty({s.n, s.cout, s.ho, s.wo}, x.dtype(), x.device());
  FF_DISPATCH_FLOAT("conv2d", x,
                    BK::conv2d_forward(s, x.data<T>(), w.data<T>(), b.defined() ? b.data<T>() : nullptr,
                                       y.data<T>()));
  const bool gx = x.requires_grad(), gw = w.requires_grad(), gb = b.defined() && b.requires_grad();
  // The input is needed only for the weight gradient, the weight only for the input gradient.
  Tensor sx = gw ? x.detach() : Tensor(), sw = gx ? w.detach() : Tensor();
  return record(y, "conv2d", {x, w, b}, [s, sx, sw, gx, gw, gb](const Tensor& g) {
    Tensor dx = gx ? Tensor::empty({s.n, s.cin, s.h, s.w}, g.dtype(), g.device()) : Tensor();
    Tensor dw = gw ? Tensor::empty({s.cout, s.cin, s.k, s.k}, g.dtype(), g.device()) : Tensor();
    Tensor db = gb ? Tensor::empty({s.cout}, g.dtype(), g.device()) : Tensor();
    FF_DISPATCH_FLOAT("conv2d_backward", g,
                      BK::conv2d_backward(s, sx.defined() ? sx.data<T>() : nullptr,
                                          sw.defined() ? sw.data<T>() : nullptr, g.data<T>(),
                                          dx.defined() ? dx.data<T>() : nullptr,
                                          dw.defined() ? dw.data<T>() : nullptr,
                                          db.defined() ? db.data<T>() : nullptr));
    return std::vector<Tensor>{dx, dw, db};
  });
}

// Traced for export (engine/trace.h): the op above, recorded when a Tracer is active.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, int stride, int pad) {
  TraceScope trace;
  Tensor y = conv2d_untraced(x, w, b, stride, pad);
  if (trace.outer()) trace.record(TraceRecord{"conv2d", {x, w, b}, y, {{"stride", {stride}}, {"pad", {pad}}}, {}});
  return y;
}

// ---------------------------------------------------------------- conv2d_bn_eval

static Tensor conv2d_bn_eval_untraced(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& gamma,
                                      const Tensor& beta, const Tensor& running_mean, const Tensor& running_var,
                                      double eps, int stride, int pad, bool relu) {
  const char* op = "conv2d_bn_eval";
  const ConvShape s = conv_shape(x, w, b, stride, pad);
  FF_CHECK(!grad_enabled() || !any_requires_grad({x, w, b, gamma, beta}), op,
           ": inference only (records no gradient): call it under NoGradGuard");
  FF_CHECK(x.device().is_cpu(), op, ": CPU only, x is on ", x.device().str());
  for (const Tensor* t : {&gamma, &beta, &running_mean, &running_var}) {
    check_float(op, *t, "batch-norm parameter");
    check_same_dtype(op, x, *t);
    check_same_device(op, x, *t);
    FF_CHECK(t->dim() == 1 && t->size(0) == s.cout, op, ": batch-norm parameter ", t->str(), " must be [", s.cout,
             "] for weight w ", w.str());
  }
  FF_CHECK(eps >= 0, op, ": eps must be >= 0, got ", eps);
  Tensor wf = Tensor::empty(w.shape(), w.dtype()), bf = Tensor::empty({s.cout}, w.dtype());
  Tensor y = Tensor::empty({s.n, s.cout, s.ho, s.wo}, x.dtype());
  const Tensor &wc = w, &gc = gamma, &bc = beta, &mc = running_mean, &vc = running_var, &cb = b;
  FF_DISPATCH_FLOAT(op, x, {
    const int64_t per = s.cin * s.k * s.k;
    const T* pw = wc.data<T>();
    T* pwf = wf.data<T>();
    T* pbf = bf.data<T>();
    for (int64_t o = 0; o < s.cout; ++o) {
      const double scale = static_cast<double>(gc.data<T>()[o]) /
                           std::sqrt(static_cast<double>(vc.data<T>()[o]) + eps);
      const double conv_b = cb.defined() ? static_cast<double>(cb.data<T>()[o]) : 0.0;
      for (int64_t i = 0; i < per; ++i) pwf[o * per + i] = static_cast<T>(static_cast<double>(pw[o * per + i]) * scale);
      pbf[o] = static_cast<T>(static_cast<double>(bc.data<T>()[o]) +
                              (conv_b - static_cast<double>(mc.data<T>()[o])) * scale);
    }
    cpu::conv2d_forward(s, x.data<T>(), wf.data<T>(), bf.data<T>(), y.data<T>());
    if (relu) cpu::relu_forward(y.data<T>(), y.data<T>(), y.numel());
  });
  return y;
}

// Traced for export (engine/trace.h): the op above, recorded when a Tracer is active.
Tensor conv2d_bn_eval(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& gamma, const Tensor& beta,
                      const Tensor& running_mean, const Tensor& running_var, double eps, int stride, int pad,
                      bool relu) {
  TraceScope trace;
  Tensor y = conv2d_bn_eval_untraced(x, w, b, gamma, beta, running_mean, running_var, eps, stride, pad, relu);
  if (trace.outer())
    trace.record(TraceRecord{"conv2d_bn_eval",
                             {x, w, b, gamma, beta, running_mean, running_var},
                             y,
                             {{"stride", {stride}}, {"pad", {pad}}, {"relu", {relu ? 1 : 0}}},
                             {{"eps", eps}}});
  return y;
}

// ---------------------------------------------------------------- max_pool2d

static Tensor max_pool2d_untraced(const Tensor& x, int kernel, int stride, int pad, bool ceil_mode) {
  const char* op = "max_pool2d";
  check_float(op, x, "input x");
  check_dim(op, x, 4, "input x [N, C, H, W]");
  FF_CHECK(x.numel() > 0, "max_pool2d: empty input x ", x.str());
  FF_CHECK(kernel >= 1 && stride >= 1, "max_pool2d: kernel and stride must be >= 1, got kernel ", kernel,
           ", stride ", stride, " for x ", x.str());
  FF_CHECK(pad >= 0 && pad <= kernel / 2, "max_pool2d: pad must be in [0, kernel/2] = [0, ", kernel / 2,
           "], got ", pad, " for x ", x.str());
  PoolShape s;
  s.n = x.size(0);
  s.c = x.size(1);
  s.h = x.size(2);
  s.w = x.size(3);
  s.k = kernel;
  s.stride = stride;
  s.pad = pad;
  FF_CHECK(s.h + 2 * s.pad >= s.k && s.w + 2 * s.pad >= s.k, "max_pool2d: kernel ", kernel, " with pad ", pad,
           " does not fit input x ", x.str(), ": output size would be < 1");
  FF_CHECK(s.h * s.w < (int64_t{1} << 31), "max_pool2d: plane of x ", x.str(), " too large for int32 indices");
  // PyTorch's pooling_output_shape: with ceil_mode, round up, but the last window must start inside
  // the input or the left padding. The kernels clip every window to the input, so a window that
  // ceil mode adds (it starts at most at h - 1) holds at least one real element.
  auto out_size = [&](int64_t in) {
    const int64_t span = in + 2 * s.pad - s.k;
    int64_t o = (ceil_mode ? (span + s.stride - 1) / s.stride : span / s.stride) + 1;
    if (ceil_mode && (o - 1) * s.stride >= in + s.pad) --o;
    return o;
  };
  s.ho = out_size(s.h);
  s.wo = out_size(s.w);
  Tensor y = Tensor::empty({s.n, s.c, s.ho, s.wo}, x.dtype(), x.device());
  // The argmax positions are kept only when a backward will need them.
  const bool need_idx = any_requires_grad({x});
  Tensor idx = need_idx ? Tensor::empty(y.shape(), DType::I32, x.device()) : Tensor();
  FF_DISPATCH_FLOAT(op, x,
                    BK::max_pool2d_forward(s, x.data<T>(), y.data<T>(), need_idx ? idx.data<int32_t>() : nullptr));
  return record(y, op, {x}, [s, idx](const Tensor& g) {
    Tensor gx = Tensor::empty({s.n, s.c, s.h, s.w}, g.dtype(), g.device());
    FF_DISPATCH_FLOAT("max_pool2d_backward", g,
                      BK::max_pool2d_backward(s, g.data<T>(), idx.data<int32_t>(), gx.data<T>()));
    return std::vector<Tensor>{gx};
  });
}

// Traced for export (engine/trace.h): the op above, recorded when a Tracer is active.
Tensor max_pool2d(const Tensor& x, int kernel, int stride, int pad, bool ceil_mode) {
  TraceScope trace;
  Tensor y = max_pool2d_untraced(x, kernel, stride, pad, ceil_mode);
  if (trace.outer())
    trace.record(
        TraceRecord{"max_pool2d",
                    {x},
                    y,
                    {{"kernel", {kernel}}, {"stride", {stride}}, {"pad", {pad}}, {"ceil_mode", {ceil_mode ? 1 : 0}}},
                    {}});
  return y;
}

// ---------------------------------------------------------------- adaptive_avg_pool2d_1x1

static Tensor adaptive_avg_pool2d_1x1_untraced(const Tensor& x) {
  const char* op = "adaptive_avg_pool2d_1x1";
  check_float(op, x, "input x");
  check_dim(op, x, 4, "input x [N, C, H, W]");
  FF_CHECK(x.numel() > 0, op, ": empty input x ", x.str());
  const int64_t n = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3);
  Tensor y = Tensor::empty({n, c, 1, 1}, x.dtype(), x.device());
  FF_DISPATCH_FLOAT(op, x, BK::global_avg_pool_forward(n * c, hw, x.data<T>(), y.data<T>()));
  Shape xs = x.shape();
  return record(y, op, {x}, [xs, n, c, hw](const Tensor& g) {
    Tensor gx = Tensor::empty(xs, g.dtype(), g.device());
    FF_DISPATCH_FLOAT("adaptive_avg_pool2d_1x1_backward", g,
                      BK::global_avg_pool_backward(n * c, hw, g.data<T>(), gx.data<T>()));
    return std::vector<Tensor>{gx};
  });
}

// Traced for export (engine/trace.h): the op above, recorded when a Tracer is active.
Tensor adaptive_avg_pool2d_1x1(const Tensor& x) {
  TraceScope trace;
  Tensor y = adaptive_avg_pool2d_1x1_untraced(x);
  if (trace.outer()) trace.record(TraceRecord{"adaptive_avg_pool2d_1x1", {x}, y, {}, {}});
  return y;
}

}  // namespace ff
