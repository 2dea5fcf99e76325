// train/run.h — the folder of a training run, and everything that makes a run resumable.
//
//   RUN/log.csv                 one row per logging interval (epoch, step, loss, lr, images/s; train/fit.h)
//   RUN/last.state.safetensors  THE checkpoint: the weights (model.*), optimizer moments, scheduler,
//                               step, RNG state, data position; the model's kind and configuration
//   RUN/last.safetensors        the same weights alone, for the other commands (a model file)
//   RUN/best.safetensors        the weights with the best validation metric so far
//   RUN/report/...              curves (PNG) and sample predictions
//   RUN/.lock                   held (flock) while a process trains in RUN
// Crash consistency. Every file is written atomically (temporary file, fsync, rename: an old file
// or the new one, never a part), and a resume needs one file only, last.state.safetensors, which
// is complete on its own: a kill at any moment, an out-of-memory kill or a full disk leaves a run
// that resumes from its latest complete checkpoint. The order of the writes is what makes the
// pieces agree: at an epoch's end the task's rows (val.csv, epochs.csv), then best, then the state,
// then last.safetensors. A kill between two of them leaves files that are newer than the state,
// and the resumed run writes them again, the same bytes, as it retrains the same steps; a
// last.safetensors older than the state is rewritten from it at resume. The logs keep only the rows
// up to the checkpoint's step (CsvLog). Temporary files of a killed process are deleted when the
// folder is next opened. Each data section carries a CRC-32 (engine/safetensors.h).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/random.h"
#include "engine/safetensors.h"
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

// The weights of the checkpoint in run folder `dir` as a model file (its "model.*" tensors under
// their own names, with its metadata), read from `state` (dir/last.state.safetensors, already
// read); a folder of the older two-file format gives dir/last.safetensors. A trainer checks these
// against the metadata (models/factory.h check_model_file) before it builds anything.
SafeTensors checkpoint_weights(const SafeTensors& state, const std::string& dir);

class RunDir {
 public:
  // Creates `dir` (and dir/report) and locks it (another process training there is refused).
  // Without `resume`, refuses a folder that already holds a run (a checkpoint), so a run is never
  // overwritten by accident; with it, refuses one without last.state.safetensors, naming what the
  // folder holds. Deletes the temporary files (*.tmp.<pid>) of processes no longer running.
  RunDir(const std::string& dir, bool resume);
  ~RunDir();
  RunDir(const RunDir&) = delete;
  RunDir& operator=(const RunDir&) = delete;
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  const std::string& dir() const { return dir_; }
  bool resumed() const { return resumed_; }  // made with `resume`: continuing the run in dir
  bool has_checkpoint() const;  // last.state.safetensors or last.safetensors exists
  // The model metadata of the latest checkpoint ({"model": ..., "config": ..., "step": ...}),
  // from last.state.safetensors (the file a resume reads).
  std::map<std::string, std::string> checkpoint_metadata() const;
  // Deleted *.tmp.<pid> files at construction (counted, for the tests).
  int stale_temporaries_removed() const { return stale_removed_; }

  // "last": the checkpoint (the state file with the weights, then last.safetensors); "best": the
  // weights alone, as best.safetensors. `model_meta`: e.g. {"model": "hourglass", "config": "..."}.
  void save(const std::string& name, Module& model, const std::map<std::string, std::string>& model_meta,
            const Optimizer& opt, const LRScheduler* sched, const ReduceLROnPlateau* plateau,
            const TrainState& state) const;
  // Loads the checkpoint "last" back into model, optimizer and scheduler; returns the state.
  // (A folder of the older two-file format, whose state file holds no weights, loads too when the
  // two files are from the same step.)
  TrainState load(const std::string& name, Module& model, Optimizer& opt, LRScheduler* sched,
                  ReduceLROnPlateau* plateau) const;

 private:
  void check_folder(bool resume);  // the stale temporaries and the refusals, under the lock
  std::string dir_;
  bool resumed_ = false;
  int lock_fd_ = -1;
  int stale_removed_ = 0;
};

// A CSV file with a fixed header and one row per call, each row one write(2) of a whole line, so a
// run killed at any moment leaves a readable log (at worst a torn last line, without its newline).
// A failed write (a full disk) throws naming the file: a log never stops silently. The file is
// started atomically: a new log is the header; with `append` (resume), the header and the complete
// rows whose step (column "step") is <= `keep_until_step` (the checkpoint's step), so the log
// matches the resumed run; rows after it and a torn last line are dropped. A missing or empty file
// on resume starts a new log. A header that differs is refused.
class CsvLog {
 public:
  CsvLog(const std::string& path, const std::vector<std::string>& columns, bool append = false,
         int64_t keep_until_step = -1);
  ~CsvLog();
  CsvLog(const CsvLog&) = delete;
  CsvLog& operator=(const CsvLog&) = delete;
  void row(const std::vector<double>& values);

 private:
  std::string path_;
  size_t ncols_;
  int fd_ = -1;
};

// A CSV field as RFC 4180 writes it: as is when it holds no comma, quote, CR or LF; otherwise in
// double quotes with each quote doubled. (File names from list files may hold any of them.)
std::string csv_field(const std::string& s);

}  // namespace ff
