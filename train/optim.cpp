// train/optim.cpp — Optimizer bookkeeping (groups, state, save/restore), SGD and Adam.
#include "train/optim.h"

#include <map>
#include <set>

#include "engine/ops.h"

namespace ff {

// ---------------------------------------------------------------- Optimizer
Optimizer::Optimizer(const ParamGroup& defaults) : defaults_(defaults) { defaults_.params.clear(); }

ParamGroup& Optimizer::add_param_group(const std::vector<Tensor*>& params) {
  std::set<const TensorImpl*> seen;
  for (const ParamGroup& g : groups_)
    for (const Tensor* p : g.params) seen.insert(p->impl());
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor* p = params[i];
    FF_CHECK(p != nullptr && p->defined(), name(), ": parameter ", i, " of the new group is undefined");
    FF_CHECK(is_floating(p->dtype()), name(), ": parameter ", i, " is ", p->str(), ", not a float tensor");
    FF_CHECK(seen.insert(p->impl()).second, name(), ": parameter ", i, " (", p->str(),
             ") is already in a parameter group");
  }
  ParamGroup g = defaults_;
  g.params = params;
  groups_.push_back(std::move(g));
  return groups_.back();
}

double Optimizer::lr(size_t group) const {
  FF_CHECK(group < groups_.size(), name(), ": no parameter group ", group, " (", groups_.size(), " groups)");
  return groups_[group].lr;
}

void Optimizer::set_lr(size_t group, double lr) {
  FF_CHECK(group < groups_.size(), name(), ": no parameter group ", group, " (", groups_.size(), " groups)");
  groups_[group].lr = lr;
}

void Optimizer::sync_state() {
  state_.resize(groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) {
    size_t nb = buffer_names().size();
    state_[g].resize(groups_[g].params.size());
    for (ParamState& s : state_[g]) s.buffers.resize(nb);
  }
}

void Optimizer::step() {
  for (size_t g = 0; g < groups_.size(); ++g) validate(groups_[g], g);
  sync_state();
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      FF_CHECK(groups_[g].params[i] != nullptr && groups_[g].params[i]->defined(), name(), ": parameter ", g, ".", i,
               " is undefined");
      Tensor& p = *groups_[g].params[i];
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      FF_CHECK(grad.shape() == p.shape() && grad.dtype() == p.dtype() && grad.device() == p.device(), name(),
               ": gradient ", grad.str(), " does not match parameter ", g, ".", i, " ", p.str());
      for (const Tensor& b : state_[g][i].buffers)
        FF_CHECK(!b.defined() || b.device() == p.device(), name(), ": state of parameter ", g, ".", i, " is on ",
                 b.device().str(), " but the parameter ", p.str(), " (moved after the optimizer was made?)");
      update(groups_[g], p, grad, state_[g][i]);
    }
  }
}

void Optimizer::zero_grad() {
  for (ParamGroup& g : groups_)
    for (Tensor* p : g.params) p->zero_grad();
}

std::vector<Optimizer::Hyper> Optimizer::all_hypers() const {
  std::vector<Hyper> h = {
      {"lr", [](const ParamGroup& g) { return g.lr; }, [](ParamGroup& g, double v) { g.lr = v; }},
      {"weight_decay", [](const ParamGroup& g) { return g.weight_decay; },
       [](ParamGroup& g, double v) { g.weight_decay = v; }},
  };
  for (const Hyper& x : hypers()) h.push_back(x);
  return h;
}

namespace {
std::string group_key(size_t g, const char* field) { return "param_groups." + std::to_string(g) + "." + field; }
std::string state_key(size_t g, size_t i, const std::string& field) {
  return "state." + std::to_string(g) + "." + std::to_string(i) + "." + field;
}
}  // namespace

