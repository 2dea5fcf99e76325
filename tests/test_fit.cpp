// tests/test_fit.cpp — the training loop (train/fit.h) on a toy task (a linear classifier of
// random vectors, 5 steps per epoch): reading the loss once per logging interval trains exactly as
// reading it every step and logs the intervals' means; a NaN is caught at its interval's read with
// the last checkpoint intact; the metric's direction picks "best" and drives the plateau; a run
// stopped mid-epoch and resumed is the uninterrupted run bit for bit; hooks are called once per
// epoch, before the checkpoints; bad hooks and metrics are refused.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "engine/ops.h"
#include "engine/safetensors.h"
#include "layers/basic.h"
#include "tests/test_util.h"
#include "train/fit.h"

namespace ff::test {
namespace {

constexpr int64_t kItems = 40, kBatch = 8;  // 5 steps per epoch

// Rows of RUN/log.csv as (step, loss).
std::vector<std::pair<int64_t, double>> log_rows(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  EXPECT_EQ(line, "epoch,step,loss,lr,images_per_s");
  std::vector<std::pair<int64_t, double>> rows;
  while (std::getline(f, line)) {
    std::stringstream ss(line);
    std::string epoch, step, loss;
    std::getline(ss, epoch, ',');
    std::getline(ss, step, ',');
    std::getline(ss, loss, ',');
    rows.emplace_back(std::stoll(step), std::stod(loss));
  }
  return rows;
}

// One toy run: everything fit needs, built the same way for every call.
struct ToyRun {
  Rng init{3};
  Linear model{4, 3, true, init};
  SGD opt{model.parameters(), [] {
            SGDOptions o;
            o.lr = 0.1;
            o.momentum = 0.9;
            return o;
          }()};
  ReduceLROnPlateau plateau{opt, 0.5, 0};
  Trainee trainee{model, opt, nullptr, &plateau, {{"model", "toy"}}};
  Loader loader{kItems,
                [](int64_t i, Rng& rng) {
                  Sample s;
                  std::vector<float> v(4);
                  for (float& x : v) x = static_cast<float>(rng.uniform(-1, 1));
                  s.label = i % 3;
                  v[static_cast<size_t>(s.label)] += 1.0f;  // learnable
                  s.image = Tensor::from_vector(v, {4, 1, 1});
                  return s;
                },
                [] {
                  LoaderOptions o;
                  o.batch_size = kBatch;
                  o.seed = 5;
                  o.workers = 1;
                  return o;
                }()};
  std::vector<double> metrics = {0.2, 0.5, 0.4, 0.6};  // validate returns these in turn
  bool higher_is_better = true;
  std::vector<FitEpoch> seen;  // on_epoch_end's arguments
  std::vector<double> validated_train_loss;

