// face/verify_eval.cpp — see verify_eval.h.
#include "face/verify_eval.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "data/celeba.h"
#include "data/face_sample.h"
#include "data/pairs.h"
#include "engine/error.h"
#include "engine/safetensors.h"
#include "face/detect.h"
#include "face/embed.h"
#include "face/embed_report.h"
#include "face/pipeline.h"
#include "report/draw.h"
#include "train/progress.h"
#include "train/run.h"  // csv_field

namespace ff {

namespace fs = std::filesystem;

namespace {

// What became of one photo of the list.
enum class PhotoStatus { Ok, Unreadable, NoFace };

struct Photo {
  std::string name, path;
  size_t line = 0;  // the first line of the pairs list naming it
  PhotoStatus status = PhotoStatus::Ok;
  std::string why;  // for Unreadable / NoFace
  int faces = 0;    // faces the detector found
  Landmarks5 landmarks{};
};

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string pct(double v) { return fmt("%.2f%%", 100 * v); }

// One pair's tile of the contact sheet: the two aligned faces side by side, three lines of text
// under them.
Image pair_tile(const Image& a, const Image& b, const std::string& text) {
  const int side = a.width, gap = 4, text_h = 44;
  Image tile(2 * side + gap, side + text_h, 3, 255);
  for (int k = 0; k < 2; ++k) {
    const Image& f = k == 0 ? a : b;
    const int x0 = k * (side + gap);
    for (int y = 0; y < side; ++y)
      std::copy(f.data() + static_cast<size_t>(y) * side * 3, f.data() + static_cast<size_t>(y + 1) * side * 3,
                tile.data() + (static_cast<size_t>(y) * tile.width + x0) * 3);
  }
  Canvas c(tile);
  c.text(2, side + 2, text, Color{0, 0, 0}, 10);
  c.flush();
  return tile;
}

// "…tail" of a long name, so a tile's caption fits.
std::string shorten(const std::string& s, size_t n) { return s.size() <= n ? s : ".." + s.substr(s.size() - n + 2); }

}  // namespace

VerifyEvalResult eval_verify(const VerifyEvalOptions& o) {
  FF_CHECK(!o.pairs.empty(), "eval-verify: --pairs is required");
  FF_CHECK(!o.images.empty(), "eval-verify: --images is required");
  FF_CHECK(!o.model.empty(), "eval-verify: --model is required");
  FF_CHECK(fs::is_directory(o.images), "eval-verify: --images ", o.images, " is not a folder");
  FF_CHECK(o.batch >= 1, "eval-verify: --batch must be at least 1, got ", o.batch);
  FF_CHECK(o.workers >= 0, "eval-verify: --workers must be >= 0, got ", o.workers);
  FF_CHECK(o.sheet_pairs >= 0, "eval-verify: --sheet-pairs must be >= 0, got ", o.sheet_pairs);
  const PairList list = read_pairs(o.pairs);
  const int64_t n_pairs = static_cast<int64_t>(list.pairs.size());
  const int64_t n_same = static_cast<int64_t>(list.same_count());
  FF_CHECK(n_same > 0 && n_same < n_pairs, "eval-verify: ", o.pairs, " has ", n_same, " same-person and ",
           n_pairs - n_same, " different-person pairs; verification needs both");
  EmbeddingModel emb = load_embedding_model(o.model);

  // The distinct photos, in the order the list first names them.
  std::vector<Photo> photos;
  std::unordered_map<std::string, size_t> index;
  std::vector<size_t> pa(n_pairs), pb(n_pairs);
  const ImageFolder folder(o.images);
  for (int64_t i = 0; i < n_pairs; ++i) {
    const PhotoPair& p = list.pairs[i];
    for (int k = 0; k < 2; ++k) {
      const std::string& name = k == 0 ? p.a : p.b;
      auto [it, fresh] = index.emplace(name, photos.size());
      if (fresh) {
        Photo ph;
        ph.name = name;
        ph.path = folder.path_of(name, o.pairs, p.line);
        ph.line = p.line;
        photos.push_back(std::move(ph));
      }
      (k == 0 ? pa : pb)[i] = it->second;
    }
  }

  // How the faces are found and aligned.
  VerifyEvalResult r;
  std::unique_ptr<FaceDetector> detector;
  std::optional<LandmarkModel> lmk;
  if (!o.landmarks.empty()) {
    FF_CHECK(o.detector.empty() && !o.detector_landmarks && o.landmarks_model.empty(),
             "eval-verify: --landmarks aligns by the list's points; it cannot be combined with --detector, "
             "--detector-landmarks or --landmarks-model");
    std::unordered_map<std::string, Landmarks5> given;
    for (const LandmarkRow& row : read_landmarks(o.landmarks)) given[row.file] = row.points;
    std::vector<std::string> missing;
    for (Photo& ph : photos) {
      auto it = given.find(ph.name);
      if (it == given.end()) {
        if (missing.size() < 5) missing.push_back(o.pairs + ":" + std::to_string(ph.line) + " " + ph.name);
        continue;
      }
      ph.landmarks = it->second;
    }
    if (!missing.empty()) {
      int64_t n_missing = 0;
      for (const Photo& ph : photos) n_missing += !given.count(ph.name);
      std::string ex;
      for (const std::string& m : missing) ex += (ex.empty() ? "" : ", ") + m;
      FF_FAIL("eval-verify: ", o.landmarks, " has no landmarks for ", n_missing, " of the ", photos.size(),
              " photos of ", o.pairs, " (", ex, n_missing > 5 ? ", ..." : "", ")");
    }
    r.aligned_by = "the landmarks of " + o.landmarks;
  } else {
    DetectOptions d;
    if (o.detect_threshold >= 0) d.score_threshold = o.detect_threshold;
    detector = load_detector(o.detector.empty() ? default_detector_model() : o.detector, d);
    if (o.detector_landmarks) {
      FF_CHECK(o.landmarks_model.empty(),
               "eval-verify: --detector-landmarks aligns by the detector's points; "
               "--landmarks-model is not used with it");
      r.aligned_by = detector->name() + ", the largest face, aligned by its five points";
    } else {
      std::string path = o.landmarks_model;
      if (path.empty()) {
        auto rec = emb.loaded.meta.find("train.landmarks_model");
        path =
            rec != emb.loaded.meta.end() && fs::is_regular_file(rec->second) ? rec->second : default_landmark_model();
      }
      lmk = load_landmark_model(path);
      r.aligned_by = detector->name() + ", the largest face, landmarks by " + path;
    }
  }

  // Each photo: read, face, landmarks, embedding — a chunk at a time, so memory holds one chunk's
  // photos however long the list.
  const int64_t n_photos = static_cast<int64_t>(photos.size());
  const int64_t D = emb.dim;
  std::vector<float> emb_rows(static_cast<size_t>(n_photos * D), 0.0f);
  const int64_t chunk = std::max<int64_t>(o.batch, 16);
  Progress progress("eval-verify", n_photos, "photos");
  double detect_seconds = 0;  // of r.seconds
  const bool want_points = detector && !o.detector_landmarks;
  for (int64_t c0 = 0; c0 < n_photos; c0 += chunk) {
    const int64_t m = std::min(chunk, n_photos - c0);
    std::vector<Image> imgs(m);
    std::vector<std::string> errs(m);
#pragma omp parallel for schedule(dynamic) num_threads(std::max(1, o.workers))
    for (int64_t k = 0; k < m; ++k) {
      try {
        imgs[k] = load_image(photos[c0 + k].path, 3);
      } catch (const std::exception& e) {
        errs[k] = e.what();
      }
    }
    std::vector<const Image*> ptrs;
    std::vector<Landmarks5> points;
    std::vector<FaceBox> boxes;
    std::vector<int64_t> rows;
    for (int64_t k = 0; k < m; ++k) {
      Photo& ph = photos[c0 + k];
      if (!errs[k].empty()) {
        ph.status = PhotoStatus::Unreadable;
        ph.why = errs[k];
        continue;
      }
      if (detector) {
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<FaceDetection> found = detector->detect(imgs[k]);
        detect_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        ph.faces = static_cast<int>(found.size());
        if (found.empty()) {
          ph.status = PhotoStatus::NoFace;
          ph.why = "no face found by " + detector->name();
          continue;
        }
        const FaceDetection& best =
            *std::max_element(found.begin(), found.end(), [](const FaceDetection& x, const FaceDetection& y) {
              return x.box.width * x.box.height < y.box.width * y.box.height;
            });
        if (o.detector_landmarks) {
          FF_CHECK(best.has_landmarks, "eval-verify: --detector-landmarks but ", detector->name(),
                   " gives no landmarks (MTCNN does; ours does when trained with them)");
          ph.landmarks = best.landmarks;
        }
        boxes.push_back(best.box);
      }
      ptrs.push_back(&imgs[k]);
      rows.push_back(c0 + k);
    }
    if (want_points && !ptrs.empty()) {
      std::vector<Landmarks5> pts =
          predict_landmarks(*lmk->net, ptrs, boxes, lmk->framing, lmk->decode, Device::cpu(), o.batch);
      for (size_t k = 0; k < rows.size(); ++k) photos[rows[k]].landmarks = pts[k];
    }
    for (int64_t row : rows) points.push_back(photos[row].landmarks);
    if (!ptrs.empty()) {
      std::vector<float> e = embed_photos(emb, ptrs, points, o.batch).to_vector<float>();
      for (size_t k = 0; k < rows.size(); ++k)
        std::copy(e.begin() + static_cast<int64_t>(k) * D, e.begin() + static_cast<int64_t>(k + 1) * D,
                  emb_rows.begin() + rows[k] * D);
    }
    if (!o.quiet) progress.update(c0 + m);
  }
  r.seconds = progress.seconds();
  r.ms_per_photo = n_photos ? 1000 * r.seconds / static_cast<double>(n_photos) : 0;
  r.detect_ms_per_photo = n_photos ? 1000 * detect_seconds / static_cast<double>(n_photos) : 0;
  for (const Photo& ph : photos) {
    r.photos_unreadable += ph.status == PhotoStatus::Unreadable;
    r.photos_no_face += ph.status == PhotoStatus::NoFace;
    r.photos_several_faces += ph.faces > 1;
  }

  // Scores and the numbers.
  r.format = list.format;
  r.folds = list.folds;
  r.pairs = n_pairs;
  r.same_pairs = n_same;
  r.different_pairs = n_pairs - n_same;
  r.photos = n_photos;
  r.scores.resize(n_pairs);
  for (int64_t i = 0; i < n_pairs; ++i) {
    const PhotoPair& p = list.pairs[i];
    r.same.push_back(p.same ? 1 : 0);
    r.fold.push_back(p.fold);
    const bool failed = photos[pa[i]].status != PhotoStatus::Ok || photos[pb[i]].status != PhotoStatus::Ok;
    r.pairs_with_failed_photo += failed;
    double dot = 0;
    if (!failed)
      for (int64_t k = 0; k < D; ++k) dot += static_cast<double>(emb_rows[pa[i] * D + k]) * emb_rows[pb[i] * D + k];
    r.scores[i] = dot;
  }
  r.roc = roc_curve(r.scores, r.same);
  r.auc = roc_auc(r.scores, r.same);
  r.tar_far_1e1 = tar_at_far(r.roc, 1e-1, r.same_pairs, r.different_pairs);
  r.tar_far_1e2 = tar_at_far(r.roc, 1e-2, r.same_pairs, r.different_pairs);
  r.tar_far_1e3 = tar_at_far(r.roc, 1e-3, r.same_pairs, r.different_pairs);
  if (list.folds >= 2) {
    std::vector<int64_t> per_fold(list.folds, 0);
    for (int f : r.fold) ++per_fold[f];
    for (int f = 0; f < list.folds; ++f)
      FF_CHECK(per_fold[f] > 0, "eval-verify: ", o.pairs, " declares ", list.folds, " folds but fold ", f + 1,
               " has no pairs");
    r.kfold = kfold_accuracy(r.scores, r.same, r.fold, list.folds);
    for (int64_t i = 0; i < n_pairs; ++i)
      r.right.push_back((r.scores[i] >= r.kfold.fold_threshold[r.fold[i]]) == (r.same[i] != 0));
  }

  // The table.
  std::ostringstream t;
  char line[512];
  auto row = [&](const char* name, const std::string& value) {
    std::snprintf(line, sizeof line, "  %-40s %s\n", name, value.c_str());
    t << line;
  };
  t << "eval-verify: " << o.model << " on " << o.pairs << " ("
    << (list.format == "lfw" ? "LFW's pairs.txt format" : "a plain list") << ")\n";
  t << "  photos from " << o.images << ", aligned by " << r.aligned_by << "\n";
  row("pairs: same / different", std::to_string(r.same_pairs) + " / " + std::to_string(r.different_pairs));
  row("photos / unreadable / no face found",
      std::to_string(r.photos) + " / " + std::to_string(r.photos_unreadable) + " / " +
          std::to_string(r.photos_no_face) +
          (r.pairs_with_failed_photo ? " (" + std::to_string(r.pairs_with_failed_photo) + " pairs score 0 for it)"
                                     : std::string()));
  if (detector) row("photos with several faces (largest used)", std::to_string(r.photos_several_faces));
  if (list.folds >= 2) {
    std::snprintf(line, sizeof line, "%.2f%% +- %.2f%% (thresholds %.4f .. %.4f, mean %.4f)", 100 * r.kfold.mean,
                  100 * r.kfold.std, *std::min_element(r.kfold.fold_threshold.begin(), r.kfold.fold_threshold.end()),
                  *std::max_element(r.kfold.fold_threshold.begin(), r.kfold.fold_threshold.end()),
                  r.kfold.mean_threshold);
    row((std::to_string(list.folds) + "-fold accuracy (LFW protocol)").c_str(), line);
  } else {
    row("k-fold accuracy", "n/a (the list has one fold)");
  }
  row("ROC AUC", fmt("%.4f", r.auc));
  auto tar = [&](const TarAtFar& x) {
    return pct(x.tar) + fmt(" (threshold %.4f", x.threshold) +
           (x.resolved ? ")" : "; too few different pairs to resolve this FAR)");
  };
  row("TAR at FAR 1e-1", tar(r.tar_far_1e1));
  row("TAR at FAR 1e-2", tar(r.tar_far_1e2));
  row("TAR at FAR 1e-3", tar(r.tar_far_1e3));
  row("time", fmt("%.1f s", r.seconds) + fmt(" (%.1f ms per photo: read, detect, landmarks, embed", r.ms_per_photo) +
                  (detector ? fmt("; detection %.1f ms)", r.detect_ms_per_photo) : std::string(")")));

  if (!o.out.empty()) {
    fs::create_directories(o.out);
    const char* who = "eval-verify";
    std::ostringstream m;
    m << "metric,value\n";
    auto put = [&](const std::string& k, double v) { m << k << "," << fmt("%.9g", v) << "\n"; };
    put("pairs", static_cast<double>(r.pairs));
    put("same_pairs", static_cast<double>(r.same_pairs));
    put("different_pairs", static_cast<double>(r.different_pairs));
    put("folds", r.folds);
    put("photos", static_cast<double>(r.photos));
    put("photos_unreadable", static_cast<double>(r.photos_unreadable));
    put("photos_no_face", static_cast<double>(r.photos_no_face));
    put("pairs_with_failed_photo", static_cast<double>(r.pairs_with_failed_photo));
    if (list.folds >= 2) {
      put("kfold_mean", r.kfold.mean);
      put("kfold_std", r.kfold.std);
      put("kfold_mean_threshold", r.kfold.mean_threshold);
      for (int f = 0; f < list.folds; ++f) {
        put("fold" + std::to_string(f + 1) + "_accuracy", r.kfold.fold_accuracy[f]);
        put("fold" + std::to_string(f + 1) + "_threshold", r.kfold.fold_threshold[f]);
      }
    }
    put("roc_auc", r.auc);
    put("tar_at_far_1e-1", r.tar_far_1e1.tar);
    put("tar_at_far_1e-2", r.tar_far_1e2.tar);
    put("tar_at_far_1e-3", r.tar_far_1e3.tar);
    put("ms_per_photo", r.ms_per_photo);
    put("detect_ms_per_photo", r.detect_ms_per_photo);
    write_file_atomic(o.out + "/metrics.csv", m.str(), who);
    std::ostringstream s;
    s << "line,a,b,same,fold,score,threshold,right\n";
    for (int64_t i = 0; i < n_pairs; ++i) {
      const PhotoPair& p = list.pairs[i];
      s << p.line << "," << csv_field(p.a) << "," << csv_field(p.b) << "," << int(r.same[i]) << "," << p.fold + 1 << ","
        << fmt("%.6f", r.scores[i]) << ","
        << (r.right.empty() ? std::string() : fmt("%.6f", r.kfold.fold_threshold[p.fold])) << ","
        << (r.right.empty() ? std::string() : std::to_string(int(r.right[i]))) << "\n";
    }
    write_file_atomic(o.out + "/scores.csv", s.str(), who);
    std::ostringstream roc;
    roc << "far,tar,threshold\n";
    for (const RocPoint& p : r.roc)
      roc << fmt("%.9g", p.far) << "," << fmt("%.9g", p.tar) << "," << fmt("%.9g", p.threshold) << "\n";
    write_file_atomic(o.out + "/roc.csv", roc.str(), who);
    const std::string title = "verification on " + fs::path(o.pairs).filename().string() + " (" +
                              std::to_string(r.same_pairs) + " + " + std::to_string(r.different_pairs) + " pairs)";
    write_roc_chart(o.out + "/roc.png", r.roc, r.auc, title);
    write_roc_chart(o.out + "/roc.svg", r.roc, r.auc, title);
    std::ostringstream fp;
    fp << "photo,first_line,status,faces,why\n";
    for (const Photo& ph : photos)
      if (ph.status != PhotoStatus::Ok)
        fp << csv_field(ph.name) << "," << ph.line << ","
           << (ph.status == PhotoStatus::Unreadable ? "unreadable" : "no_face") << "," << ph.faces << ","
           << csv_field(ph.why) << "\n";
    write_file_atomic(o.out + "/failed_photos.csv", fp.str(), who);
    r.written = {"metrics.csv", "scores.csv", "roc.csv", "roc.png", "roc.svg", "failed_photos.csv"};

    // The contact sheet: the worst-decided pairs, false rejects first, then false accepts, each
    // ordered by how far its score is on the wrong side of its fold's threshold.
    if (!r.right.empty() && o.sheet_pairs > 0) {
      std::vector<int64_t> rejects, accepts;
      for (int64_t i = 0; i < n_pairs; ++i)
        if (!r.right[i]) (r.same[i] ? rejects : accepts).push_back(i);
      auto margin = [&](int64_t i) { return std::abs(r.scores[i] - r.kfold.fold_threshold[r.fold[i]]); };
      for (auto* v : {&rejects, &accepts})
        std::stable_sort(v->begin(), v->end(), [&](int64_t x, int64_t y) { return margin(x) > margin(y); });
      // Half each; what one kind lacks, the other fills.
      const size_t n_shown = static_cast<size_t>(o.sheet_pairs);
      size_t take_r = std::min(rejects.size(), n_shown / 2);
      const size_t take_a = std::min(accepts.size(), n_shown - take_r);
      take_r = std::min(rejects.size(), n_shown - take_a);
      std::vector<int64_t> shown(rejects.begin(), rejects.begin() + take_r);
      shown.insert(shown.end(), accepts.begin(), accepts.begin() + take_a);
      std::vector<Image> tiles;
      const int64_t side = 112;
      auto face_of = [&](const Photo& ph) {
        if (ph.status != PhotoStatus::Ok) {  // a grey square saying why
          Image g(side, side, 3, 200);
          Canvas c(g);
          c.text(4, 4, ph.status == PhotoStatus::Unreadable ? "unreadable" : "no face\nfound", Color{0, 0, 0}, 11);
          c.flush();
          return g;
        }
        const Image photo = load_image(ph.path, 3);
        return warp_image(photo, alignment_matrix(ph.landmarks, side, false, ph.name), side, side);
      };
      for (int64_t i : shown) {
        const double thr = r.kfold.fold_threshold[r.fold[i]];
        std::string text = std::string(r.same[i] ? "same, rejected: " : "different, accepted: ") +
                           fmt("%.3f", r.scores[i]) + (r.same[i] ? " < " : " >= ") + fmt("%.3f", thr) + "\n" +
                           shorten(photos[pa[i]].name, 36) + "\n" + shorten(photos[pb[i]].name, 36);
        tiles.push_back(pair_tile(face_of(photos[pa[i]]), face_of(photos[pb[i]]), text));
      }
      Image sheet;
      if (tiles.empty()) {
        sheet = Image(420, 40, 3, 255);
        Canvas c(sheet);
        c.text(6, 12, "no pair failed", Color{0, 0, 0}, 12);
      } else {
        sheet = montage(tiles, {}, 4, 8);
      }
      // A title line above the grid.
      const std::string title = std::to_string(rejects.size()) + " same pairs rejected, " +
                                std::to_string(accepts.size()) +
                                " different pairs accepted (each by its fold's "
                                "threshold); the " +
                                std::to_string(take_r) + " + " + std::to_string(take_a) + " furthest from it";
      const int title_h = 24;
      Image out(std::max(sheet.width, text_width(title, 12) + 12), sheet.height + title_h, 3, 255);
      for (int y = 0; y < sheet.height; ++y)
        std::copy(sheet.data() + static_cast<size_t>(y) * sheet.width * 3,
                  sheet.data() + static_cast<size_t>(y + 1) * sheet.width * 3,
                  out.data() + (static_cast<size_t>(y + title_h) * out.width) * 3);
      {
        Canvas c(out);
        c.text(6, 5, title, Color{0, 0, 0}, 12);
      }
      save_png(out, o.out + "/failed_pairs.png");
      r.written.push_back("failed_pairs.png");
    }
  }
  r.table = t.str();
  return r;
}

}  // namespace ff
