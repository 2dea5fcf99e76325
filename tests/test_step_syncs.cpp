// tests/test_step_syncs.cpp — host synchronisations inside a training step (docs/design.md, "CUDA
// review: synchronisation in the training step"). On a CUDA device (a GPU, or the emulated runtime
// of -DFF_CUDA_EMU=ON): one step of each network, run by the real training loop (train/fit.h's
// fit, its loader with pinned batches, checkpoints and all), after a warm-up step, performs zero
// host synchronisations, counted by the engine (cudart::host_syncs) and, under the emulator, by the
// emulated runtime itself (cudaemu::stats().host_syncs, which sees every blocking CUDA call,
// including any the engine forgot to count); the step that ends the logging interval performs
// exactly one (the loss read). The benchmarks' train_step (bench/net_steps.h) reads nothing back
// either. Also the pieces: a pinned upload does not synchronise and leaves its
// event with the host block, a pageable one does; the CUDA losses do not read labels back unless
// asked to. The loader's side of the guard (it waits for the upload before it reuses a buffer) is
// checked on the CPU in tests/test_loader.cpp.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <functional>
#include <memory>
#include <string>

#include "bench/net_steps.h"
#include "engine/checks.h"
#include "engine/ops.h"
#include "engine/ops_geometry.h"
#include "face/landmarks.h"
#include "layers/heads.h"
#include "models/factory.h"
#include "models/hourglass.h"
#include "models/resnet.h"
#include "tests/test_util.h"
#include "train/fit.h"

#ifdef FF_HAS_CUDA
#include "engine/cuda_runtime.h"
#endif
#ifdef FF_CUDA_EMU
#include "cudaemu/cudaemu.h"
#endif

namespace ff::test {
namespace {

// Host synchronisations so far: the engine's count, and the emulated runtime's (-1 off the emulator).
struct Syncs {
  int64_t engine = 0, emulated = -1;
  bool reached = false;  // set when taken
};
Syncs syncs_now() {
  Syncs s;
  s.reached = true;
#ifdef FF_HAS_CUDA
  s.engine = cudart::host_syncs();
#endif
#ifdef FF_CUDA_EMU
  s.emulated = cudaemu::stats().host_syncs;
#endif
  return s;
}

constexpr int64_t kBatch = 2, kSteps = 3;  // step 1 warms up, step 2 is measured, step 3 reads the loss

// Runs fit for one epoch of kSteps batches made by `make` (pinned, made on the calling thread),
// with `loss` as the loss hook, and returns the sync counts at the start of each step's loss hook
// (index 1..kSteps) and at the validation after the last step (index kSteps + 1). The hook is
// called right after loader.next(), so [at[s], at[s + 1]) is step s's loss, backward, update and
// the loader's next batch: all of fit's work for one step.
std::array<Syncs, kSteps + 2> run_fit(const std::string& name, Module& model, const std::vector<Tensor*>& params,
                                      Loader::MakeSample make, std::function<Tensor(const Batch&, int64_t)> loss,
                                      int64_t num_classes, bool* batches_pinned, std::vector<double>* losses) {
  std::array<Syncs, kSteps + 2> at{};
  TempDir dir("ff_step_syncs");
  RunDir run(dir.str("run"), false);
  SGDOptions so;
  so.lr = 1e-4;
  so.momentum = 0.9;
  so.weight_decay = 5e-4;
  SGD opt(params, so);
  Trainee trainee{model, opt, nullptr, nullptr, {{"model", "step-syncs"}}};
  LoaderOptions lo;
  lo.batch_size = kBatch;
  lo.shuffle = false;
  lo.workers = 0;  // samples made inside loader.next(), i.e. inside the measured window
  lo.pin_memory = true;
  lo.num_classes = num_classes;
  Loader loader(kBatch * kSteps, std::move(make), lo);
  FitHooks hooks;
  *batches_pinned = true;
  hooks.loss = [&](const Batch& b, int64_t step) {
    at[static_cast<size_t>(step)] = syncs_now();
    *batches_pinned = *batches_pinned && b.images.impl()->storage->pinned && b.labels.impl()->storage->pinned;
    return loss(b, step);
  };
  hooks.validate = [&](const FitEpoch&) {
    at[kSteps + 1] = syncs_now();
    return EpochMetric{0.0, false};
  };
  FitOptions fo;
  fo.epochs = 1;
  fo.log_every = 100;  // one interval: the loss is read once, at the epoch's last step
  fo.progress = false;
  TrainState st = start_state(run, trainee, 1);
  FitResult r = fit(name, run, trainee, loader, hooks, fo, st);
  EXPECT_EQ(r.steps, kSteps) << name;
  EXPECT_EQ(r.losses.size(), 1u) << name << ": the loss must be read once, at the interval's end";
  *losses = r.losses;
  return at;
}

void expect_sync_free_step(const std::string& name, const std::array<Syncs, kSteps + 2>& at, bool pinned) {
  ASSERT_TRUE(pinned) << name << ": the loader's batch buffers are not page-locked (cudaHostRegister refused), "
                      << "so their uploads would be synchronous";
  EXPECT_EQ(at[3].engine - at[2].engine, 0) << name << ": host synchronisations in training step 2 (engine count)";
  EXPECT_EQ(at[4].engine - at[3].engine, 1) << name << ": step 3 ends the logging interval: one read, the loss";
#ifdef FF_CUDA_EMU
  EXPECT_EQ(at[3].emulated - at[2].emulated, 0)
      << name << ": host synchronisations in training step 2 (the emulated runtime's count)";
  EXPECT_GE(at[4].emulated - at[3].emulated, 1) << name << ": the loss read at step 3 must be seen by the emulator";
#endif
  auto per_step = [&](int64_t Syncs::*count) {
    return std::to_string(at[2].*count - at[1].*count) + ", step 2 " + std::to_string(at[3].*count - at[2].*count) +
           ", step 3 (loss read) " + std::to_string(at[4].*count - at[3].*count);
  };
  std::printf("%s: host synchronisations per step, engine count: warm-up %s%s\n", name.c_str(),
              per_step(&Syncs::engine).c_str(),
              at[1].emulated >= 0 ? ("; emulated runtime: warm-up " + per_step(&Syncs::emulated)).c_str() : "");
}

// One epoch of the small hourglass on `dev` (what face/landmark_train.cpp's loss hook does: MSE of
// every stack against heatmaps rendered from the batch's points). Returns run_fit's counts.
std::array<Syncs, kSteps + 2> hourglass_epoch(Device dev, bool* pinned, std::vector<double>* losses) {
  Rng init(1);
  const HourglassConfig cfg = HourglassConfig::small();
  StackedHourglass net(cfg, init);
  net.to(dev);
  const int64_t H = cfg.input_size / 4;
  const double sigma = 2.0 * static_cast<double>(H) / 64.0, fg_weight = 1.0;
  auto make = [&](int64_t, Rng& rng) {
    Sample s;
    s.image = Tensor::empty({3, cfg.input_size, cfg.input_size});
    uniform_(s.image, -1, 1, rng);
    s.points = Tensor::empty({cfg.landmarks, 2});
    uniform_(s.points, 4, static_cast<double>(H - 4), rng);
    return s;
  };
  auto loss = [&](const Batch& b, int64_t) {
    Tensor target = render_heatmaps(b.points.to(dev), H, H, sigma);
    return heatmap_loss(net.forward_all(b.images.to(dev)), target, fg_weight);
  };
  return run_fit("hourglass small", net, net.parameters(), make, loss, 0, pinned, losses);
}

// The embedding network with its ArcFace head as one module, as face/embed_train.cpp trains it.
class EmbedWithHead : public EmbeddingNet {
 public:
  EmbedWithHead(const EmbeddingConfig& cfg, int64_t classes, Rng& rng) : EmbeddingNet(cfg, rng) {
    head_ = register_module("head", std::make_shared<ArcFaceHead>(classes, cfg.embedding_dim, rng));
  }
  ArcFaceHead& head() { return *head_; }