std::vector<std::pair<std::string, Tensor>> Optimizer::state_tensors() const {
  std::vector<std::pair<std::string, Tensor>> out;
  std::vector<Hyper> hs = all_hypers();
  std::vector<std::string> bn = buffer_names();
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (const Hyper& h : hs) out.emplace_back(group_key(g, h.name), Tensor::scalar(h.get(groups_[g]), DType::F64));
    if (g >= state_.size()) continue;
    for (size_t i = 0; i < state_[g].size(); ++i) {
      const ParamState& s = state_[g][i];
      if (s.step > 0) {
        Tensor t = Tensor::empty({}, DType::I64);
        t.data<int64_t>()[0] = s.step;
        out.emplace_back(state_key(g, i, "step"), t);
      }
      for (size_t b = 0; b < s.buffers.size(); ++b)
        if (s.buffers[b].defined()) out.emplace_back(state_key(g, i, bn[b]), s.buffers[b].detach());
    }
  }
  return out;
}

void Optimizer::load_state(const std::vector<std::pair<std::string, Tensor>>& state) {
  std::map<std::string, Tensor> in;
  for (const auto& [k, t] : state) {
    FF_CHECK(t.defined(), name(), "::load_state: entry '", k, "' is undefined");
    FF_CHECK(in.emplace(k, t).second, name(), "::load_state: entry '", k, "' appears twice");
  }
  std::set<std::string> used;
  auto take = [&](const std::string& k) -> const Tensor* {
    auto it = in.find(k);
    if (it == in.end()) return nullptr;
    used.insert(k);
    return &it->second;
  };
  // Build the new groups and state aside, so a bad entry leaves this optimizer untouched.
  std::vector<ParamGroup> groups = groups_;
  std::vector<std::vector<ParamState>> st(groups_.size());
  std::vector<Hyper> hs = all_hypers();
  std::vector<std::string> bn = buffer_names();
  for (size_t g = 0; g < groups.size(); ++g) {
    for (const Hyper& h : hs) {
      const Tensor* t = take(group_key(g, h.name));
      FF_CHECK(t != nullptr, name(), "::load_state: missing '", group_key(g, h.name), "' (the state has fewer groups, or is not ",
               name(), " state)");
      FF_CHECK(t->numel() == 1 && is_floating(t->dtype()), name(), "::load_state: '", group_key(g, h.name),
               "' must be one float, got ", t->str());
      h.set(groups[g], t->item());
    }
    validate(groups[g], g);
    st[g].resize(groups[g].params.size());
    for (size_t i = 0; i < groups[g].params.size(); ++i) {
      const Tensor& p = *groups[g].params[i];
      ParamState& s = st[g][i];
      s.buffers.resize(bn.size());
      if (const Tensor* t = take(state_key(g, i, "step"))) {
        FF_CHECK(t->numel() == 1 && t->dtype() == DType::I64, name(), "::load_state: '", state_key(g, i, "step"),
                 "' must be one int64, got ", t->str());
        s.step = t->to(Device::cpu()).data<int64_t>()[0];
        FF_CHECK(s.step >= 0, name(), "::load_state: negative step ", s.step, " in '", state_key(g, i, "step"), "'");
      }
      for (size_t b = 0; b < bn.size(); ++b) {
        const Tensor* t = take(state_key(g, i, bn[b]));
        if (!t) continue;
        FF_CHECK(t->shape() == p.shape() && t->dtype() == p.dtype(), name(), "::load_state: '", state_key(g, i, bn[b]),
                 "' is ", t->str(), " but parameter ", g, ".", i, " is ", p.str());
        Tensor copy = Tensor::empty(p.shape(), p.dtype(), p.device());
        copy.copy_from(*t);
        s.buffers[b] = copy;
      }
    }
  }
  for (const auto& [k, t] : in)
    FF_CHECK(used.count(k), name(), "::load_state: unexpected entry '", k, "' ", t.str(),
             " (a different optimizer, or more groups or parameters than this one has)");
  groups_ = std::move(groups);
  state_ = std::move(st);
}

