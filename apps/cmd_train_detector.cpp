// apps/cmd_train_detector.cpp — `faceforge train-detector`: trains faceforge's face detector
// (face/detector.h) on a CelebA-format folder or a folder of scenes with faces.json, e.g.
//   faceforge train-detector --data ~/celeba --out runs/det --epochs 30
//   faceforge train-detector --data ~/celeba --out runs/det --epochs 40 --resume
#include <cstdio>

#include "apps/commands.h"
#include "apps/gpu_flags.h"
#include "engine/error.h"
#include "face/detector.h"

namespace {

ff::app::Command reg("train-detector", "Train the face detector (anchor-free, stride 4) on CelebA-format data",
                     [](CLI::App& sub) {
  auto o = std::make_shared<ff::DetectorTrainOptions>();
  sub.footer(
      "DIR holds img_celeba/ and list_bbox_celeba.txt (one face per photo; list_landmarks_celeba.txt\n"
      "and list_eval_partition.txt when present), or img_celeba/ and faces.json (several faces per\n"
      "photo, what `faceforge synth --scenes` writes). Every training sample is an augmented picture\n"
      "(faces from 16 px to the whole frame, zoom-out, mosaics, flips, colour jitter, no-face\n"
      "pictures: data/detect_sample.h). Trains on partition 0 (without a partition file: all but the\n"
      "last tenth) and validates after every epoch by AP at IoU 0.5 on fixed augmented samples of the\n"
      "other photos. Writes RUN/log.csv, RUN/val.csv, RUN/last.state.safetensors (the checkpoint),\n"
      "RUN/last.safetensors, RUN/best.safetensors (model files) and RUN/report/ (the validation PR\n"
      "curve). --resume continues RUN exactly from last.state.safetensors.");
  sub.add_option("--data", o->data, "Data folder DIR")->required();
  sub.add_option("--out", o->out, "Run folder RUN (must not hold a run unless --resume)")->required();
  sub.add_option("--config", o->config,
                 "Network: small (trains on 2 CPU cores in minutes) or a config string like "
                 "widths=16:24:32:64:96,extra=0:0:1:1:1,fpn=32,input=160 [default: small; a resumed run keeps its own]");
  sub.add_option("--epochs", o->fit.epochs, "Total epochs of the run (one epoch: one sample per training photo)")
      ->check(CLI::Range(1, 100000))->capture_default_str();
  sub.add_option("--batch", o->batch, "Batch size")->check(CLI::Range(2, 4096))->capture_default_str();
  sub.add_option("--lr", o->lr, "Adam learning rate (cosine schedule to 1% over the run)")
      ->check(ff::app::positive())->capture_default_str();
  sub.add_option("--landmark-weight", o->landmark_weight, "Weight of the landmark L1 loss (0: boxes only)")
      ->check(ff::app::non_negative())->capture_default_str();
  sub.add_option("--device", o->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  ff::app::add_gpu_math_flags(sub);
  sub.add_flag("--resume", o->resume, "Continue the run in RUN from its last checkpoint");
  sub.add_option("--seed", o->seed, "Random seed (initialisation, shuffling, augmentation)")
      ->check(ff::app::non_negative())->capture_default_str();
  sub.add_option("--workers", o->workers, "Threads making samples")->check(CLI::Range(0, 256))->capture_default_str();
  sub.add_option("--max-images", o->max_images, "Train on the first N training photos only (-1: all)")
      ->check(CLI::Range(-1, 1 << 30))->capture_default_str();
  sub.add_option("--max-val-images", o->max_val_images, "Validation samples")
      ->check(CLI::Range(1, 100000))->capture_default_str();
  sub.add_option("--save-every", o->fit.save_every, "Also save the last checkpoint every N steps (0: at epoch ends only)")
      ->check(ff::app::non_negative())->capture_default_str();
  sub.add_option("--log-every", o->fit.log_every,
                 "Read the loss back and log it every N steps (0: every step on the CPU, every 10 on a GPU)")
      ->check(ff::app::non_negative())->capture_default_str();
  return [o] {
    ff::DetectorTrainResult r = ff::train_detector(*o);
    std::printf("train-detector: %lld steps in %.1f s (%.1f training images/s); best validation AP@0.5 %.4f\n",
                static_cast<long long>(r.steps), r.seconds, r.images_per_s, r.best_ap50);
    std::printf("run: %s (best.safetensors, last.safetensors, log.csv, val.csv, report/)\n", o->out.c_str());
    return 0;
  };
});

}  // namespace
