// train/fit.cpp — the training loop (see fit.h).
#include "train/fit.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "train/progress.h"

namespace ff {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
}  // namespace

TrainState start_state(const RunDir& run, Trainee& t, uint64_t seed) {
  if (run.resumed()) return run.load("last", t.model, t.optimizer, t.schedule, t.plateau);
  TrainState st;
  st.rng_seed = seed;
  return st;
}

FitResult fit(const std::string& name, RunDir& run, Trainee& t, Loader& loader, const FitHooks& hooks,
              const FitOptions& o, TrainState& st) {
  FF_CHECK(hooks.loss && hooks.validate, name, ": fit needs a loss and a validate hook");
  FF_CHECK(o.epochs >= 1, name, ": --epochs must be at least 1, got ", o.epochs);
  FF_CHECK(o.log_every >= 0 && o.save_every >= 0, name, ": --log-every and --save-every must be >= 0, got ",
           o.log_every, " and ", o.save_every);
  const int64_t per_epoch = loader.batches_per_epoch();
  FF_CHECK(per_epoch >= 1, name, ": the training set makes no full batch");
  CsvLog log(run.path("log.csv"), {"epoch", "step", "loss", "lr", "images_per_s"}, run.resumed(), st.step);
  const int64_t remaining = std::max<int64_t>(0, (o.epochs - st.epoch) * per_epoch - st.batch_in_epoch);
  Progress progress(name, std::max<int64_t>(remaining, 1), "steps");
  auto save = [&](const char* which) { run.save(which, t.model, t.metadata, t.optimizer, t.schedule, t.plateau, st); };

  FitResult r;
  r.first_step = st.step;
  const auto t_call = Clock::now();
  double images = 0;
  int64_t log_every = o.log_every;
  auto finish = [&] {
    r.steps = st.step;
    r.best_metric = st.best_metric;
    r.seconds = since(t_call);
    r.images_per_s = r.train_seconds > 0 ? images / r.train_seconds : 0.0;
    return r;
  };

  for (int64_t epoch = st.epoch; epoch < o.epochs; ++epoch) {
    t.model.train();
    loader.start_epoch(epoch, st.batch_in_epoch);
    const auto t_epoch = Clock::now();
    double epoch_images = 0, epoch_seconds = 0;
    // The logging interval in progress: its losses summed on their device, read once at its end.
    Tensor pending;
    int64_t pending_steps = 0;
    double pending_images = 0;
    auto t_interval = Clock::now();
    Batch b;
    double epoch_wait = 0;  // seconds the loop spent waiting in loader.next: data not ready
    auto t_wait = Clock::now();
    while (loader.next(&b)) {
      epoch_wait += since(t_wait);
      const int64_t step = st.step + 1;
      if (step == o.nan_at_step)
        b.images = Tensor::full(b.images.shape(), std::numeric_limits<double>::quiet_NaN(), b.images.dtype(),
                                b.images.device());
      Tensor loss = hooks.loss(b, step);
      FF_CHECK(loss.defined() && loss.numel() == 1, name, ": the loss hook must return one value, got ",
               loss.defined() ? loss.str() : std::string("an undefined tensor"));
      if (log_every == 0) log_every = loss.device().is_cpu() ? 1 : 10;
      {
        NoGradGuard no_grad;
        const Tensor l = loss.detach();
        pending = pending.defined() ? add(pending, l) : l;
      }
      ++pending_steps;
      pending_images += static_cast<double>(b.size());
      // Not on an epoch's last batch: the epoch's end checkpoints right after its rows (val.csv,
      // epochs.csv), and a checkpoint at that step before them would make a resume write them twice.
      const bool saves = o.save_every > 0 && step % o.save_every == 0 && st.batch_in_epoch + 1 < per_epoch;
      const bool stops = o.stop_after_steps >= 0 && step >= o.stop_after_steps;
      const bool logs = step % log_every == 0 || st.batch_in_epoch + 1 == per_epoch || saves || stops;
      t.optimizer.zero_grad();
      loss.backward();
      t.optimizer.step();
      st.step = step;
      st.batch_in_epoch += 1;
      if (logs) {
        // The interval's one host read, after the step is enqueued: on a GPU the backward and the
        // update are queued before the host waits, and nothing else in the step reads back.
        const double sum = pending.item();
        const double mean = sum / static_cast<double>(pending_steps);
        FF_CHECK(std::isfinite(mean), name, " (epoch ", epoch + 1, "): the loss is ", mean, " at step ", step,
                 pending_steps > 1 ? " (the mean of steps " + std::to_string(step - pending_steps + 1) + " to " +
                                         std::to_string(step) + ", read once per logging interval)"
                                   : std::string(),
                 run.has_checkpoint() ? "; stopping (the last checkpoint, from an earlier step, is intact)."
                                      : "; stopping (no checkpoint has been written yet).",
                 " On CUDA a class label "
                 "outside the classifier's range also gives NaN: FF_CHECK_DEVICE_LABELS=1 checks every op's labels");
        st.scalars["epoch_loss_sum"] += sum;
        const double secs = since(t_interval);
        const double rate = pending_images / std::max(secs, 1e-9);
        log.row({static_cast<double>(epoch + 1), static_cast<double>(step), mean, t.optimizer.lr(0), rate});
        r.losses.push_back(mean);
        r.loss_steps.push_back(step);
        epoch_images += pending_images;
        epoch_seconds += secs;
        if (o.progress) {
          char line[160];
          std::snprintf(line, sizeof line, "epoch %lld/%lld  step %lld  loss %.5f  lr %.3g  %.1f img/s",
                        static_cast<long long>(epoch + 1), static_cast<long long>(o.epochs),
                        static_cast<long long>(step), mean, t.optimizer.lr(0), rate);
          progress.update(st.step - r.first_step, line);
        }
        if (o.on_report) {
          FitReport rep;
          rep.epoch = epoch + 1;
          rep.epochs = o.epochs;
          rep.step = step;
          rep.steps_done = st.step - r.first_step;
          rep.steps_total = remaining;
          rep.loss = mean;
          rep.lr = t.optimizer.lr(0);
          rep.images_per_s = rate;
          o.on_report(rep);
        }
        pending = Tensor();
        pending_steps = 0;
        pending_images = 0;
        t_interval = Clock::now();
      }
      if (saves || stops) save("last");
      if (stops) {
        images += epoch_images;
        r.train_seconds += epoch_seconds;
        r.stopped_early = true;
        return finish();
      }
      t_wait = Clock::now();
    }

    FitEpoch e;
    e.epoch = epoch + 1;
    e.step = st.step;
    e.train_loss = st.scalars["epoch_loss_sum"] / static_cast<double>(std::max<int64_t>(1, st.batch_in_epoch));
    e.lr = t.optimizer.lr(0);
    e.train_seconds = epoch_seconds;
    e.data_wait_seconds = epoch_wait;
    e.images_per_s = epoch_seconds > 0 ? epoch_images / epoch_seconds : 0.0;
    const auto t_val = Clock::now();
    const EpochMetric m = hooks.validate(e);
    e.validation_seconds = since(t_val);
    e.seconds = since(t_epoch);
    e.metric = m.value;
    FF_CHECK(std::isfinite(m.value), name, ": the validation metric is ", m.value, " after epoch ", epoch + 1,
             run.has_checkpoint() ? "; stopping (the last checkpoint, from an earlier step, is intact)"
                                  : "; stopping (no checkpoint has been written yet)");
    e.improved = !st.has_best || (m.higher_is_better ? m.value > st.best_metric : m.value < st.best_metric);
    if (t.schedule) t.schedule->step();
    if (t.plateau) t.plateau->step(m.higher_is_better ? -m.value : m.value);
    st.epoch = epoch + 1;
    st.batch_in_epoch = 0;
    st.scalars["epoch_loss_sum"] = 0;
    if (e.improved) {
      st.best_metric = m.value;
      st.has_best = true;
    }
    // The epoch's rows and reports, then best, then the checkpoint: whatever a kill interrupts is
    // newer than the checkpoint, and the resumed run writes it again (train/run.h).
    if (hooks.on_epoch_end) hooks.on_epoch_end(e);
    if (o.on_report) {
      FitReport rep;
      rep.epoch = e.epoch;
      rep.epochs = o.epochs;
      rep.step = e.step;
      rep.steps_done = st.step - r.first_step;
      rep.steps_total = remaining;
      rep.loss = e.train_loss;
      rep.lr = e.lr;
      rep.images_per_s = e.images_per_s;
      rep.epoch_end = true;
      rep.metric = e.metric;
      rep.improved = e.improved;
      o.on_report(rep);
    }
    if (e.improved) save("best");
    save("last");
    images += epoch_images;
    r.train_seconds += epoch_seconds;
    r.validation_seconds += e.validation_seconds;
    r.epochs.push_back(e);
  }
  return finish();
}

}  // namespace ff