// ---------------------------------------------------------------- SGD
namespace {
ParamGroup sgd_defaults(const SGDOptions& o) {
  ParamGroup g;
  g.lr = o.lr;
  g.momentum = o.momentum;
  g.weight_decay = o.weight_decay;
  g.dampening = o.dampening;
  g.nesterov = o.nesterov;
  return g;
}
ParamGroup adam_defaults(const AdamOptions& o) {
  ParamGroup g;
  g.lr = o.lr;
  g.beta1 = o.beta1;
  g.beta2 = o.beta2;
  g.eps = o.eps;
  g.weight_decay = o.weight_decay;
  return g;
}
}  // namespace

SGD::SGD(const std::vector<Tensor*>& params, const SGDOptions& options) : Optimizer(sgd_defaults(options)) {
  ParamGroup d = sgd_defaults(options);
  validate(d, 0);
  if (!params.empty()) add_param_group(params);
}

std::vector<Optimizer::Hyper> SGD::hypers() const {
  return {
      {"momentum", [](const ParamGroup& g) { return g.momentum; }, [](ParamGroup& g, double v) { g.momentum = v; }},
      {"dampening", [](const ParamGroup& g) { return g.dampening; }, [](ParamGroup& g, double v) { g.dampening = v; }},
      {"nesterov", [](const ParamGroup& g) { return g.nesterov ? 1.0 : 0.0; },
       [](ParamGroup& g, double v) { g.nesterov = v != 0.0; }},
  };
}

void SGD::validate(const ParamGroup& g, size_t i) const {
  FF_CHECK(g.lr >= 0.0, "SGD: invalid learning rate ", g.lr, " in group ", i);
  FF_CHECK(g.momentum >= 0.0, "SGD: invalid momentum ", g.momentum, " in group ", i);
  FF_CHECK(g.weight_decay >= 0.0, "SGD: invalid weight_decay ", g.weight_decay, " in group ", i);
  FF_CHECK(!g.nesterov || (g.momentum > 0.0 && g.dampening == 0.0),
           "SGD: Nesterov momentum requires a momentum and zero dampening (group ", i, ")");
}

void SGD::update(const ParamGroup& g, Tensor& p, const Tensor& grad, ParamState& s) {
  // The step count changes only once the update was issued, so a throwing one leaves the state intact.
  sgd_step_(p, grad, s.buffers[0], g.lr, g.momentum, g.dampening, g.weight_decay, g.nesterov);
  ++s.step;
}

// ---------------------------------------------------------------- Adam
Adam::Adam(const std::vector<Tensor*>& params, const AdamOptions& options) : Optimizer(adam_defaults(options)) {
  validate(adam_defaults(options), 0);
  if (!params.empty()) add_param_group(params);
}

std::vector<Optimizer::Hyper> Adam::hypers() const {
  return {
      {"beta1", [](const ParamGroup& g) { return g.beta1; }, [](ParamGroup& g, double v) { g.beta1 = v; }},
      {"beta2", [](const ParamGroup& g) { return g.beta2; }, [](ParamGroup& g, double v) { g.beta2 = v; }},
      {"eps", [](const ParamGroup& g) { return g.eps; }, [](ParamGroup& g, double v) { g.eps = v; }},
  };
}

void Adam::validate(const ParamGroup& g, size_t i) const {
  FF_CHECK(g.lr >= 0.0, "Adam: invalid learning rate ", g.lr, " in group ", i);
  FF_CHECK(g.eps >= 0.0, "Adam: invalid epsilon ", g.eps, " in group ", i);
  FF_CHECK(g.beta1 >= 0.0 && g.beta1 < 1.0, "Adam: invalid beta1 ", g.beta1, " in group ", i);
  FF_CHECK(g.beta2 >= 0.0 && g.beta2 < 1.0, "Adam: invalid beta2 ", g.beta2, " in group ", i);
  FF_CHECK(g.weight_decay >= 0.0, "Adam: invalid weight_decay ", g.weight_decay, " in group ", i);
}

void Adam::update(const ParamGroup& g, Tensor& p, const Tensor& grad, ParamState& s) {
  const int64_t t = s.step + 1;
  adam_step_(p, grad, s.buffers[0], s.buffers[1], t, g.lr, g.beta1, g.beta2, g.eps, g.weight_decay);
  s.step = t;
}

}  // namespace ff
