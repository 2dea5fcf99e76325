// train/optim.h — optimizers with torch.optim's exact update rules: SGD (momentum, dampening,
// Nesterov, L2 weight decay) and Adam (bias-corrected, weight decay as L2 added to the gradient).
//
//   SGDOptions o;
//   o.lr = 0.1, o.momentum = 0.9, o.weight_decay = 5e-4;
//   SGD opt(backbone.parameters(), o);
//   opt.add_param_group(head.parameters()).lr = 0.01;   // a second group, its own lr
//   loss.backward(); opt.step(); opt.zero_grad();
//
// Parameters are held as Tensor* (a Module's parameters stay put, and Module::to swaps the tensor
// behind the pointer). Each step runs one engine op per parameter (sgd_step_ or adam_step_,
// engine/ops.h) on the parameter's device, CPU float32/float64 or CUDA float32, with no host
// synchronisation.
// Parameters without a gradient are skipped: their state (step count, buffers) does not advance,
// exactly as in PyTorch. zero_grad() drops the gradients (PyTorch's set_to_none).
//
// State for exact resume: state_tensors() names every hyperparameter of every group (0-dim
// float64 "param_groups.<g>.<name>"), every per-parameter step count (0-dim int64
// "state.<g>.<i>.step") and buffer ("state.<g>.<i>.momentum_buffer", ".exp_avg", ".exp_avg_sq"),
// ready for write_safetensors. load_state() checks all of it against this optimizer's groups and
// parameters before changing anything, then restores it (buffers copied to the parameters'
// devices), so a fresh optimizer over the same parameters continues bit for bit.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace ff {

// One parameter group: its parameters and hyperparameters. Fields an optimizer does not use are
// ignored (SGD ignores beta1/beta2/eps, Adam ignores momentum/dampening/nesterov).
struct ParamGroup {
  std::vector<Tensor*> params;
  double lr = 1e-3;
  double weight_decay = 0.0;
  // SGD
  double momentum = 0.0;
  double dampening = 0.0;
  bool nesterov = false;
  // Adam
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  virtual const char* name() const = 0;  // "SGD", "Adam"

  // Adds a group with the optimizer's default hyperparameters and returns it, to change what
  // differs: opt.add_param_group({&w}).lr = 0.01. A parameter may be in one group only.
  ParamGroup& add_param_group(const std::vector<Tensor*>& params);
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  size_t num_groups() const { return groups_.size(); }
  double lr(size_t group = 0) const;
  void set_lr(size_t group, double lr);

  // One update of every parameter that has a gradient. Hyperparameters are validated first.
  void step();
  // Drops every parameter's gradient.
  void zero_grad();

  // The state as named tensors (see the file comment). Buffers are returned as handles sharing
  // storage with the live state: serialise (or clone) them before the next step().
  std::vector<std::pair<std::string, Tensor>> state_tensors() const;
  void load_state(const std::vector<std::pair<std::string, Tensor>>& state);

 protected:
  explicit Optimizer(const ParamGroup& defaults);

  struct ParamState {
    int64_t step = 0;              // updates applied to this parameter so far
    std::vector<Tensor> buffers;   // in buffer_names() order; undefined until first needed
  };
  // Scalar hyperparameters this optimizer saves and restores, beyond lr and weight_decay.
  struct Hyper {
    const char* name;
    double (*get)(const ParamGroup&);
    void (*set)(ParamGroup&, double);
  };
  virtual std::vector<Hyper> hypers() const = 0;
  virtual std::vector<std::string> buffer_names() const = 0;
  // Throws ff::Error when a group's hyperparameters are invalid (g is its index).
  virtual void validate(const ParamGroup& group, size_t g) const = 0;
  // Updates p from grad, advancing s (whose buffers have buffer_names().size() slots).
  virtual void update(const ParamGroup& group, Tensor& p, const Tensor& grad, ParamState& s) = 0;

 private:
  std::vector<Hyper> all_hypers() const;  // lr, weight_decay, then hypers()
  void sync_state();                      // one ParamState per parameter of every group

  ParamGroup defaults_;
  std::vector<ParamGroup> groups_;
  std::vector<std::vector<ParamState>> state_;  // [group][parameter]
};

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double weight_decay = 0.0;
  double dampening = 0.0;
  bool nesterov = false;
};

// torch.optim.SGD: d = g + wd p; with momentum, buf = d on the first step, then
// buf = momentum buf + (1 - dampening) d, and d = buf (or d + momentum buf with Nesterov);
// p -= lr d.
class SGD : public Optimizer {
 public:
  SGD(const std::vector<Tensor*>& params, const SGDOptions& options);
  const char* name() const override { return "SGD"; }

 protected:
  std::vector<Hyper> hypers() const override;
  std::vector<std::string> buffer_names() const override { return {"momentum_buffer"}; }
  void validate(const ParamGroup& group, size_t g) const override;
  void update(const ParamGroup& group, Tensor& p, const Tensor& grad, ParamState& s) override;
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

// torch.optim.Adam (amsgrad off): d = g + wd p; m = b1 m + (1 - b1) d; v = b2 v + (1 - b2) d²;
// p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps), t the parameter's step count.
class Adam : public Optimizer {
 public:
  Adam(const std::vector<Tensor*>& params, const AdamOptions& options);
  const char* name() const override { return "Adam"; }

 protected:
  std::vector<Hyper> hypers() const override;
  std::vector<std::string> buffer_names() const override { return {"exp_avg", "exp_avg_sq"}; }
  void validate(const ParamGroup& group, size_t g) const override;
  void update(const ParamGroup& group, Tensor& p, const Tensor& grad, ParamState& s) override;
};

}  // namespace ff
