// layers/module.cpp — see module.h.
#include "layers/module.h"

namespace ff {

Tensor Module::forward(const Tensor&) { FF_FAIL("this module has no single-input forward"); }

Tensor& Module::register_parameter(const std::string& name, Tensor t) {
  if (!t.requires_grad()) t.requires_grad_(true);
  params_.emplace_back(name, t);
  return params_.back().second;
}
Tensor& Module::register_buffer(const std::string& name, Tensor t, bool host_only) {
  buffers_.emplace_back(name, t);
  buffer_host_only_.push_back(host_only);
  return buffers_.back().second;
}

void Module::collect(const std::string& prefix, bool params, bool buffers,
                     std::vector<std::pair<std::string, Tensor*>>& out) {
  if (params)
    for (auto& [n, t] : params_) out.emplace_back(prefix + n, &t);
  if (buffers)
    for (auto& [n, t] : buffers_) out.emplace_back(prefix + n, &t);
  for (auto& [n, m] : children_) m->collect(prefix + n + ".", params, buffers, out);
}

std::vector<std::pair<std::string, Tensor*>> Module::named_parameters() {
  std::vector<std::pair<std::string, Tensor*>> out;
  collect("", true, false, out);
  return out;
}
std::vector<std::pair<std::string, Tensor*>> Module::named_buffers() {
  std::vector<std::pair<std::string, Tensor*>> out;
  collect("", false, true, out);
  return out;
}
std::vector<std::pair<std::string, Tensor*>> Module::state_dict() {
  std::vector<std::pair<std::string, Tensor*>> out;
  collect("", true, true, out);
  return out;
}
std::vector<Tensor*> Module::parameters() {
  std::vector<Tensor*> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}
int64_t Module::num_parameters() {
  int64_t n = 0;
  for (Tensor* t : parameters()) n += t->numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, m] : children_) m->train(on);
}

void Module::to(Device device) {
  for (auto& [n, t] : params_) {
    if (t.device() == device) continue;
    Tensor moved = t.detach().to(device);
    moved.requires_grad_(true);
    t = moved;
  }
  for (size_t i = 0; i < buffers_.size(); ++i) {
    Tensor& t = buffers_[i].second;
    if (!buffer_host_only_[i] && t.device() != device) t = t.detach().to(device);
  }
  for (auto& [n, m] : children_) m->to(device);
}

void Module::to(DType dtype) {
  for (auto& [n, t] : params_) {
    if (t.dtype() == dtype) continue;
    Tensor c = t.detach().to(dtype);
    c.requires_grad_(true);
    t = c;
  }
  for (auto& [n, t] : buffers_)
    if (is_floating(t.dtype()) && t.dtype() != dtype) t = t.detach().to(dtype);
  for (auto& [n, m] : children_) m->to(dtype);
}

void Module::zero_grad() {
  for (Tensor* t : parameters()) t->zero_grad();
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& m : layers_) h = m->forward(h);
  return h;
}

}  // namespace ff
