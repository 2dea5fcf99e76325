// apps/cmd_verify.cpp — `faceforge verify`: are two photos of the same person? Prints the cosine
// similarity of their embeddings and the decision, and optionally draws the report figure
// (face/pipeline.h), e.g.
//   faceforge verify a.jpg b.jpg --model demo_out/embed/best.safetensors --report pair.png
#include <cstdio>
#include <filesystem>

#include "apps/commands.h"
#include "apps/detector_flags.h"
#include "engine/error.h"
#include "face/pipeline.h"

namespace {

ff::app::Command reg("verify", "Verify two face photos: cosine similarity of their embeddings and same/different",
                     [](CLI::App& sub) {
  struct Opts {
    std::string a, b, model, lmk, report, box_a, box_b;
    double threshold = 0.6;
    ff::app::DetectorFlags det;
    int face_a = 1, face_b = 1;
  };
  auto o = std::make_shared<Opts>();
  sub.footer(
      "Each photo: face box (the face detector's largest face unless --face-a/--face-b pick another,\n"
      "or --box-a/--box-b give it) -> landmarks (hourglass) -> alignment to the 5-point template at the\n"
      "model's input size -> embedding with flip TTA, L2-normalised. Same person when the cosine\n"
      "similarity is at least --threshold (0.6: the reference notebooks' fixed threshold; eval-embed\n"
      "reports the accuracy there and the best 10-fold thresholds). --report draws each photo with its\n"
      "box, crop square and landmarks, the hourglass crop, the aligned face, the score and decision.");
  sub.add_option("PHOTO_A", o->a, "First photo")->required();
  sub.add_option("PHOTO_B", o->b, "Second photo")->required();
  sub.add_option("--model", o->model, "Embedding model file (RUN/best.safetensors of train-embed)")->required();
  sub.add_option("--landmarks-model", o->lmk,
                 "Landmark model file [default: demo_out/landmarks/best.safetensors, written by `faceforge demo`]");
  sub.add_option("--threshold", o->threshold, "Cosine similarity threshold for 'same'")
      ->check(CLI::Range(-1.0, 1.0))->capture_default_str();
  sub.add_option("--report", o->report, "Write the figure to FILE.png");
  sub.add_option("--box-a", o->box_a, "Face box x,y,w,h in the first photo");
  ff::app::add_detector_flags(sub, o->det, false);
  sub.add_option("--face-a", o->face_a, "Which face of the first photo: 1 = the largest")->check(CLI::Range(1, 1000));
  sub.add_option("--face-b", o->face_b, "Which face of the second photo: 1 = the largest")->check(CLI::Range(1, 1000));
  sub.add_option("--box-b", o->box_b, "Face box x,y,w,h in the second photo");
  return [o] {
    for (const std::string& p : {o->a, o->b}) FF_CHECK(std::filesystem::is_regular_file(p), "no such image: ", p);
    ff::Image a = ff::load_image(o->a, 3), b = ff::load_image(o->b, 3);
    std::optional<ff::FaceBox> ba, bb;
    if (!o->box_a.empty()) ba = ff::parse_box(o->box_a, a.width, a.height);
    if (!o->box_b.empty()) bb = ff::parse_box(o->box_b, b.width, b.height);
    ff::EmbeddingModel em = ff::load_embedding_model(o->model);
    ff::LandmarkModel lm = ff::load_landmark_model(o->lmk.empty() ? ff::default_landmark_model() : o->lmk);
    std::unique_ptr<ff::FaceDetector> det;
    if (!ba || !bb) det = o->det.open();
    ff::VerifyResult r = ff::verify_faces(det.get(), lm, em, a, b, o->a, o->b, ba, bb, o->threshold, o->face_a,
                                          o->face_b);
    for (const ff::AlignedFace* f : {&r.a, &r.b})
      std::printf("%s: %s\n", f->name.c_str(), ff::describe_location(f->where).c_str());
    std::printf("cosine similarity %.4f (threshold %.2f): %s  [detection + landmarks + alignment + embeddings: "
                "%.0f ms, of which detection %.0f ms]\n",
                r.cosine, r.threshold, r.same ? "same person" : "different people", 1000 * r.seconds,
                1000 * r.detect_seconds);
    if (!o->report.empty()) {
      ff::save_png(ff::verify_report_image(r), o->report);
      std::printf("report: %s\n", o->report.c_str());
    }
    return 0;
  };
});

}  // namespace
