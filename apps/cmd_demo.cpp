// apps/cmd_demo.cpp — `faceforge demo`: the first README command. Until the face pipeline's own
// demo lands it trains the small conv-bn-relu-pool-linear net (models/tiny_cnn.h) on generated
// shapes on the CPU (or --device cuda), showing its loss falling, and writes the loss curve as CSV.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "apps/commands.h"
#include "engine/dtype.h"
#include "models/tiny_cnn.h"
#include "train/progress.h"

namespace {

ff::app::Command reg("demo", "Train a small CNN on generated data and show its loss falling (no data needed)",
                     [](CLI::App& sub) {
  struct Opts {
    int steps = 300;
    int64_t batch = 32;
    uint64_t seed = 1;
    std::string out = "demo_out";
    std::string device = "cpu";
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("--steps", o->steps, "training steps")->check(CLI::Range(1, 100000));
  sub.add_option("--batch", o->batch, "batch size")->check(CLI::Range(1, 4096));
  sub.add_option("--seed", o->seed, "random seed");
  sub.add_option("--out", o->out, "output folder (loss curve CSV)");
  sub.add_option("--device", o->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  return [o]() {
    ff::Device dev = ff::Device::parse(o->device);
    std::filesystem::create_directories(o->out);
    std::string csv_path = o->out + "/tiny_cnn_loss.csv";
    std::ofstream csv(csv_path);
    FF_CHECK(csv.good(), "demo: cannot write ", csv_path);
    csv << "step,loss\n";
    std::cout << "faceforge demo: a conv-bn-relu-pool-linear net learns 4 shape classes from generated 16x16 images ("
              << o->steps << " SGD steps, batch " << o->batch << ", " << dev.str() << ")\n";
    ff::Progress progress("train", o->steps, "steps");
    double shown = 0;
    ff::TinyTrainResult r = ff::train_tiny_cnn(o->steps, o->batch, o->seed, dev, [&](int step, double loss) {
      csv << step + 1 << "," << loss << "\n";
      shown = step == 0 ? loss : 0.9 * shown + 0.1 * loss;
      char extra[64];
      std::snprintf(extra, sizeof extra, "loss %.4f (smoothed %.4f)", loss, shown);
      progress.update(step + 1, extra);
    });
    std::printf("loss: first step %.4f -> last step %.4f; held-out accuracy %.1f%%\n", r.losses.front(),
                r.losses.back(), 100 * r.final_accuracy);
    std::printf("loss curve: %s\n", csv_path.c_str());
    return 0;
  };
});

}  // namespace
