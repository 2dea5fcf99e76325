// apps/cmd_eval_detector.cpp — `faceforge eval-detector`: measures a face detector on a folder
// with labelled faces (face/detect_eval.h), running it (--detector) or reading what it found
// (--detections, e.g. the baselines of tools/baseline_detectors.cpp), e.g.
//   faceforge eval-detector --data ../shared/data/celeba_wild_val --detector det.safetensors --out runs/det/eval
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "apps/commands.h"
#include "data/detect_truth.h"
#include "engine/error.h"
#include "face/detect.h"
#include "face/detect_eval.h"
#include "face/detect_photos.h"

namespace {

struct Options {
  std::string data, detector, detections, out;
  int64_t limit = 0;
  int threads = 1;
  double threshold = -1, nms = -1, min_score = -1;
  int input_side = 0;
};

void print_summary(const ff::DetectionEval& e, const std::string& what) {
  std::printf("eval-detector: %s\n  %lld photos, %lld labelled faces, %lld detections\n\n", what.c_str(),
              static_cast<long long>(e.photos), static_cast<long long>(e.truth_faces),
              static_cast<long long>(e.detections));
  std::printf("  %-34s %10s\n", "metric", "value");
  std::printf("  %-34s %10.4f\n", "AP@0.5 (VOC all-point)", e.ap50);
  std::printf("  %-34s %10.4f\n", "AP@[.5:.95]", e.ap50_95);
  std::printf("  %-34s %10.4f%s\n", "recall at 1 FP per photo", e.recall_at_1fp,
              e.reached_1fp ? "" : "  (fewer FPs than photos in all)");
  std::printf("  %-34s %10.4f\n", "AP@0.5, largest face only", e.ap50_largest);
  if (e.nme_faces > 0)
    std::printf("  %-34s %10.4f  (%lld matched faces)\n", "landmark NME (inter-ocular)", e.mean_nme,
                static_cast<long long>(e.nme_faces));
  else
    std::printf("  %-34s %10s\n", "landmark NME (inter-ocular)", "n/a");
  std::printf("  %-34s %10.2f  (median %.2f, %lld photos timed)\n", "ms per photo (mean)", e.ms_mean, e.ms_median,
              static_cast<long long>(e.timed_photos));
  if (e.extra_photos)
    std::printf("  (%lld photos of the detections file are not in the ground truth: ignored)\n",
                static_cast<long long>(e.extra_photos));
}

ff::app::Command reg("eval-detector", "Measure a face detector: AP, PR curve, recall at 1 FP/photo, NME, ms/photo",
                     [](CLI::App& sub) {
  auto o = std::make_shared<Options>();
  sub.footer(
      "Ground truth: DATA/faces.json (a detections file) or CelebA's list_bbox_celeba.txt and\n"
      "list_landmarks_celeba.txt. Detections of all photos are matched greedily by descending\n"
      "score (each labelled face at most once, best unmatched IoU >= t). AP is PASCAL VOC's\n"
      "all-point interpolated area under the precision-recall curve, at IoU 0.5 and averaged over\n"
      "IoU 0.50:0.05:0.95. Recall at 1 FP per photo: at IoU 0.5, before the false positives\n"
      "outnumber the photos. 'Largest face only': each photo's largest detection against its\n"
      "largest labelled face (for sets that label only the main face: a box on a bystander is a\n"
      "false positive in the main AP, not in this one). NME: five points of the faces matched at\n"
      "IoU 0.5, over the labelled inter-ocular distance. ms: detection alone, decoding excluded.\n"
      "With --out: metrics.json, pr_curve.png, pr_curve.svg, pr_curve.csv and (with --detector)\n"
      "detections.json. --threads N runs N detectors side by side, each with the engine's OpenMP\n"
      "threads: on 2 cores, --threads 2 with OMP_NUM_THREADS=1, or --threads 1 with 2.");
  sub.add_option("--data", o->data, "Folder with the labelled photos (CelebA format or faces.json)")->required();
  auto* det = sub.add_option("--detector", o->detector, "Detector file to run (face/detect.h)");
  auto* dets = sub.add_option("--detections", o->detections, "A detections file to score instead (faceforge-detections-1)");
  det->excludes(dets);
  sub.add_option("--out", o->out, "Folder for metrics.json, the PR curve and the detections");
  sub.add_option("--limit", o->limit, "Only the first N labelled photos (0: all)")->check(ff::app::non_negative())
      ->capture_default_str();
  sub.add_option("--threads", o->threads, "Photos detected side by side, one detector each (--detector)")
      ->check(CLI::Range(1, 256))->capture_default_str();
  sub.add_option("--threshold", o->threshold,
                 "Detector score threshold (--detector; default: the detector's own; lower it for a longer PR curve)");
  sub.add_option("--nms", o->nms, "Detector NMS IoU (--detector; default: the detector's)");
  sub.add_option("--input-side", o->input_side,
                 "Our detector: a photo's longer side is scaled down to this before the network [default: the "
                 "file's, twice its training crop]")->check(CLI::Range(32, 8192));
  sub.add_option("--min-score", o->min_score, "Score only detections at or above this (e.g. a baseline's default point)");
  return [o] {
    FF_CHECK(!o->detector.empty() || !o->detections.empty(), "eval-detector: give --detector FILE or --detections FILE");
    ff::DetectionsFile truth = ff::load_detection_ground_truth(o->data);
    if (o->limit > 0 && static_cast<size_t>(o->limit) < truth.photos.size()) truth.photos.resize(o->limit);
    FF_CHECK(!truth.photos.empty(), "eval-detector: ", o->data, " has no labelled photos");
    ff::DetectionEvalOptions eo;
    if (o->min_score >= 0) eo.min_score = o->min_score;
    ff::DetectionsFile found;
    std::string source = o->detections;
    if (!o->detector.empty()) {
      ff::DetectOptions dopt;
      if (o->threshold >= 0) dopt.score_threshold = o->threshold;
      if (o->nms >= 0) dopt.nms_iou = o->nms;
      dopt.input_side = o->input_side;
      std::vector<std::string> files;
      for (const auto& p : truth.photos) files.push_back(p.file);
      auto last = std::chrono::steady_clock::now();
      auto t0 = last;
      ff::DetectFolderResult r = ff::detect_folder(
          [&] { return ff::load_detector(o->detector, dopt); }, ff::detection_photo_dir(o->data), files, o->threads,
          [&](size_t done, size_t total) {
            auto now = std::chrono::steady_clock::now();
            if (done == total || now - last > std::chrono::seconds(5)) {
              last = now;
              std::fprintf(stderr, "eval-detector: %zu / %zu photos (%.0f s)\n", done, total,
                           std::chrono::duration<double>(now - t0).count());
            }
          });
      for (const std::string& u : r.unreadable) std::fprintf(stderr, "eval-detector: %s (counted as no face found)\n", u.c_str());
      eo.missing_photos_empty = true;
      found = std::move(r.detections);
      if (!o->out.empty()) {
        std::filesystem::create_directories(o->out);
        source = o->out + "/detections.json";
        ff::write_detections(source, found);
      }
    } else {
      found = ff::read_detections(o->detections);
    }
    ff::DetectionEval e = ff::evaluate_detections(found, truth, eo);
    print_summary(e, (found.detector.empty() ? source : found.detector) + " on " + o->data);
    if (!o->out.empty()) {
      std::vector<std::string> w = ff::write_detection_eval(o->out, e, {found.detector, o->data, source});
      std::printf("\nwrote:");
      if (!o->detector.empty()) std::printf(" %s", source.c_str());
      for (const std::string& s : w) std::printf(" %s", s.c_str());
      std::printf("\n");
    }
    return 0;
  };
});

}  // namespace
