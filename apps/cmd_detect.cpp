// apps/cmd_detect.cpp — `faceforge detect`: the faces of photos, as files and drawn figures
// (face/detect_photos.h), e.g.
//   faceforge detect group.jpg party.png --out found --threshold 0.6
// Exit status: 0 every photo had a face; 3 some photo had none (named on stderr, "photo.jpg: no
// face found"); 2 some photo could not be read (named; the others are still processed); 1 any
// other error (no detector, unwritable --out).
#include <cstdio>

#include "apps/commands.h"
#include "engine/error.h"
#include "face/detect.h"
#include "face/detect_photos.h"

namespace {

struct Options {
  std::vector<std::string> photos;
  std::string out, detector;
  double threshold = -1, nms = -1;
  int input_side = 0;
};

ff::app::Command reg("detect", "Find the faces of photos: boxes, scores, five points (JSON, CSV, figures)",
                     [](CLI::App& sub) {
  auto o = std::make_shared<Options>();
  sub.footer(
      "Writes OUT/detections.json (faceforge-detections-1), OUT/detections.csv (one row per face;\n"
      "face -1 for a photo without any) and OUT/<photo>_faces.jpg|png (boxes, scores, points).\n"
      "Exit status: 0 every photo had a face, 3 some photo had none (named on stderr), 2 some\n"
      "photo could not be read (named; the others are still processed), 1 other errors.");
  sub.add_option("IMAGE", o->photos, "Photos (PNG or JPEG)")->required();
  sub.add_option("--out", o->out, "Folder for the detections and the figures")->required();
  sub.add_option("--detector", o->detector, "Detector file (default: the demo's, demo_out/detector/best.safetensors)");
  sub.add_option("--threshold", o->threshold, "Score threshold (default: the detector's own: ours records one in its file, MTCNN 0.7)")->check(CLI::Range(0.0, 1.0));
  sub.add_option("--nms", o->nms, "Non-maximum suppression IoU (default: the detector's, 0.4)")->check(CLI::Range(0.0, 1.0));
  sub.add_option("--input-side", o->input_side,
                 "Our detector: a photo's longer side is scaled down to this before the network [default: the "
                 "file's, twice its training crop]")->check(CLI::Range(32, 8192));
  return [o] {
    ff::DetectOptions dopt;
    if (o->threshold >= 0) dopt.score_threshold = o->threshold;
    if (o->nms >= 0) dopt.nms_iou = o->nms;
    dopt.input_side = o->input_side;
    const std::string model = o->detector.empty() ? ff::default_detector_model() : o->detector;
    std::unique_ptr<ff::FaceDetector> det = ff::load_detector(model, dopt);
    ff::DetectPhotosResult r = ff::detect_photos(*det, o->photos, o->out, [](const std::string& m) {
      std::fprintf(stderr, "%s\n", m.c_str());
    });
    size_t faces = 0;
    for (const auto& p : r.detections.photos) faces += p.faces.size();
    // r.detections holds the photos that were read; the unreadable ones count among those given.
    std::printf("detect: %zu faces in %zu photos (%zu without a face, %zu unreadable) by %s\n", faces,
                r.detections.photos.size() + r.unreadable.size(), r.no_face.size(), r.unreadable.size(),
                det->name().c_str());
    std::printf("wrote:");
    for (const std::string& w : r.written) std::printf(" %s", w.c_str());
    std::printf("\n");
    return r.status;
  };
});

}  // namespace
