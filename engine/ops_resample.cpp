// engine/ops_resample.cpp — bilinear upsampling and its gradient (declared in engine/ops.h;
// kernels in kernels/upsample*). Pooling, which also changes the spatial size, sits with the
// convolution in engine/ops_conv.cpp.
#include <vector>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/trace.h"
#include "kernels/upsample.h"

namespace ff {

// ---------------------------------------------------------------- upsample_bilinear2d

static Tensor upsample_bilinear2d_untraced(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners) {
  const char* op = "upsample_bilinear2d";
  check_float(op, x, "x");
  check_dim(op, x, 4, "x");
  FF_CHECK(out_h >= 1 && out_w >= 1, op, ": output size must be positive, got ", out_h, "x", out_w, " for x ",
           x.str());
  FF_CHECK(x.size(2) >= 1 && x.size(3) >= 1, op, ": input height and width must be positive, got x ", x.str());
  const int64_t NC = x.size(0) * x.size(1), H = x.size(2), W = x.size(3);
  Tensor y = Tensor::empty({x.size(0), x.size(1), out_h, out_w}, x.dtype(), x.device());
  FF_DISPATCH_FLOAT(op, x,
                    BK::upsample_bilinear_forward(x.data<T>(), y.data<T>(), NC, H, W, out_h, out_w, align_corners));
  Shape xs = x.shape();
  return record(y, op, {x}, [xs, NC, H, W, out_h, out_w, align_corners](const Tensor& g) {
    Tensor gx = Tensor::empty(xs, g.dtype(), g.device());
    FF_DISPATCH_FLOAT("upsample_bilinear2d_backward", g,
                      BK::upsample_bilinear_backward(g.data<T>(), gx.data<T>(), NC, H, W, out_h, out_w,
                                                     align_corners));
    return std::vector<Tensor>{gx};
  });
}

// Traced for export (engine/trace.h): the op above, recorded when a Tracer is active.
Tensor upsample_bilinear2d(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners) {
  TraceScope trace;
  Tensor y = upsample_bilinear2d_untraced(x, out_h, out_w, align_corners);
  if (trace.outer())
    trace.record(TraceRecord{
        "upsample_bilinear2d", {x}, y, {{"size", {out_h, out_w}}, {"align_corners", {align_corners ? 1 : 0}}}, {}});
  return y;
}

}  // namespace ff
