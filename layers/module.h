// layers/module.h — Module: parameters, buffers and child modules, named like PyTorch's
// state_dict keys ("layer1.0.conv1.weight", "bn1.running_mean"), so weights move between
// faceforge and PyTorch by name and a student can read both side by side.
#pragma once
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/ops.h"

namespace ff {

class Module {
 public:
  virtual ~Module() = default;
  // Single-input forward; modules with other signatures define their own and leave this one.
  virtual Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }

  // Recursive, in registration order, with dotted names.
  std::vector<std::pair<std::string, Tensor*>> named_parameters();
  std::vector<std::pair<std::string, Tensor*>> named_buffers();
  // Parameters then buffers of each module in turn: PyTorch's state_dict order.
  std::vector<std::pair<std::string, Tensor*>> state_dict();
  std::vector<Tensor*> parameters();
  int64_t num_parameters();

  void train(bool on = true);
  void eval() { train(false); }
  bool training() const { return training_; }
  // Moves every parameter and buffer to `device` (parameters stay leaves that require grads).
  void to(Device device);
  // Converts every floating parameter and buffer to `dtype` (float64 for gradient checks).
  void to(DType dtype);
  void zero_grad();

 protected:
  Tensor& register_parameter(const std::string& name, Tensor t);
  // host_only: the buffer stays on the CPU when the module moves (bookkeeping such as batch
  // norm's num_batches_tracked, which would otherwise cost a device round trip per step).
  Tensor& register_buffer(const std::string& name, Tensor t, bool host_only = false);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }

 private:
  void collect(const std::string& prefix, bool params, bool buffers,
               std::vector<std::pair<std::string, Tensor*>>& out);
  // deques: references handed out by register_* stay valid as more are added
  std::deque<std::pair<std::string, Tensor>> params_, buffers_;
  std::vector<bool> buffer_host_only_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// Children run in order, named "0", "1", ... as in torch.nn.Sequential.
class Sequential : public Module {
 public:
  Sequential() = default;
  template <typename M>
  std::shared_ptr<M> add(std::shared_ptr<M> m) {
    layers_.push_back(m);
    return register_module(std::to_string(layers_.size() - 1), m);
  }
  Tensor forward(const Tensor& x) override;
  size_t size() const { return layers_.size(); }

 private:
  std::vector<std::shared_ptr<Module>> layers_;
};

}  // namespace ff
