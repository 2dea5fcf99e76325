// train/lr_schedule.cpp — StepLR, CosineAnnealingLR, ReduceLROnPlateau (see lr_schedule.h).
#include "train/lr_schedule.h"

#include <cmath>
#include <limits>
#include <map>

namespace ff {

namespace {
Tensor f64(double v) { return Tensor::scalar(v, DType::F64); }
Tensor i64(int64_t v) {
  Tensor t = Tensor::empty({}, DType::I64);
  t.data<int64_t>()[0] = v;
  return t;
}

// Named 0-dim entries, each looked up once; anything missing or left over is an error.
struct Entries {
  const char* who;
  std::map<std::string, Tensor> in;
  explicit Entries(const char* w, const std::vector<std::pair<std::string, Tensor>>& state) : who(w) {
    for (const auto& [k, t] : state) {
      FF_CHECK(t.defined() && t.numel() == 1, who, "::load_state: entry '", k, "' must be one value, got ", t.str());
      FF_CHECK(in.emplace(k, t.to(Device::cpu())).second, who, "::load_state: entry '", k, "' appears twice");
    }
  }
  double real(const std::string& k) {
    auto it = in.find(k);
    FF_CHECK(it != in.end(), who, "::load_state: missing '", k, "'");
    FF_CHECK(is_floating(it->second.dtype()), who, "::load_state: '", k, "' must be a float, got ", it->second.str());
    double v = it->second.item();
    in.erase(it);
    return v;
  }
  int64_t integer(const std::string& k) {
    auto it = in.find(k);
    FF_CHECK(it != in.end(), who, "::load_state: missing '", k, "'");
    FF_CHECK(it->second.dtype() == DType::I64, who, "::load_state: '", k, "' must be int64, got ", it->second.str());
    int64_t v = it->second.data<int64_t>()[0];
    in.erase(it);
    return v;
  }
  void done() {
    FF_CHECK(in.empty(), who, "::load_state: unexpected entry '", in.begin()->first, "'");
  }
};
}  // namespace

// ---------------------------------------------------------------- LRScheduler
LRScheduler::LRScheduler(Optimizer& opt) : opt_(opt) {
  for (size_t g = 0; g < opt.num_groups(); ++g) base_lrs_.push_back(opt.lr(g));
}

void LRScheduler::step() {
  FF_CHECK(opt_.num_groups() == base_lrs_.size(), "LRScheduler: the optimizer has ", opt_.num_groups(),
           " groups, the schedule was made for ", base_lrs_.size());
  ++last_epoch_;
  for (size_t g = 0; g < base_lrs_.size(); ++g) opt_.set_lr(g, lr_at(g, opt_.lr(g)));
}

std::vector<std::pair<std::string, Tensor>> LRScheduler::state_tensors() const {
  std::vector<std::pair<std::string, Tensor>> out;
  out.emplace_back("last_epoch", i64(last_epoch_));
  for (size_t g = 0; g < base_lrs_.size(); ++g) out.emplace_back("base_lrs." + std::to_string(g), f64(base_lrs_[g]));
  return out;
}

void LRScheduler::load_state(const std::vector<std::pair<std::string, Tensor>>& state) {
  Entries e("LRScheduler", state);
  int64_t epoch = e.integer("last_epoch");
  FF_CHECK(epoch >= 0, "LRScheduler::load_state: negative last_epoch ", epoch);
  std::vector<double> base(base_lrs_.size());
  for (size_t g = 0; g < base.size(); ++g) base[g] = e.real("base_lrs." + std::to_string(g));
  e.done();
  last_epoch_ = epoch;
  base_lrs_ = base;
}

// ---------------------------------------------------------------- StepLR
StepLR::StepLR(Optimizer& opt, int64_t step_size, double gamma) : LRScheduler(opt), step_size_(step_size), gamma_(gamma) {
  FF_CHECK(step_size > 0, "StepLR: step_size must be positive, got ", step_size);
}

double StepLR::lr_at(size_t, double current) const {
  return last_epoch_ % step_size_ == 0 ? current * gamma_ : current;
}

// ---------------------------------------------------------------- CosineAnnealingLR
CosineAnnealingLR::CosineAnnealingLR(Optimizer& opt, int64_t t_max, double eta_min)
    : LRScheduler(opt), t_max_(t_max), eta_min_(eta_min) {
  FF_CHECK(t_max > 0, "CosineAnnealingLR: T_max must be positive, got ", t_max);
}

double CosineAnnealingLR::lr_at(size_t g, double) const {
  const double pi = 3.14159265358979323846;
  return eta_min_ + (base_lrs_[g] - eta_min_) * (1.0 + std::cos(pi * static_cast<double>(last_epoch_) / t_max_)) / 2.0;
}

// ---------------------------------------------------------------- ReduceLROnPlateau
ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& opt, double factor, int64_t patience, double threshold,
                                     int64_t cooldown, double min_lr, double eps)
    : min_lrs(opt.num_groups(), min_lr),
      opt_(opt),
      factor_(factor),
      threshold_(threshold),
      eps_(eps),
      patience_(patience),
      cooldown_(cooldown),
      best_(std::numeric_limits<double>::infinity()) {
  FF_CHECK(factor < 1.0 && factor >= 0.0, "ReduceLROnPlateau: factor should be in [0, 1), got ", factor);
  FF_CHECK(patience >= 0 && cooldown >= 0, "ReduceLROnPlateau: patience ", patience, " and cooldown ", cooldown,
           " must not be negative");
  FF_CHECK(min_lr >= 0.0, "ReduceLROnPlateau: min_lr must not be negative, got ", min_lr);
}

void ReduceLROnPlateau::step(double metric) {
  FF_CHECK(min_lrs.size() == opt_.num_groups(), "ReduceLROnPlateau: ", min_lrs.size(), " min_lrs for ",
           opt_.num_groups(), " parameter groups");
  ++last_epoch_;
  if (metric < best_ * (1.0 - threshold_)) {  // false for NaN: a NaN epoch is a bad one
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;  // bad epochs are ignored in cooldown
  }
  if (num_bad_epochs_ > patience_) {
    for (size_t g = 0; g < opt_.num_groups(); ++g) {
      double old_lr = opt_.lr(g);
      double new_lr = std::max(old_lr * factor_, min_lrs[g]);
      if (old_lr - new_lr > eps_) opt_.set_lr(g, new_lr);
    }
    cooldown_counter_ = cooldown_;
    num_bad_epochs_ = 0;
  }
}

std::vector<std::pair<std::string, Tensor>> ReduceLROnPlateau::state_tensors() const {
  return {{"last_epoch", i64(last_epoch_)},
          {"best", f64(best_)},
          {"num_bad_epochs", i64(num_bad_epochs_)},
          {"cooldown_counter", i64(cooldown_counter_)}};
}

void ReduceLROnPlateau::load_state(const std::vector<std::pair<std::string, Tensor>>& state) {
  Entries e("ReduceLROnPlateau", state);
  int64_t epoch = e.integer("last_epoch");
  double best = e.real("best");
  int64_t bad = e.integer("num_bad_epochs"), cool = e.integer("cooldown_counter");
  e.done();
  last_epoch_ = epoch;
  best_ = best;
  num_bad_epochs_ = bad;
  cooldown_counter_ = cool;
}

}  // namespace ff
