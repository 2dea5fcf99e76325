// train/lr_schedule.h — learning-rate schedules with torch.optim.lr_scheduler's semantics. Each
// sets the learning rate of every parameter group of an Optimizer.
//
//   StepLR sched(opt, 30, 0.1);
//   for (epoch ...) { train_one_epoch(); sched.step(); }
//   ReduceLROnPlateau plateau(opt, 0.5, 3);  ...  plateau.step(val_loss);
//
// As in PyTorch, making a schedule is its epoch 0 and leaves the learning rates as they are;
// each step() advances one epoch. The group learning rates at construction are the base rates.
// State for exact resume: state_tensors() / load_state() (0-dim tensors: last_epoch, base rates,
// and the plateau's counters), to be saved beside the optimizer's; restore the optimizer first.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "train/optim.h"

namespace ff {

// The epoch-driven schedules: lr of group g at epoch e is lr_at(g, current lr).
class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  void step();  // advance one epoch, set the group learning rates
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }

  std::vector<std::pair<std::string, Tensor>> state_tensors() const;  // "last_epoch", "base_lrs.<g>"
  void load_state(const std::vector<std::pair<std::string, Tensor>>& state);

 protected:
  explicit LRScheduler(Optimizer& opt);
  // The learning rate of group g at last_epoch_ (already advanced), given its current value.
  virtual double lr_at(size_t g, double current) const = 0;

  Optimizer& opt_;
  std::vector<double> base_lrs_;
  int64_t last_epoch_ = 0;
};

// Multiplies the learning rate by gamma every step_size epochs (PyTorch's recursive form:
// lr *= gamma at epochs step_size, 2 step_size, ...).
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& opt, int64_t step_size, double gamma = 0.1);

 protected:
  double lr_at(size_t g, double current) const override;

 private:
  int64_t step_size_;
  double gamma_;
};

// Closed form: lr = eta_min + (base_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2, which past
// T_max rises again, as PyTorch's does.
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& opt, int64_t t_max, double eta_min = 0.0);

 protected:
  double lr_at(size_t g, double current) const override;

 private:
  int64_t t_max_;
  double eta_min_;
};

// torch.optim.lr_scheduler.ReduceLROnPlateau, mode "min", threshold_mode "rel": a metric counts
// as an improvement when it is below best * (1 - threshold). After more than `patience` epochs
// without one, every group's lr becomes max(lr * factor, min_lr) (unless that changes it by no
// more than eps), then `cooldown` epochs pass in which bad epochs are not counted.
class ReduceLROnPlateau {
 public:
  ReduceLROnPlateau(Optimizer& opt, double factor = 0.1, int64_t patience = 10, double threshold = 1e-4,
                    int64_t cooldown = 0, double min_lr = 0.0, double eps = 1e-8);
  void step(double metric);

  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }
  int64_t last_epoch() const { return last_epoch_; }
  std::vector<double> min_lrs;  // one per group, all min_lr at construction

  // "last_epoch", "best", "num_bad_epochs", "cooldown_counter"
  std::vector<std::pair<std::string, Tensor>> state_tensors() const;
  void load_state(const std::vector<std::pair<std::string, Tensor>>& state);

 private:
  Optimizer& opt_;
  double factor_, threshold_, eps_;
  int64_t patience_, cooldown_;
  double best_;
  int64_t num_bad_epochs_ = 0, cooldown_counter_ = 0, last_epoch_ = 0;
};

}  // namespace ff
