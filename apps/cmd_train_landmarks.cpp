// apps/cmd_train_landmarks.cpp — `faceforge train-landmarks`: trains the stacked hourglass on a
// CelebA-format folder (face/landmarks.h), e.g.
//   faceforge train-landmarks --data data/synth --out runs/lmk --config small --epochs 20
//   faceforge train-landmarks --data data/synth --out runs/lmk --epochs 30 --resume
#include <cstdio>
#include <iostream>

#include "apps/commands.h"
#include "apps/gpu_flags.h"
#include "engine/error.h"
#include "face/landmarks.h"

namespace {

ff::app::Command reg("train-landmarks", "Train the landmark network (stacked hourglass) on CelebA-format data",
                     [](CLI::App& sub) {
  struct Opts {
    ff::LandmarkTrainOptions t;
    std::string decode = "soft-argmax";
  };
  auto o = std::make_shared<Opts>();
  sub.footer(
      "DIR holds img_celeba/ and CelebA's lists (identity_CelebA.txt, list_eval_partition.txt,\n"
      "list_bbox_celeba.txt, list_landmarks_celeba.txt); `faceforge synth` writes such a folder.\n"
      "Trains on partition 0 and validates on partition 1 after every epoch (NME normalised by the\n"
      "inter-ocular distance). Writes RUN/log.csv (per step), RUN/val.csv (per epoch),\n"
      "RUN/last.state.safetensors (the checkpoint: weights, optimizer, schedule, random streams),\n"
      "RUN/last.safetensors and RUN/best.safetensors (model files: weights with the model's metadata)\n"
      "and RUN/report/ (curves, sample predictions). Every file is written atomically.\n"
      "--resume continues RUN from last.state.safetensors exactly (same losses as an uninterrupted\n"
      "run), with the configuration it was trained with; raise --epochs to train a finished run further.");
  sub.add_option("--data", o->t.data, "CelebA-format data folder DIR")->required();
  sub.add_option("--out", o->t.out, "Run folder RUN (must not hold a run unless --resume)")->required();
  sub.add_option("--config", o->t.config,
                 "Network: small (input 128, trains on a CPU in minutes), reference (the notebooks' 256-input "
                 "network) or a config string like stem=16,mid=32,channels=64,stacks=2,landmarks=5,input=128 "
                 "[default: small; a resumed run keeps its own]");
  sub.add_option("--epochs", o->t.fit.epochs, "Total epochs of the run")->check(CLI::Range(1, 100000))->capture_default_str();
  sub.add_option("--batch", o->t.batch, "Batch size")->check(CLI::Range(2, 4096))->capture_default_str();
  sub.add_option("--lr", o->t.lr, "Adam learning rate (halved after 3 epochs without a better validation NME)")
      ->check(ff::app::positive())->capture_default_str();
  sub.add_option("--device", o->t.device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  ff::app::add_gpu_math_flags(sub);
  sub.add_flag("--resume", o->t.resume, "Continue the run in RUN from its last checkpoint");
  sub.add_option("--seed", o->t.seed, "Random seed (initialisation, shuffling, augmentation)")
      ->check(ff::app::non_negative())->capture_default_str();
  sub.add_option("--workers", o->t.workers, "Threads making samples")->check(CLI::Range(0, 256))->capture_default_str();
  sub.add_option("--cache-mb", o->t.cache_mb,
                 "Decoded photos kept in memory across epochs, at most this many MB (0: decode every photo each epoch)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30))->capture_default_str();
  sub.add_option("--max-images", o->t.max_images, "Train on the first N training images only (0: all)")
      ->check(ff::app::non_negative())->capture_default_str();
  sub.add_option("--fg-weight", o->t.fg_weight,
                 "Heatmap loss weight w = 1 + F * target on each pixel (0: the notebooks' plain MSE, which the small network escapes only slowly; a resumed run keeps its own)")
      ->check(ff::app::non_negative())
      ->capture_default_str();
  sub.add_option("--max-val-images", o->t.max_val_images, "Validate on the first N validation images only (0: all)")
      ->check(ff::app::non_negative())->capture_default_str();
  sub.add_option("--save-every", o->t.fit.save_every, "Also save the last checkpoint every N steps (0: at epoch ends only)")
      ->check(ff::app::non_negative())->capture_default_str();
  sub.add_option("--log-every", o->t.fit.log_every,
                 "Read the loss back and log it every N steps (0: every step on the CPU, every 10 on a GPU)")
      ->check(ff::app::non_negative())->capture_default_str();
  sub.add_option("--decode", o->decode,
                 "Heatmap decoder for the validation NME that drives the LR schedule and the best checkpoint "
                 "(both are logged)")
      ->check(CLI::IsMember({"soft-argmax", "quarter-pixel"}))->capture_default_str();
  return [o] {
    ff::LandmarkTrainOptions t = o->t;
    t.decode = o->decode == "quarter-pixel" ? ff::HeatmapDecode::QuarterPixel : ff::HeatmapDecode::SoftArgmax;
    ff::LandmarkTrainResult r = ff::train_landmarks(t);
    if (r.steps == r.first_step) {
      std::printf("train-landmarks: %s has already trained %lld steps to --epochs %lld; nothing to do\n",
                  t.out.c_str(), static_cast<long long>(r.steps), static_cast<long long>(t.fit.epochs));
      return 0;
    }
    std::printf("train-landmarks: %lld steps in %.1f s (%.1f training images/s, validation %.1f s); "
                "best validation NME %.4f\n",
                static_cast<long long>(r.steps - r.first_step), r.seconds, r.images_per_s, r.validation_seconds,
                r.best_metric);
    std::printf("run: %s (best.safetensors, last.safetensors, log.csv, val.csv, report/)\n", t.out.c_str());
    return 0;
  };
});

}  // namespace
