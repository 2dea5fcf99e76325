// layers/basic.h — the basic layers, initialised exactly as PyTorch initialises them.
#pragma once
#include "layers/module.h"

namespace ff {

// torch.nn.Conv2d: weight [out, in, k, k] and bias [out] ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))
// (kaiming_uniform with a = sqrt(5)).
class Conv2d : public Module {
 public:
  Conv2d(int64_t in, int64_t out, int kernel, int stride, int pad, bool bias, Rng& rng);
  Tensor forward(const Tensor& x) override;
  Tensor& weight() { return *weight_; }
  Tensor* bias() { return bias_; }
  int stride, pad;

 private:
  Tensor* weight_;
  Tensor* bias_ = nullptr;
};

// torch.nn.BatchNorm2d: weight 1, bias 0, running_mean 0, running_var 1, num_batches_tracked 0.
class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t channels, double momentum = 0.1, double eps = 1e-5);
  Tensor forward(const Tensor& x) override;
  double momentum, eps;
  Tensor &weight, &bias, &running_mean, &running_var, &num_batches_tracked;
};

// bn(conv(x)), then ReLU when `relu`. In eval mode under NoGradGuard on the CPU, one fused op
// (engine/ops.h conv2d_bn_eval: the batch norm folded into the convolution, ReLU in place);
// otherwise the modules' own forwards, recorded for autograd as usual.
Tensor conv_bn(Conv2d& conv, BatchNorm2d& bn, const Tensor& x, bool relu);

// torch.nn.BatchNorm1d on [N, C]: the same statistics as BatchNorm2d on [N, C, 1, 1] (per
// feature over the batch), the same parameter and buffer names.
class BatchNorm1d : public BatchNorm2d {
 public:
  using BatchNorm2d::BatchNorm2d;
  Tensor forward(const Tensor& x) override;
};

// torch.nn.Linear: weight [out, in], bias [out], initialised like Conv2d.
class Linear : public Module {
 public:
  Linear(int64_t in, int64_t out, bool bias, Rng& rng);
  Tensor forward(const Tensor& x) override;
  Tensor& weight() { return *weight_; }
  Tensor* bias() { return bias_; }

 private:
  Tensor* weight_;
  Tensor* bias_ = nullptr;
};

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override { return relu(x); }
};

// torch.nn.PReLU(channels): weight [channels], initialised to 0.25 as PyTorch does.
class PReLU : public Module {
 public:
  explicit PReLU(int64_t channels) : weight(register_parameter("weight", Tensor::full({channels}, 0.25))) {}
  Tensor forward(const Tensor& x) override { return prelu(x, weight); }
  Tensor& weight;
};
class MaxPool2d : public Module {
 public:
  MaxPool2d(int kernel, int stride, int pad = 0, bool ceil_mode = false)
      : kernel(kernel), stride(stride), pad(pad), ceil_mode(ceil_mode) {}
  Tensor forward(const Tensor& x) override { return max_pool2d(x, kernel, stride, pad, ceil_mode); }
  int kernel, stride, pad;
  bool ceil_mode;
};

// Dropout draws its masks from the Rng it was given (which must outlive it).
class Dropout : public Module {
 public:
  Dropout(double p, Rng& rng) : p(p), rng_(&rng) {}
  Tensor forward(const Tensor& x) override { return dropout(x, p, training(), *rng_); }
  double p;

 private:
  Rng* rng_;
};

class Flatten : public Module {
 public:
  Tensor forward(const Tensor& x) override { return flatten(x, 1); }
};

}  // namespace ff
