// apps/cmd_eval_landmarks.cpp — `faceforge eval-landmarks`: measures a landmark checkpoint on one
// partition of a CelebA-format folder (face/landmarks.h), e.g.
//   faceforge eval-landmarks --data data/synth --model runs/lmk/best.safetensors --out runs/lmk/eval
#include <cstdio>

#include "apps/commands.h"
#include "engine/error.h"
#include "data/celeba.h"  // landmark_name
#include "face/landmarks.h"

namespace {

ff::app::Command reg("eval-landmarks", "Measure a landmark network: NME, failure rate, AUC, per-point errors",
                     [](CLI::App& sub) {
  auto o = std::make_shared<ff::LandmarkEvalOptions>();
  sub.footer(
      "Crops each face of the partition from its box as training did, predicts the five landmarks\n"
      "and compares them with the folder's: NME = mean point distance / inter-ocular distance\n"
      "(points 0 and 1), failure rate = share of faces with NME > 0.1, AUC = area under the\n"
      "cumulative error curve up to 0.1 (1 is perfect). With --out, writes summary.csv,\n"
      "points.csv, images.csv and ced.svg there.");
  sub.add_option("--data", o->data, "CelebA-format data folder")->required();
  sub.add_option("--model", o->model, "Landmark checkpoint (e.g. RUN/best.safetensors)")->required();
  sub.add_option("--partition", o->partition, "0 train, 1 validation, 2 test")->check(CLI::Range(0, 2))
      ->capture_default_str();
  sub.add_option("--out", o->out, "Folder for the CSV files and the CED curve (none when omitted)");
  sub.add_option("--device", o->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  sub.add_option("--batch", o->batch, "Batch size")->check(CLI::Range(1, 4096))->capture_default_str();
  sub.add_option("--max-images", o->max_images, "Evaluate the first N faces of the partition only (0: all)")
      ->check(ff::app::non_negative())->capture_default_str();
  sub.add_option("--workers", o->workers, "Threads making samples")->check(CLI::Range(0, 256))->capture_default_str();
  return [o] {
    ff::LandmarkEvalResult r = ff::eval_landmarks(*o);
    const ff::LandmarkMetrics& m = r.metrics;
    std::printf("eval-landmarks: %s on %s, partition %d: %lld faces (heatmaps decoded by %s)\n\n", o->model.c_str(),
                o->data.c_str(), o->partition, static_cast<long long>(m.n_images), ff::decode_name(r.decode));
    std::printf("  %-22s %10s\n", "metric", "value");
    std::printf("  %-22s %10.4f\n", "NME (inter-ocular)", m.mean_nme);
    std::printf("  %-22s %9.2f%%\n", "failure rate (> 0.10)", 100 * m.failure_rate);
    std::printf("  %-22s %10.4f\n\n", "AUC (0 .. 0.10)", m.auc);
    std::printf("  %-22s %10s %10s\n", "point", "NME", "pixels");
    for (int k = 0; k < 5; ++k)
      std::printf("  %-22s %10.4f %10.2f\n", ff::landmark_name(k), m.point_nme[k], m.point_error[k]);
    if (!r.written.empty()) {
      std::printf("\nwrote:");
      for (const std::string& w : r.written) std::printf(" %s", w.c_str());
      std::printf("\n");
    }
    return 0;
  };
});

}  // namespace