  FitHooks hooks() {
    FitHooks h;
    h.loss = [this](const Batch& b, int64_t) {
      return cross_entropy(model.forward(b.images.reshape({b.size(), 4})), b.labels);
    };
    h.validate = [this](const FitEpoch& e) {
      validated_train_loss.push_back(e.train_loss);
      return EpochMetric{metrics[static_cast<size_t>(e.epoch - 1)], higher_is_better};
    };
    h.on_epoch_end = [this](const FitEpoch& e) { seen.push_back(e); };
    return h;
  }
  FitResult run(const std::string& dir, bool resume, const FitOptions& o) {
    RunDir rd(dir, resume);
    TrainState st = start_state(rd, trainee, 1);
    return fit("toy", rd, trainee, loader, hooks(), o, st);
  }
};

FitOptions options(int64_t epochs, int64_t log_every) {
  FitOptions o;
  o.epochs = epochs;
  o.log_every = log_every;
  o.progress = false;
  return o;
}

std::vector<std::vector<double>> weights(const std::string& path) {
  std::vector<std::vector<double>> w;
  for (auto& [name, t] : read_safetensors(path).tensors) w.push_back(t.to_vector<double>());
  return w;
}

TEST(Fit, LossReadOncePerIntervalTrainsTheSameAndLogsIntervalMeans) {
  TempDir dir;
  ToyRun every, interval;
  FitResult a = every.run(dir.str("every"), false, options(2, 0));  // CPU: 0 means every step
  FitResult b = interval.run(dir.str("interval"), false, options(2, 3));
  ASSERT_EQ(a.losses.size(), 10u);
  EXPECT_EQ(a.loss_steps, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  // Rows every 3 steps and at each epoch's end (steps 5 and 10).
  EXPECT_EQ(b.loss_steps, (std::vector<int64_t>{3, 5, 6, 9, 10}));
  const std::vector<std::vector<int>> spans = {{1, 2, 3}, {4, 5}, {6}, {7, 8, 9}, {10}};
  for (size_t i = 0; i < spans.size(); ++i) {
    double mean = 0;
    for (int s : spans[i]) mean += a.losses[static_cast<size_t>(s - 1)] / static_cast<double>(spans[i].size());
    EXPECT_NEAR(b.losses[i], mean, 1e-6 * mean) << "interval " << i;  // a float32 sum on the device
  }
  EXPECT_EQ(weights(dir.str("every/last.safetensors")), weights(dir.str("interval/last.safetensors")))
      << "reading the loss less often must not change training";
  ASSERT_EQ(log_rows(dir.str("interval/log.csv")).size(), 5u);
  EXPECT_EQ(log_rows(dir.str("interval/log.csv"))[3].first, 9);
  // The epoch figures are computed once, from the same sums, whatever the interval.
  ASSERT_EQ(a.epochs.size(), 2u);
  for (size_t e = 0; e < 2; ++e) {
    double mean = 0;
    for (size_t s = 5 * e; s < 5 * e + 5; ++s) mean += a.losses[s] / 5;
    EXPECT_NEAR(a.epochs[e].train_loss, mean, 1e-12);
    EXPECT_NEAR(b.epochs[e].train_loss, mean, 1e-6 * mean);
    EXPECT_EQ(a.epochs[e].step, static_cast<int64_t>(5 * e + 5));
    EXPECT_GT(a.epochs[e].images_per_s, 0);
  }
  EXPECT_EQ(a.steps, 10);
  EXPECT_GT(a.images_per_s, 0);
}

TEST(Fit, NanIsCaughtAtTheIntervalsReadAndTheCheckpointStaysGood) {
  TempDir dir;
  ToyRun r;
  FitOptions o = options(3, 4);
  o.nan_at_step = 7;  // epoch 2; read at step 8, the checkpoint of epoch 1 (step 5) is the last
  try {
    r.run(dir.str("run"), false, o);
    FAIL() << "a NaN loss must stop the run";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("at step 8 (the mean of steps 6 to 8"), std::string::npos) << msg;
    EXPECT_NE(msg.find("nan"), std::string::npos) << msg;
    EXPECT_NE(msg.find("; stopping (the last checkpoint, from an earlier step, is intact)."), std::string::npos) << msg;
  }
  SafeTensors last = read_safetensors(dir.str("run/last.safetensors"));
  EXPECT_EQ(last.metadata.at("step"), "5");
  for (auto& [name, t] : last.tensors)
    for (double v : t.to_vector<double>()) ASSERT_TRUE(std::isfinite(v)) << name;
  // A checkpoint inside the interval forces the read first: save_every 6 reads at step 6 (fine)
  // and the NaN of step 7 is caught at step 8, never saved.
  ToyRun s;
  o.save_every = 6;
  EXPECT_THROW(s.run(dir.str("saves"), false, o), Error);
  EXPECT_EQ(read_safetensors(dir.str("saves/last.safetensors")).metadata.at("step"), "6");
  EXPECT_EQ(log_rows(dir.str("saves/log.csv")).back().first, 6);
  // A NaN before the first checkpoint says that there is none (review #27: it claimed one intact).
  ToyRun early;
  o.save_every = 0;
  o.nan_at_step = 2;  // read at step 4; the first checkpoint would be epoch 1's, at step 5
  try {
    early.run(dir.str("early"), false, o);
    FAIL() << "a NaN loss must stop the run";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("at step 4"), std::string::npos) << msg;
    EXPECT_NE(msg.find("; stopping (no checkpoint has been written yet)."), std::string::npos) << msg;
    EXPECT_EQ(msg.find("is intact"), std::string::npos) << msg;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.str("early/last.state.safetensors")));
}

