// train/fit.h — the one training loop: epochs of optimizer steps over a Loader, the loss read back
// once per logging interval, validation, the schedule, best/last checkpoints and the CSV log of a
// run folder (train/run.h), exact resume. A task (face/landmark_train.cpp, face/embed_train.cpp)
// supplies only what differs, as hooks: the loss of a batch, the validation metric, and what to
// report at an epoch's end.
//
// Each step: the batch (poisoned with NaN at FitOptions::nan_at_step), hooks.loss, zero_grad,
// backward, the optimizer step. The losses are summed on the loss's device and read to the host
// once per logging interval (every log_every steps, and at every checkpoint and epoch end), after
// that step's update is enqueued. On a GPU a step between two reads does no host synchronisation
// at all (tests/test_step_syncs.cpp counts them: zero): the loader's pinned batches upload
// asynchronously, and the CUDA losses do not read their labels back (the loader checks them,
// LoaderOptions::num_classes). log.csv gets one row per interval: epoch, step (the interval's
// last), loss (the mean of its steps), lr, images_per_s (its images over its wall time, loader
// waits included).
// The NaN guard checks each read: the price of one read per interval, after the update, is that a
// bad loss is caught up to log_every steps late (at the end of its interval), with the weights
// poisoned by then; no checkpoint is ever written from them, since every save is preceded by a read.
//
// At each epoch's end: hooks.validate -> the metric (its direction decides "best"); the schedule
// steps (LRScheduler once, ReduceLROnPlateau with the metric); hooks.on_epoch_end (a task's epoch
// CSV row, its line, its report: written before the checkpoints, so resume keeps or drops them
// together); then "last", and "best" when the metric improved. Every epoch figure is computed here
// once: train_loss = the sum of the epoch's step losses / its steps (resume included), images_per_s
// = its training images / its training seconds.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "layers/module.h"
#include "train/loader.h"
#include "train/lr_schedule.h"
#include "train/optim.h"
#include "train/run.h"

namespace ff {

// What FitOptions::on_report receives.
struct FitReport {
  int64_t epoch = 0, epochs = 0;            // 1-based epoch, the run's total
  int64_t step = 0;                         // optimizer steps of the run so far
  int64_t steps_done = 0, steps_total = 0;  // of this call
  double loss = 0, lr = 0, images_per_s = 0;
  bool epoch_end = false;  // true: after validation; metric and improved are set
  double metric = 0;
  bool improved = false;
};

struct FitOptions {
  int64_t epochs = 1;           // the run's total epochs (a resumed run continues up to it)
  int64_t save_every = 0;       // also checkpoint "last" every this many steps (0: at epoch ends only)
  // Steps per loss read and log.csv row. 0: every step when the loss lives on the CPU (a read costs
  // nothing there), every 10 on a GPU (each read is a device synchronisation).
  int64_t log_every = 0;
  bool progress = true;         // the progress line and the tasks' lines on stderr
  // Test hooks (steps count from 1, as in log.csv). stop_after_steps: stop, after checkpointing
  // "last", once the run has made this many steps: an interruption at a known point. nan_at_step:
  // the inputs of that step are NaN, so its loss is, as a corrupt batch would make it.
  int64_t stop_after_steps = -1;
  int64_t nan_at_step = -1;
  // Optional: called where the progress line is (each logged interval) and after each epoch's
  // validation, for callers that show progress their own way (the Python module, python/).
  std::function<void(const FitReport&)> on_report;
};

// What fit trains and checkpoints.
struct Trainee {
  Module& model;
  Optimizer& optimizer;
  LRScheduler* schedule = nullptr;       // stepped once per epoch
  ReduceLROnPlateau* plateau = nullptr;  // stepped once per epoch with the validation metric
  std::map<std::string, std::string> metadata;  // saved with the weights (models/factory.h keys)
};

struct EpochMetric {
  double value = 0;
  bool higher_is_better = false;
};

struct FitEpoch {
  int64_t epoch = 0, step = 0;  // epoch 1-based; step: optimizer steps done at its end
  double train_loss = 0, lr = 0, images_per_s = 0;  // lr: the epoch's, before the schedule steps
  double train_seconds = 0, validation_seconds = 0, seconds = 0;  // this call's share of the epoch
  // Of train_seconds, the time the loop waited for the loader's next batch (0 when the workers
  // always had it ready): the data's share of the training time.
  double data_wait_seconds = 0;
  double metric = 0;            // hooks.validate's value
  bool improved = false;        // the best metric of the run so far: "best" was written
};

struct FitHooks {
  // Forward and loss of one batch (moving it to the device is the hook's): a one-element tensor.
  std::function<Tensor(const Batch& batch, int64_t step)> loss;
  // The validation metric after an epoch (its train_loss, lr, images_per_s and train_seconds set).
  std::function<EpochMetric(const FitEpoch& epoch)> validate;
  // Optional: the epoch finished (every field set), before its checkpoints are written.
  std::function<void(const FitEpoch& epoch)> on_epoch_end;
};

struct FitResult {
  std::vector<double> losses;      // the loss of each interval logged by this call (its steps' mean)
  std::vector<int64_t> loss_steps; // the step of each: the interval's last
  int64_t first_step = 0;          // steps the run had made before this call
  std::vector<FitEpoch> epochs;    // the epochs this call finished
  int64_t steps = 0;               // optimizer steps of the run so far
  double best_metric = 0;          // best validation metric of the run so far
  bool stopped_early = false;      // stop_after_steps ended the call
  double images_per_s = 0;         // training images / training seconds of this call
  double train_seconds = 0, validation_seconds = 0, seconds = 0;  // this call's wall times
};

// Where a run starts: `last` of a resumed run folder, else step 0 with `seed` as the run's seed.
TrainState start_state(const RunDir& run, Trainee& t, uint64_t seed);

// Trains t.model from `state` to options.epochs epochs of `loader` (what `name`, e.g.
// "train-landmarks", names in progress lines and errors), updating `state`. Throws ff::Error when
// a loss or a validation metric is not finite, naming the step or epoch; the last checkpoint is
// then one written before the bad value.
FitResult fit(const std::string& name, RunDir& run, Trainee& t, Loader& loader, const FitHooks& hooks,
              const FitOptions& options, TrainState& state);

}  // namespace ff
