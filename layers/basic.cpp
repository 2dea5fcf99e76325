// layers/basic.cpp — see basic.h.
#include "layers/basic.h"

#include "engine/autograd.h"

#include <cmath>

namespace ff {

Conv2d::Conv2d(int64_t in, int64_t out, int kernel, int stride, int pad, bool bias, Rng& rng)
    : stride(stride), pad(pad) {
  Tensor w = Tensor::empty({out, in, kernel, kernel});
  kaiming_uniform_(w, std::sqrt(5.0), rng);
  weight_ = &register_parameter("weight", w);
  if (bias) {
    Tensor b = Tensor::empty({out});
    double bound = 1.0 / std::sqrt(static_cast<double>(fan_in(w)));
    uniform_(b, -bound, bound, rng);
    bias_ = &register_parameter("bias", b);
  }
}
Tensor Conv2d::forward(const Tensor& x) {
  return conv2d(x, *weight_, bias_ ? *bias_ : Tensor(), stride, pad);
}

BatchNorm2d::BatchNorm2d(int64_t c, double momentum, double eps)
    : momentum(momentum),
      eps(eps),
      weight(register_parameter("weight", Tensor::ones({c}))),
      bias(register_parameter("bias", Tensor::zeros({c}))),
      running_mean(register_buffer("running_mean", Tensor::zeros({c}))),
      running_var(register_buffer("running_var", Tensor::ones({c}))),
      num_batches_tracked(register_buffer("num_batches_tracked", Tensor::zeros({}, DType::I64), true)) {}

Tensor BatchNorm2d::forward(const Tensor& x) {
  if (training()) num_batches_tracked.data<int64_t>()[0] += 1;  // host-only bookkeeping, as PyTorch counts
  return batch_norm2d(x, weight, bias, running_mean, running_var, training(), momentum, eps);
}

Tensor conv_bn(Conv2d& conv, BatchNorm2d& bn, const Tensor& x, bool relu_after) {
  if (!bn.training() && !grad_enabled() && x.device().is_cpu())
    return conv2d_bn_eval(x, conv.weight(), conv.bias() ? *conv.bias() : Tensor(), bn.weight, bn.bias,
                          bn.running_mean, bn.running_var, bn.eps, conv.stride, conv.pad, relu_after);
  Tensor y = bn.forward(conv.forward(x));
  return relu_after ? relu(y) : y;
}

Tensor BatchNorm1d::forward(const Tensor& x) {
  FF_CHECK(x.dim() == 2, "BatchNorm1d: input must be [N, C], got ", x.str());
  const int64_t n = x.size(0), c = x.size(1);
  return BatchNorm2d::forward(x.reshape({n, c, 1, 1})).reshape({n, c});
}

Linear::Linear(int64_t in, int64_t out, bool bias, Rng& rng) {
  Tensor w = Tensor::empty({out, in});
  kaiming_uniform_(w, std::sqrt(5.0), rng);
  weight_ = &register_parameter("weight", w);
  if (bias) {
    Tensor b = Tensor::empty({out});
    double bound = 1.0 / std::sqrt(static_cast<double>(in));
    uniform_(b, -bound, bound, rng);
    bias_ = &register_parameter("bias", b);
  }
}
Tensor Linear::forward(const Tensor& x) { return linear(x, *weight_, bias_ ? *bias_ : Tensor()); }

}  // namespace ff