TEST(Fit, MetricDirectionPicksBestAndDrivesThePlateau) {
  TempDir dir;
  ToyRun hi;
  FitResult r = hi.run(dir.str("hi"), false, options(4, 0));
  ASSERT_EQ(hi.seen.size(), 4u);
  EXPECT_TRUE(hi.seen[0].improved);
  EXPECT_TRUE(hi.seen[1].improved);
  EXPECT_FALSE(hi.seen[2].improved);
  EXPECT_TRUE(hi.seen[3].improved);
  EXPECT_DOUBLE_EQ(r.best_metric, 0.6);
  EXPECT_EQ(read_safetensors(dir.str("hi/best.safetensors")).metadata.at("step"), "20");
  EXPECT_DOUBLE_EQ(hi.plateau.best(), -0.6) << "the plateau minimises: a higher-is-better metric goes in negated";
  // The lr logged for an epoch is the one it trained with: the plateau (patience 0) halved it after
  // epoch 3, so epoch 4 trained at half the rate.
  EXPECT_DOUBLE_EQ(hi.seen[2].lr, 0.1);
  EXPECT_DOUBLE_EQ(hi.seen[3].lr, 0.05);

  ToyRun lo;
  lo.higher_is_better = false;
  FitResult q = lo.run(dir.str("lo"), false, options(4, 0));
  EXPECT_DOUBLE_EQ(q.best_metric, 0.2);
  EXPECT_FALSE(lo.seen[1].improved);
  EXPECT_EQ(read_safetensors(dir.str("lo/best.safetensors")).metadata.at("step"), "5");
  EXPECT_DOUBLE_EQ(lo.plateau.best(), 0.2);
}

TEST(Fit, StopAndResumeIsTheUninterruptedRun) {
  TempDir dir;
  ToyRun straight;
  FitResult s = straight.run(dir.str("a"), false, options(3, 2));
  ToyRun first;
  FitOptions o = options(3, 2);
  o.stop_after_steps = 8;  // epoch 2, its third step; a logging step, so the two logs' intervals agree
  FitResult p1 = first.run(dir.str("b"), false, o);
  EXPECT_TRUE(p1.stopped_early);
  EXPECT_EQ(p1.steps, 8);
  EXPECT_EQ(first.seen.size(), 1u);
  ToyRun second;  // a fresh process: everything rebuilt, then resumed from the folder
  o.stop_after_steps = -1;
  FitResult p2 = second.run(dir.str("b"), true, o);
  EXPECT_EQ(p2.first_step, 8);
  EXPECT_EQ(weights(dir.str("a/last.safetensors")), weights(dir.str("b/last.safetensors")));
  EXPECT_EQ(log_rows(dir.str("a/log.csv")), log_rows(dir.str("b/log.csv")));
  // The resumed epoch's mean loss covers its steps before the interruption too.
  ASSERT_EQ(second.validated_train_loss.size(), 2u);
  EXPECT_EQ(second.validated_train_loss[0], straight.validated_train_loss[1]);
  EXPECT_EQ(second.seen.back().train_loss, straight.seen.back().train_loss);
  EXPECT_EQ(p2.best_metric, s.best_metric);
}

TEST(Fit, RefusesBadHooksAndNonFiniteMetrics) {
  TempDir dir;
  {
    ToyRun r;
    r.metrics = {0.2, std::numeric_limits<double>::quiet_NaN(), 0.1, 0.1};
    try {
      r.run(dir.str("nan_metric"), false, options(3, 0));
      FAIL() << "a NaN metric must stop the run";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("after epoch 2"), std::string::npos) << e.what();
    }
    EXPECT_EQ(read_safetensors(dir.str("nan_metric/last.safetensors")).metadata.at("step"), "5");
  }
  {
    ToyRun r;
    RunDir rd(dir.str("bad_loss"), false);
    TrainState st = start_state(rd, r.trainee, 1);
    FitHooks h = r.hooks();
    h.loss = [&](const Batch& b, int64_t) { return r.model.forward(b.images.reshape({b.size(), 4})); };
    try {
      fit("toy", rd, r.trainee, r.loader, h, options(1, 0), st);
      FAIL() << "a loss of several values must be refused";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("one value"), std::string::npos) << e.what();
    }
    FitHooks none;
    EXPECT_THROW(fit("toy", rd, r.trainee, r.loader, none, options(1, 0), st), Error);
  }
}

}  // namespace
}  // namespace ff::test
