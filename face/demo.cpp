// face/demo.cpp — `faceforge demo` as a library function (face/pipeline.h run_demo):
// synthetic faces and scenes -> face detector -> landmark network -> embedding network ->
// evaluation -> verification of two pairs (faces found by the detector) -> an HTML report, all on
// the CPU, with nothing downloaded.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "engine/error.h"
#include "engine/safetensors.h"  // write_file_atomic
#include "face/embed.h"
#include "face/detect_photos.h"
#include "face/detector.h"
#include "face/embed_report.h"
#include "face/pipeline.h"
#include "report/chart.h"
#include "report/glossary.h"
#include "report/html.h"
#include "data/synth.h"

namespace fs = std::filesystem;

namespace ff {
namespace {

using clock_type = std::chrono::steady_clock;
double since(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }

// The demo's sizes. Full: chosen so the whole demo fits well inside 10 minutes of 2 free CPU
// cores (measured 2 min 56 s: docs/results.md). The landmark network takes most of it (20 epochs
// of 384 faces; validation NME 0.060 after 15 epochs and 0.050 after 20 in the tuning runs), the
// embedding network under 20 s. Quick: a smoke test of every stage in under a minute (the tests
// run it).
struct DemoPlan {
  int scenes, det_epochs;
  int identities, per_identity, size;
  int64_t lmk_epochs, lmk_batch;
  int emb_epochs;
  int64_t emb_batch;
  double emb_lr;
};
DemoPlan plan_for(bool quick) {
  if (quick) return {48, 2, 12, 6, 128, 1, 16, 2, 16, 0.02};
  return {600, 30, 40, 12, 128, 20, 16, 30, 32, 0.02};
}

void prepare_out(const std::string& out) {
  const std::string marker = out + "/faceforge_demo.txt";
  if (fs::exists(out)) {
    FF_CHECK(fs::is_directory(out), "demo: --out ", out, " exists and is not a folder");
    const bool empty = fs::directory_iterator(out) == fs::directory_iterator();
    FF_CHECK(empty || fs::exists(marker), "demo: --out ", out,
             " is a folder the demo did not make (no faceforge_demo.txt); choose another --out");
    for (const char* sub : {"data", "scenes", "detector", "landmarks", "embed", "eval_landmarks", "eval_embed", "verify",
                            "report"})
      fs::remove_all(out + "/" + sub);
  }
  fs::create_directories(out);
  write_file_atomic(marker, "A folder written by `faceforge demo`; running the demo again replaces its contents.\n", "demo");
}

void stage(int i, int n, const std::string& what) {
  std::printf("[%d/%d] %s\n", i, n, what.c_str());
  std::fflush(stdout);
}

// The options every demo training shares (train-detector, train-landmarks, train-embed): the small
// configuration, the data and run folders, the epochs, progress, workers and seed.
template <typename TrainOptions>
TrainOptions small_run(const std::string& data, const std::string& out, int64_t epochs, const DemoOptions& o) {
  TrainOptions t;
  t.data = data;
  t.out = out;
  t.config = "small";
  t.fit.epochs = epochs;
  t.fit.progress = o.progress;
  t.workers = o.workers;
  t.seed = o.seed;
  return t;
}

// A photo as users have them: the face `face` pasted left of centre on a wider face-free scene
// (so the detector, not a centred guess, must find it). Returns the photo and the face's box.
std::pair<Image, FaceBox> off_centre_photo(const Image& face, const FaceBox& box, uint64_t seed, int index) {
  SceneConfig bg;
  bg.max_faces = 0;
  bg.min_width = bg.max_width = 2 * face.width + face.width / 2;
  bg.seed = seed ^ 0x4F4646ull;  // "OFF"
  Image photo = synth_scene(bg.seed, index, bg).image;
  const int x0 = photo.width / 10, y0 = std::max(0, (photo.height - face.height) / 3);
  for (int y = 0; y < face.height && y0 + y < photo.height; ++y)
    for (int x = 0; x < face.width && x0 + x < photo.width; ++x)
      for (int c = 0; c < 3; ++c) photo.at(x0 + x, y0 + y, c) = face.at(x, y, c);
  FaceBox b = box;
  b.x += static_cast<float>(x0);
  b.y += static_cast<float>(y0);
  return {photo, b};
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

// Validation photos with predicted (red) and true (green) landmarks.
Image landmark_sheet(const LandmarkEvalResult& ev, const std::string& image_dir, size_t count) {
  std::vector<Image> imgs;
  std::vector<std::string> caps;
  for (size_t i = 0; i < ev.files.size() && imgs.size() < count; ++i) {
    Image im = load_image(image_dir + "/" + ev.files[i], 3);
    {
      Canvas canvas(im);
      for (int k = 0; k < 5; ++k) {
        canvas.marker(ev.truth[i][k].x, ev.truth[i][k].y, {40, 200, 40}, Marker::Plus, 4, 1.5);
        canvas.marker(ev.predictions[i][k].x, ev.predictions[i][k].y, {230, 40, 40}, Marker::Cross, 4, 1.5);
      }
    }
    imgs.push_back(im);
    caps.push_back("NME " + fmt("%.3f", ev.metrics.nme[i]));
  }
  return montage(imgs, caps, 4);
}

}  // namespace

namespace {
// out/summary.json: the demo's figures, for tools/demo_seeds.py (one flat object).
void write_demo_summary(const std::string& path, const DemoOptions& o, const DemoResult& r) {
  std::string j = "{\n  \"seed\": " + std::to_string(o.seed) + ",\n  \"quick\": " + (o.quick ? "true" : "false");
  auto num = [&](const char* key, double v) { j += ",\n  \"" + std::string(key) + "\": " + fmt("%.6g", v); };
  num("detector_ap50", r.detector_ap50);
  num("undetected_faces", r.undetected_faces);
  num("nme", r.nme);
  num("failure_rate", r.failure_rate);
  num("closed_acc_flip", r.closed_acc);
  num("auc", r.auc);
  num("tar_at_far_1e2", r.tar_at_far_1e2);
  num("tar_at_far_1e3", r.tar_at_far_1e3);
  num("acc10_mean", r.acc10);
  num("acc10_std", r.acc10_std);
  num("acc_at_06", r.acc_at_06);
  num("same_cosine", r.same_cosine);
  num("different_cosine", r.different_cosine);
  num("seconds", r.seconds);
  for (const auto& [name, s] : r.stage_seconds) num(("seconds " + name).c_str(), s);
  write_file_atomic(path, j + "\n}\n", "demo summary");
}
}  // namespace

DemoResult run_demo(const DemoOptions& o) {
  const auto t_all = clock_type::now();
  const DemoPlan p = plan_for(o.quick);
  const int n_stages = 9;
  DemoResult res;
  prepare_out(o.out);
  const std::string data = o.out + "/data", report_dir = o.out + "/report";
  fs::create_directories(report_dir);
  auto timed = [&](const std::string& name, auto&& fn) {
    const auto t0 = clock_type::now();
    fn();
    res.stage_seconds.emplace_back(name, since(t0));
  };

  // 1. data
  stage(1, n_stages, "synthetic faces: " + std::to_string(p.identities) + " identities x " +
                         std::to_string(p.per_identity) + " images at " + std::to_string(p.size) + " px -> " + data);
  timed("synthetic data", [&] {
    SynthConfig sc;
    sc.identities = p.identities;
    sc.per_identity = p.per_identity;
    sc.size = p.size;
    sc.seed = o.seed;
    write_synth_dataset(data, sc);
  });
  const FaceSet faces = load_faces(data, FaceFilter::BoxAndLandmarks);
  {
    std::vector<Image> imgs;
    for (size_t i = 0; i < faces.size() && imgs.size() < 8; ++i) {
      const FaceRecord& f = faces.faces[i];
      const FaceBox& b = *f.box;
      Image im = load_image(f.path, 3);
      {
        Canvas canvas(im);
        canvas.rect(b.x, b.y, b.x + b.width - 1, b.y + b.height - 1, {40, 200, 40}, 1);
        for (const Point2& p : *f.landmarks) canvas.disc(p.x, p.y, 2, {230, 40, 40});
      }
      imgs.push_back(im);
    }
    save_png(montage(imgs, {}, 8), report_dir + "/data.png");
  }

  // 2. scenes and the face detector
  const std::string scenes = o.out + "/scenes";
  stage(2, n_stages, "synthetic scenes (0-4 faces of 20 px to most of the picture): " + std::to_string(p.scenes) +
                         " -> " + scenes);
  timed("synthetic scenes", [&] {
    SceneConfig sc;
    sc.scenes = p.scenes;
    sc.seed = o.seed;
    write_synth_scenes(scenes, sc);
  });
  const auto dt = small_run<DetectorTrainOptions>(scenes, o.out + "/detector", p.det_epochs, o);
  stage(3, n_stages, "training the face detector (small, anchor-free, " + std::to_string(p.det_epochs) +
                         " epochs, CPU) -> " + dt.out);
  DetectorTrainResult dr;
  timed("train detector", [&] { dr = train_detector(dt); });
  res.detector_model = dr.best;
  res.detector_ap50 = dr.best_ap50;
  std::printf("      validation AP@0.5 %.3f\n", dr.best_ap50);
  std::unique_ptr<FaceDetector> detector = load_detector(res.detector_model);
  {
    // The validation scenes (the last tenth) with what the detector finds.
    std::vector<Image> shown;
    const std::vector<std::string> files = list_images(scenes + "/img_celeba");
    for (size_t i = files.size() - std::min<size_t>(files.size(), 4); i < files.size(); ++i) {
      Image im = load_image(files[i], 3);
      shown.push_back(draw_detections(im, detector->detect(im)));
    }
    save_png(montage(shown, {}, 2), report_dir + "/detections.png");
  }

  // 3. landmarks
  auto lt = small_run<LandmarkTrainOptions>(data, o.out + "/landmarks", p.lmk_epochs, o);
  lt.batch = p.lmk_batch;
  stage(4, n_stages, "training the landmark network (small stacked hourglass, " + std::to_string(p.lmk_epochs) +
                         " epochs, CPU) -> " + lt.out);
  LandmarkTrainResult lr;
  timed("train landmarks", [&] { lr = train_landmarks(lt); });
  res.landmark_model = lt.out + "/best.safetensors";

  stage(5, n_stages, "evaluating the landmark network on the validation images");
  LandmarkEvalOptions le;
  le.data = data;
  le.model = res.landmark_model;
  le.out = o.out + "/eval_landmarks";
  le.workers = o.workers;
  LandmarkEvalResult lev;
  timed("eval landmarks", [&] { lev = eval_landmarks(le); });
  res.nme = lev.metrics.mean_nme;
  res.failure_rate = lev.metrics.failure_rate;
  std::printf("      NME %.4f (inter-ocular), failure rate @0.1 %.3f, %lld images\n", res.nme,
              lev.metrics.failure_rate, static_cast<long long>(lev.metrics.n_images));
  save_png(landmark_sheet(lev, data + "/img_celeba", 8), report_dir + "/landmarks_val.png");

  // 4. embeddings
  auto et = small_run<EmbedTrainOptions>(data, o.out + "/embed", p.emb_epochs, o);
  et.batch = p.emb_batch;
  et.lr = p.emb_lr;
  stage(6, n_stages, "training the embedding network (small ResNet + ArcFace, " + std::to_string(p.emb_epochs) +
                         " epochs, CPU) -> " + et.out);
  EmbedTrainResult er;
  timed("train embedding", [&] { er = train_embed(et); });
  res.embedding_model = et.out + "/best.safetensors";

  stage(7, n_stages, "evaluating the embedding network (closed set; verification on held-out identities)");
  EmbedEvalOptions ee;
  ee.data = data;
  ee.model = res.embedding_model;
  ee.out = o.out + "/eval_embed";
  ee.workers = o.workers;
  ee.quiet = true;
  EmbedEvalResult eev;
  timed("eval embedding", [&] { eev = eval_embed(ee); });
  res.closed_acc = eev.closed_acc_flip;
  res.auc = eev.auc;
  res.tar_at_far_1e2 = eev.tar_at_far_1e2;
  res.acc10 = eev.acc10_mean;
  res.acc10_std = eev.acc10_std;
  res.tar_at_far_1e3 = eev.tar_at_far_1e3;
  res.acc_at_06 = eev.acc_at_06;
  std::printf("      closed-set top-1 %.3f (flip TTA); held-out: ROC AUC %.3f, TAR@FAR=1e-2 %.3f, 10-fold acc %.3f\n",
              res.closed_acc, res.auc, res.tar_at_far_1e2, res.acc10);

  // 5. verification of two pairs of held-out identities, each face found by the detector; the
  // second photo of each pair shows the face left of centre on a wider scene.
  stage(8, n_stages, "verifying a same-identity and a different-identity pair of held-out identities (faces found "
                     "by the detector)");
  EmbedSplit split = make_embed_split(load_faces(data, FaceFilter::Landmarks), parse_split_kind(et.split), et.holdout,
                                      et.seed);
  FF_CHECK(split.holdout_identities.size() >= 2, "demo: fewer than two held-out identities");
  auto first_of = [&](int identity, int skip) -> const FaceRecord& {
    for (const FaceRecord& f : faces.faces)
      if (f.identity == identity && skip-- == 0) return f;
    FF_FAIL("demo: identity ", identity, " has too few images");
  };
  const FaceRecord& a0 = first_of(split.holdout_identities[0], 0);
  const FaceRecord& a1 = first_of(split.holdout_identities[0], 1);
  const FaceRecord& b0 = first_of(split.holdout_identities[1], 0);
  LandmarkModel lm = load_landmark_model(res.landmark_model);
  EmbeddingModel em = load_embedding_model(res.embedding_model);
  fs::create_directories(o.out + "/verify");
  VerifyResult same, diff;
  auto [a1_photo, a1_box] = off_centre_photo(load_image(a1.path, 3), *a1.box, o.seed, 1);
  auto [b0_photo, b0_box] = off_centre_photo(load_image(b0.path, 3), *b0.box, o.seed, 2);
  const Image a0_photo = load_image(a0.path, 3);
  // The detector's face, or (said, and counted in summary.json) the synthetic set's own box when
  // it finds none: a --quick detector is trained too briefly to be relied on.
  auto box_for = [&](const Image& photo, const std::string& name, const FaceBox& truth) -> std::optional<FaceBox> {
    if (!detector->detect(photo).empty()) return std::nullopt;
    std::printf("      %s: the detector found no face; using the synthetic set's box\n", name.c_str());
    ++res.undetected_faces;
    return truth;
  };
  const std::string a1_name = "scene_" + a1.file, b0_name = "scene_" + b0.file;
  const auto ba0 = box_for(a0_photo, a0.file, *a0.box), ba1 = box_for(a1_photo, a1_name, a1_box),
             bb0 = box_for(b0_photo, b0_name, b0_box);
  timed("verify 2 pairs", [&] {
    same = verify_faces(detector.get(), lm, em, a0_photo, a1_photo, a0.file, a1_name, ba0, ba1, 0.6);
    diff = verify_faces(detector.get(), lm, em, a0_photo, b0_photo, a0.file, b0_name, ba0, bb0, 0.6);
  });
  save_png(verify_report_image(same), o.out + "/verify/same.png");
  save_png(verify_report_image(diff), o.out + "/verify/different.png");
  fs::copy_file(o.out + "/verify/same.png", report_dir + "/verify_same.png", fs::copy_options::overwrite_existing);
  fs::copy_file(o.out + "/verify/different.png", report_dir + "/verify_different.png",
                fs::copy_options::overwrite_existing);
  res.same_cosine = same.cosine;
  res.different_cosine = diff.cosine;
  res.same_decision = same.same;
  res.different_decision = diff.same;
  std::printf("      same identity (%s, %s): cosine %.3f -> %s\n", a0.file.c_str(), a1_name.c_str(), same.cosine,
              same.same ? "same" : "different");
  std::printf("      different identities (%s, %s): cosine %.3f -> %s\n", a0.file.c_str(), b0_name.c_str(),
              diff.cosine, diff.same ? "same" : "different");

  // 6. report
  stage(9, n_stages, "writing the report");
  {
    const std::vector<double> x1(lr.loss_steps.begin(), lr.loss_steps.end()),
        x2(er.loss_steps.begin(), er.loss_steps.end());
    ChartOptions c;
    c.width = 640;
    c.height = 360;
    c.log_y = true;
    c.x_label = "step";
    c.y_label = "loss";
    auto series = [](const std::vector<double>& x, const std::vector<double>& y) {
      Series s;
      s.name = "loss";
      s.x = x;
      s.y = y;
      return std::vector<Series>{s};
    };
    c.title = "landmark net: weighted heatmap MSE";
    save_line_chart(report_dir + "/loss_landmarks.svg", series(x1, lr.losses), c);
    c.title = "embedding network (ArcFace cross-entropy)";
    save_line_chart(report_dir + "/loss_embedding.svg", series(x2, er.losses), c);
  }
  auto copy_if = [&](const std::string& from, const std::string& to) {
    if (!fs::exists(from)) return false;
    fs::copy_file(from, report_dir + "/" + to, fs::copy_options::overwrite_existing);
    return true;
  };
  const bool has_ced = copy_if(le.out + "/ced.svg", "ced.svg");
  const bool has_roc = copy_if(ee.out + "/roc.svg", "roc.svg");
  const bool has_faces = copy_if(et.out + "/report/aligned_faces.png", "aligned_faces.png");

  res.seconds = since(t_all);
  HtmlReport h(std::string("faceforge demo") + (o.quick ? " (--quick)" : ""));
  h.paragraph("Everything here was computed on this machine by `faceforge demo` from procedurally drawn faces: "
              "no data or weights were downloaded. Total time " + fmt("%.0f", res.seconds) + " s.");
  if (o.quick)
    h.paragraph("This is a --quick run: every stage runs, on so little data and so few epochs that the networks "
                "learn next to nothing. Run `faceforge demo` without --quick for figures that mean something.");
  h.section("1. Data");
  h.paragraph(std::to_string(p.identities) + " synthetic identities x " + std::to_string(p.per_identity) +
              " images (" + std::to_string(p.size) + " px), in CelebA's file formats (data/synth.h). "
              "Green: face box; red: the five landmarks.");
  h.image("data.png", "training images with their boxes and landmarks");
  h.section("2. Face detection");
  h.paragraph(std::to_string(p.scenes) + " synthetic scenes with zero to four faces each, of 20 px to most of the "
              "picture, train the small anchor-free detector (models/detector.h: a centre heatmap, box size and five "
              "points per face at stride 4) on augmented 160-px samples: random scale and crop, zoom-out, mosaics, "
              "flips, colour jitter, pictures with no face. Validation AP at IoU 0.5 on the last tenth of the scenes: " +
              fmt("%.3f", res.detector_ap50) + ". Every later stage finds faces with it.");
  h.image("detections.png", "validation scenes with the faces the detector finds (box, score, five points)");
  h.section("3. Landmarks (stacked hourglass)");
  h.paragraph("Each face box is enlarged 1.35x to a square, resized to 128 px and fed to the small two-stack "
              "hourglass; heatmaps are decoded (" + std::string(decode_name(lev.decode)) +
              ") and mapped back to photo pixels (face/landmarks.h).");
  h.image("loss_landmarks.svg", "training loss per step");
  h.table({"metric", "value", "what it measures"},
          {{"validation images", std::to_string(lev.metrics.n_images), "Photos never trained on."},
           {"mean NME (inter-ocular)", fmt("%.4f", res.nme), glossary::kNme},
           {"failure rate (NME > 0.1)", fmt("%.3f", lev.metrics.failure_rate), glossary::kFailureRate},
           {"CED AUC @ 0.1", fmt("%.3f", lev.metrics.auc), glossary::kCedAuc}});
  h.image("landmarks_val.png", "validation images: green + truth, red x prediction");
  if (has_ced) h.image("ced.svg", "cumulative error distribution: the fraction of images (y) whose NME is at most x");
  h.section("4. Embeddings (ResNet + ArcFace)");
  h.paragraph("Faces are aligned by a similarity transform of their five landmarks onto insightface's template "
              "and embedded with flip test-time augmentation (face/embed.h). Verification is measured on "
              + std::to_string(eev.holdout_identities) + " identities never trained on.");
  if (has_faces) h.image("aligned_faces.png", "aligned validation faces: plain, flipped, augmented");
  h.image("loss_embedding.svg", "training loss per step");
  h.table({"metric", "value", "what it measures"},
          {{"closed-set top-1 (flip TTA)", fmt("%.3f", eev.closed_acc_flip), glossary::kClosedSet},
           {"closed-set top-1", fmt("%.3f", eev.closed_acc), "The same without the mirrored photo."},
           {"held-out pairs (same / different)",
            std::to_string(eev.positive_pairs) + " / " + std::to_string(eev.negative_pairs),
            "Every pair of photos of one held-out identity, and as many random pairs of two, scored by the cosine "
            "of their embeddings."},
           {"ROC AUC", fmt("%.4f", eev.auc), glossary::kRocAuc},
           {"TAR @ FAR 1e-2", fmt("%.3f", eev.tar_at_far_1e2), glossary::kTarAtFar},
           {"TAR @ FAR 1e-3", fmt("%.3f", eev.tar_at_far_1e3), "As above, with at most 1 in 1000 different pairs accepted."},
           {"10-fold accuracy", fmt("%.3f", eev.acc10_mean) + " +- " + fmt("%.3f", eev.acc10_std), glossary::kTenFold},
           {"accuracy at cosine 0.6", fmt("%.3f", eev.acc_at_06),
            "The fraction of pairs judged right by the fixed threshold `faceforge verify` uses."}});
  if (has_roc) h.image("roc.svg", "ROC on held-out identities: true accept rate (y) against false accept rate (x)");
  h.section("5. Verification (`faceforge verify`)");
  h.paragraph("The second photo of each pair puts the face left of centre on a wider scene: the detector finds it " +
              std::string(res.undetected_faces == 0 ? "in every photo."
                                                    : "in all but " + std::to_string(res.undetected_faces) +
                                                          " photos (the synthetic set's box was used there)."));
  h.image("verify_same.png", "two photos of one held-out identity");
  h.image("verify_different.png", "photos of two held-out identities");
  h.section("Timing");
  std::vector<std::vector<std::string>> rows;
  for (const auto& [name, s] : res.stage_seconds) rows.push_back({name, fmt("%.1f", s)});
  rows.push_back({"total", fmt("%.1f", res.seconds)});
  h.table({"stage", "seconds"}, rows);
  h.section("Models");
  h.preformatted("detector: " + res.detector_model + "\nlandmarks: " + res.landmark_model + "\nembedding: " +
                 res.embedding_model + "\n\nfaceforge verify A.jpg B.jpg --detector " + res.detector_model +
                 " --model " + res.embedding_model + " --landmarks-model " + res.landmark_model + " --report pair.png");
  res.report = report_dir + "/index.html";
  h.write(res.report);
  write_demo_summary(o.out + "/summary.json", o, res);
  return res;
}

}  // namespace ff