 private:
  std::shared_ptr<ArcFaceHead> head_;
};

// One epoch of the small embedding network with the fused ArcFace head on `dev` (what
// face/embed_train.cpp's loss hook does: dropout reseeded per step, labels checked by the loader).
std::array<Syncs, kSteps + 2> embedding_epoch(Device dev, bool* pinned, std::vector<double>* losses) {
  Rng init(2);
  const EmbeddingConfig cfg = EmbeddingConfig::small();
  const int64_t classes = 10;
  EmbedWithHead model(cfg, classes, init);
  model.to(dev);
  const int64_t size = cfg.resnet.input_size;
  auto make = [&](int64_t item, Rng& rng) {
    Sample s;
    s.image = Tensor::empty({3, size, size});
    uniform_(s.image, -1, 1, rng);
    s.label = item % classes;
    return s;
  };
  auto loss = [&](const Batch& b, int64_t step) {
    model.dropout_rng().set_state(derive_seed(7, {static_cast<uint64_t>(step - 1)}), 0);
    return model.head().forward(model.forward(b.images.to(dev)), b.labels.to(dev));
  };
  return run_fit("embedding small + ArcFace", model, model.parameters(), make, loss, classes, pinned, losses);
}

using Epoch = std::array<Syncs, kSteps + 2> (*)(Device, bool*, std::vector<double>*);
void expect_sync_free_epoch_on_cuda(const std::string& name, Epoch epoch) {
  bool pinned = false;
  std::vector<double> losses;
  const auto at = epoch(Device::cuda(), &pinned, &losses);
  expect_sync_free_step(name, at, pinned);
}

TEST(StepSyncsCuda, HourglassTrainingStepDoesNotSynchronise) {
  FF_SKIP_WITHOUT_CUDA("host synchronisations of a hourglass training step");
  expect_sync_free_epoch_on_cuda("hourglass small", hourglass_epoch);
}

TEST(StepSyncsCuda, EmbeddingArcFaceTrainingStepDoesNotSynchronise) {
  FF_SKIP_WITHOUT_CUDA("host synchronisations of an embedding + ArcFace training step");
  expect_sync_free_epoch_on_cuda("embedding small + ArcFace", embedding_epoch);
}

// The harness itself, on the CPU (where nothing synchronises): both epochs run through fit, every
// step's hook is reached, and the one loss read gives a finite loss.
TEST(StepSyncs, HarnessRunsBothNetworksThroughFitOnTheCpu) {
  for (int net = 0; net < 2; ++net) {
    bool pinned = false;
    std::vector<double> losses;
    auto at = net == 0 ? hourglass_epoch(Device::cpu(), &pinned, &losses) : embedding_epoch(Device::cpu(), &pinned, &losses);
    ASSERT_EQ(losses.size(), 1u) << net;
    EXPECT_TRUE(std::isfinite(losses[0]) && losses[0] > 0) << net << ": loss " << losses[0];
    for (size_t i = 1; i < at.size(); ++i) EXPECT_TRUE(at[i].reached) << net << ": window point " << i << " never reached";
  }
}

#ifdef FF_HAS_CUDA
// bench/net_steps.h promises that its train_step reads nothing back (the GPU benchmarks time it
// with events): one step after a warm-up, both networks.
TEST(StepSyncsCuda, BenchmarkTrainStepReadsNothingBack) {
  FF_SKIP_WITHOUT_CUDA("host synchronisations of the benchmarks' train_step");
  for (const auto& [kind, config] : {std::pair<std::string, std::string>{"hourglass", HourglassConfig::small().str()},
                                     {"embedding", EmbeddingConfig::small().str()}}) {
    bench::NetSteps steps(kind, config, kBatch, 10, Device::cuda());
    steps.train_step();  // warm-up
    const Syncs before = syncs_now();
    steps.train_step();
    const Syncs after = syncs_now();
    EXPECT_EQ(after.engine - before.engine, 0) << kind << ": NetSteps::train_step synchronised (engine count)";
#ifdef FF_CUDA_EMU
    EXPECT_EQ(after.emulated - before.emulated, 0) << kind << ": NetSteps::train_step synchronised (emulated runtime)";
#endif
  }
}

// The copy paths one by one: a pinned upload is queued with its event kept by the host block, a
// pageable one waits; a read to the host waits.
TEST(StepSyncsCuda, PinnedUploadIsAsynchronousAndGuarded) {
  FF_SKIP_WITHOUT_CUDA("asynchronous uploads from pinned memory");
  const Device dev = Device::cuda();
  LoaderOptions lo;
  lo.batch_size = 4;
  lo.workers = 0;
  lo.shuffle = false;
  Loader loader(8, [](int64_t item, Rng&) {
    Sample s;
    s.image = Tensor::full({2, 3, 3}, static_cast<double>(item));
    return s;
  }, lo);
  Batch b;
  ASSERT_TRUE(loader.next(&b));
  Storage& host = *b.images.impl()->storage;
  ASSERT_TRUE(host.pinned) << "the loader did not page-lock its batch buffer";
  EXPECT_EQ(host.readers, nullptr);
  int64_t before = cudart::host_syncs();
  Tensor d = b.images.to(dev);
  EXPECT_EQ(cudart::host_syncs() - before, 0) << "an upload from pinned memory must not synchronise";
  ASSERT_NE(host.readers, nullptr) << "the upload must leave its event with the host block";
  host.wait_for_readers();
  EXPECT_EQ(host.readers, nullptr);
  expect_close(d, b.images, 0, 0, "pinned upload");

  Tensor pageable = Tensor::full({5}, 3.0);
  before = cudart::host_syncs();
  Tensor p = pageable.to(dev);
  EXPECT_EQ(cudart::host_syncs() - before, 1) << "an upload from pageable memory waits for the copy";
  EXPECT_EQ(pageable.impl()->storage->readers, nullptr);
  before = cudart::host_syncs();
  EXPECT_EQ(p.cpu().data<float>()[4], 3.0f);
  EXPECT_EQ(cudart::host_syncs() - before, 1) << "a read to the host is one synchronisation";
}

// The CUDA losses do not read their labels back (no synchronisation), unless asked to.
TEST(StepSyncsCuda, DeviceLossesDoNotReadLabelsBack) {
  FF_SKIP_WITHOUT_CUDA("label checks of the CUDA losses");
  const Device dev = Device::cuda();
  ASSERT_FALSE(check_device_labels()) << "FF_CHECK_DEVICE_LABELS=1 is set: this test checks the default";
  Tensor cos = Tensor::full({4, 6}, 0.1, DType::F32, dev), labels = Tensor::from_vector<int64_t>({0, 5, 2, 3}, {4}).to(dev);
  const int64_t before = cudart::host_syncs();
  Tensor a = arcface_loss(cos, labels, 45, 0.1), u = arcface_loss_unfused(cos, labels, 45, 0.1), c = cross_entropy(cos, labels);
  EXPECT_EQ(cudart::host_syncs() - before, 0) << "the CUDA losses read their labels back";
  EXPECT_NEAR(a.item(), u.item(), 1e-4);
}
#endif

}  // namespace
}  // namespace ff::test
