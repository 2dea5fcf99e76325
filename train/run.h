// train/run.h — the folder of a training run, and everything that makes a run resumable.
//
//   RUN/log.csv                 one row per logging interval (epoch, step, loss, lr, images/s; train/fit.h)
//   RUN/last.safetensors        the latest weights (metadata: model kind and configuration)
//   RUN/last.state.safetensors  optimizer moments, scheduler, step, RNG state, data position
//   RUN/best.safetensors        the weights with the best validation metric so far
//   RUN/report/...              curves (PNG) and sample predictions
// Checkpoints are written atomically (temporary file, fsync, rename), weights first and state
// second, each file complete on its own; the state file records the step of the weights it goes
// with, and resume refuses a pair that disagrees.
#pragma once
#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "engine/random.h"
#include "layers/module.h"
#include "train/lr_schedule.h"
#include "train/optim.h"

namespace ff {

// Where a run stands: enough to continue exactly where it stopped.
struct TrainState {
  int64_t epoch = 0;           // the epoch in progress (0-based)
  int64_t batch_in_epoch = 0;  // batches of that epoch already consumed
  int64_t step = 0;            // optimizer steps so far
  uint64_t rng_seed = 0, rng_offset = 0;
  double best_metric = 0;      // best validation metric so far (meaning set by the trainer)
  bool has_best = false;
  std::map<std::string, double> scalars;  // anything else a trainer needs back
};

class RunDir {
 public:
  // Creates `dir` (and dir/report). Without `resume`, refuses a folder that already holds a run
  // (last.safetensors), so a run is never overwritten by accident.
  RunDir(const std::string& dir, bool resume);
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  const std::string& dir() const { return dir_; }
  bool resumed() const { return resumed_; }  // made with `resume`: continuing the run in dir
  bool has_checkpoint() const;

  // Saves weights (with `model_meta`, e.g. {"model": "hourglass", "config": "..."}) and the
  // training state as `name` ("last" or "best").
  void save(const std::string& name, Module& model, const std::map<std::string, std::string>& model_meta,
            const Optimizer& opt, const LRScheduler* sched, const ReduceLROnPlateau* plateau,
            const TrainState& state) const;
  // Loads `name` back into model, optimizer and scheduler; returns the state.
  TrainState load(const std::string& name, Module& model, Optimizer& opt, LRScheduler* sched,
                  ReduceLROnPlateau* plateau) const;

 private:
  std::string dir_;
  bool resumed_ = false;
};

// A CSV file with a fixed header, one flushed row per call, so a run killed at any moment leaves
// a readable log. With `append` (resume), keeps the rows up to and including step `keep_until`
// (the checkpoint's step) and drops later ones, so the log matches the resumed run.
class CsvLog {
 public:
  CsvLog(const std::string& path, const std::vector<std::string>& columns, bool append = false,
         int64_t keep_until_step = -1);
  void row(const std::vector<double>& values);

 private:
  std::string path_;
  size_t ncols_;
  std::ofstream out_;
};

}  // namespace ff
