// engine/ops_loss.cpp — the losses mse_loss and cross_entropy, with their gradients. Each op checks
// its arguments once, dispatches to kernels/loss.h, and records an autograd node capturing
// detached saved tensors. (The fused ArcFace loss is in engine/ops_arcface.cpp.)
#include <atomic>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "kernels/loss.h"

namespace ff {

// ---------------------------------------------------------------- label checks (engine/checks.h)
namespace {
bool env_checks_device_labels() {
  const char* v = std::getenv("FF_CHECK_DEVICE_LABELS");
  return v != nullptr && std::string(v) == "1";
}
std::atomic<bool> g_check_device_labels{env_checks_device_labels()};
}  // namespace
void set_check_device_labels(bool on) { g_check_device_labels = on; }
bool check_device_labels() { return g_check_device_labels.load(); }

void check_labels(const char* op, const Tensor& labels, int64_t k, const Tensor& x) {
  const int64_t n = labels.numel();
  if (n == 0 || (labels.device().is_cuda() && !check_device_labels())) return;
  // One kernel counts the bad labels: bad = {count, first bad index, its label}.
  Tensor bad = Tensor::empty({3}, DType::I64, labels.device());
  if (labels.device().is_cuda())
    FF_CUDA_CALL(op, cuda::count_bad_labels(labels.data<int64_t>(), n, k, bad.data<int64_t>()));
  else
    cpu::count_bad_labels(labels.data<int64_t>(), n, k, bad.data<int64_t>());
  const int64_t* v = bad.data<int64_t>();
  std::vector<int64_t> host;
  if (labels.device().is_cuda()) {  // the read back (a host synchronisation) asked for
    host = bad.to_vector<int64_t>();
    v = host.data();
  }
  FF_CHECK(v[0] == 0, op, ": label ", v[2], " at index ", v[1], " is outside [0, ", k, ") for ", x.str(), " (",
           v[0], " bad label", v[0] == 1 ? "" : "s", ")");
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
  check_labels(op, labels, k, logits);  // on CUDA only when asked for: see engine/checks.h
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

}  // namespace ff
