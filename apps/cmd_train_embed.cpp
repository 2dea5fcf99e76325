// apps/cmd_train_embed.cpp — `faceforge train-embed`: trains the face-embedding network (ResNet +
// ArcFace or softmax head) on faces aligned by their landmarks (face/embed.h), e.g.
//   faceforge synth --out data/synth --identities 40 --per-identity 12 --size 128
//   faceforge train-embed --data data/synth --out runs/emb --head arcface --epochs 10
//   faceforge train-embed --out runs/emb --resume          # continues where it stopped
//   faceforge eval-embed --data data/synth --model runs/emb/best.safetensors
#include <iostream>
#include <memory>

#include "apps/commands.h"
#include "apps/gpu_flags.h"
#include "engine/error.h"
#include "models/resnet.h"
#include "face/embed.h"

namespace {

ff::app::Command reg("train-embed", "Train the face-embedding network (ArcFace or softmax head) on aligned faces",
                     [](CLI::App& sub) {
  auto o = std::make_shared<ff::EmbedTrainOptions>();
  auto no_augment = std::make_shared<bool>(false);
  sub.footer(
      "Faces are aligned by their five landmarks (list_landmarks_celeba.txt, or --landmarks-model) to\n"
      "insightface's template at the config's input size, in one warp together with the training\n"
      "augmentation (flip, small rotation/scale/shift), then colour jitter.\n"
      "Writes RUN/log.csv (every step), RUN/epochs.csv (validation each epoch),\n"
      "RUN/last.state.safetensors (the one checkpoint --resume reads), RUN/last.safetensors and\n"
      "RUN/best.safetensors (model files: weights with their metadata) and RUN/report/ (index.html,\n"
      "loss and accuracy curves, aligned faces), each written atomically.\n"
      "Held-out identities (--holdout-identities) are never trained on: eval-embed verifies on them.\n"
      "With --resume the run keeps the options it was started with (only --data, --device and\n"
      "--workers may change); --epochs and the rest must be left out or repeated unchanged.");
  sub.add_option("--data", o->data, "Dataset folder in CelebA's layout (e.g. written by `faceforge synth`)");
  sub.add_option("--out", o->out, "Run folder (RUN)")->required();
  sub.add_option("--head", o->head, "Classification head")->check(CLI::IsMember({"arcface", "softmax"}))
      ->capture_default_str();
  sub.add_option("--config", o->config,
                 "Network: small (64x64, the demo's), cpu (ResNet50's 3-4-6-3 at width 0.25, 112x112, 512-d: the mission's network on a CPU), reference (ResNet50, 112x112) or a config string like " +
                     ff::EmbeddingConfig::small().str() + " [default: small; a resumed run keeps its own]");
  sub.add_option("--epochs", o->fit.epochs, "Epochs")->check(CLI::Range(1, 100000))->capture_default_str();
  sub.add_option("--batch", o->batch, "Batch size")->check(CLI::Range(2, 65536))->capture_default_str();
  sub.add_option("--lr", o->lr, "Initial learning rate (SGD, momentum 0.9)")->check(ff::app::positive())
      ->capture_default_str();
  sub.add_option("--weight-decay", o->weight_decay, "Weight decay (not on batch-norm parameters or biases)")
      ->check(ff::app::non_negative())->capture_default_str();
  sub.add_option("--schedule", o->schedule, "Learning-rate schedule: cosine, or step (x0.1 every epochs/3)")
      ->check(CLI::IsMember({"cosine", "step"}))->capture_default_str();
  sub.add_option("--device", o->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  ff::app::add_gpu_math_flags(sub);
  sub.add_flag("--resume", o->resume, "Continue the run in --out from its last checkpoint");
  sub.add_option("--seed", o->seed, "Random seed (initialisation, split, held-out identities, augmentation)")
      ->check(ff::app::non_negative())
      ->capture_default_str();
  sub.add_option("--workers", o->workers, "Threads preparing batches")->check(CLI::Range(0, 256))
      ->capture_default_str();
  sub.add_option("--cache-mb", o->cache_mb,
                 "Decoded photos kept in memory across epochs, at most this many MB (0: decode every photo each epoch)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30))->capture_default_str();
  sub.add_option("--split", o->split,
                 "celeba: list_eval_partition.txt (0 train, 1/2 validation); identity8020: per identity a "
                 "seeded 80/20 split")
      ->check(CLI::IsMember({"celeba", "identity8020"}))->capture_default_str();
  sub.add_option("--holdout-identities", o->holdout,
                 "Identities held out entirely for open-set verification (default: 15% of them)")
      ->check(CLI::Range(0, 1000000));
  sub.add_option("--save-every", o->fit.save_every, "Also checkpoint every N steps (0: at epoch ends only)")
      ->check(ff::app::non_negative())->capture_default_str();
  sub.add_option("--log-every", o->fit.log_every,
                 "Read the loss back and log it every N steps (0: every step on the CPU, every 10 on a GPU)")
      ->check(ff::app::non_negative())->capture_default_str();
  sub.add_flag("--no-augment", *no_augment, "Train on the aligned faces without augmentation");
  sub.add_option("--landmarks-model", o->landmarks_model,
                 "Align by the landmarks this network predicts (RUN/best.safetensors of train-landmarks) from "
                 "each image's face box, instead of the dataset's landmark file");
  CLI::App* app = &sub;
  return [o, no_augment, app]() {
    ff::EmbedTrainOptions opts = *o;
    opts.augment.enabled = !*no_augment;
    if (o->resume) {
      // Start from the run's own options; flags given on this command line override them, and
      // train_embed refuses any that would change the run.
      ff::EmbedTrainOptions saved = ff::saved_train_options(o->out);
      auto given = [&](const char* flag) { return app->count(flag) > 0; };
      if (!given("--data")) opts.data = saved.data;
      if (!given("--head")) opts.head = saved.head;
      if (!given("--config")) opts.config = saved.config;
      if (!given("--epochs")) opts.fit.epochs = saved.fit.epochs;
      if (!given("--batch")) opts.batch = saved.batch;
      if (!given("--lr")) opts.lr = saved.lr;
      if (!given("--weight-decay")) opts.weight_decay = saved.weight_decay;
      if (!given("--schedule")) opts.schedule = saved.schedule;
      if (!given("--seed")) opts.seed = saved.seed;
      if (!given("--split")) opts.split = saved.split;
      if (!given("--holdout-identities")) opts.holdout = saved.holdout;
      if (!given("--no-augment")) opts.augment.enabled = saved.augment.enabled;
      if (!given("--landmarks-model")) opts.landmarks_model = saved.landmarks_model;
      opts.momentum = saved.momentum;
    } else {
      FF_CHECK(!opts.data.empty(), "train-embed: --data is required (the dataset folder)");
    }
    ff::EmbedTrainResult r = ff::train_embed(opts);
    if (r.val_images == 0)  // the best checkpoint is then the one of the lowest training loss
      std::printf("train-embed: %lld steps; no validation images; lowest train loss %.4f; run in %s\n",
                  static_cast<long long>(r.steps), -r.best_metric, opts.out.c_str());
    else
      std::printf("train-embed: %lld steps; best validation accuracy (flip TTA) %.2f%%; run in %s\n",
                  static_cast<long long>(r.steps), 100 * r.best_metric, opts.out.c_str());
    std::printf("next: faceforge eval-embed --data %s --model %s/best.safetensors\n", opts.data.c_str(),
                opts.out.c_str());
    return 0;
  };
});

}  // namespace
