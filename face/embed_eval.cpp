// face/embed_eval.cpp — `faceforge eval-embed` as a library function (face/embed.h): closed-set
// accuracy on the validation images of the trained identities, open-set verification on the
// identities the run held out.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <memory>
#include <optional>
#include <sstream>
#include <cstdint>

#include "engine/safetensors.h"
#include "train/run.h"
#include "engine/autograd.h"
#include "engine/parse.h"
#include "layers/heads.h"
#include "models/factory.h"
#include "models/resnet.h"
#include "face/detect.h"
#include "face/embed.h"
#include "face/embed_report.h"
#include "face/pipeline.h"
#include "train/metrics.h"

namespace ff {

namespace {

std::vector<int> parse_ints(const std::string& s, const std::string& what) {
  std::vector<int> v;
  std::stringstream ss(s);
  std::string cell;
  while (std::getline(ss, cell, ','))
    if (!cell.empty()) v.push_back(static_cast<int>(parse_int(cell, what, 0, INT32_MAX)));
  return v;
}

std::string meta_at(const std::map<std::string, std::string>& m, const std::string& k, const std::string& file) {
  auto it = m.find(k);
  FF_CHECK(it != m.end(), "eval-embed: ", file, " has no metadata '", k,
           "': not a checkpoint written by faceforge train-embed");
  return it->second;
}

}  // namespace

EmbedEvalResult eval_embed(const EmbedEvalOptions& o) {
  FF_CHECK(!o.data.empty(), "eval-embed: --data is required");
  FF_CHECK(!o.model.empty(), "eval-embed: --model is required");
  FF_CHECK(std::filesystem::is_regular_file(o.model), "eval-embed: model file ", o.model, " does not exist");
  FF_CHECK(o.batch >= 2, "eval-embed: --batch must be >= 2, got ", o.batch);
  const Device dev = Device::parse(o.device);
  FF_CHECK(dev.is_cpu() || cuda_available(), "eval-embed: --device cuda but no CUDA device is available");

  SafeTensors st = read_safetensors(o.model);
  auto kind = st.metadata.find("model");
  FF_CHECK(kind != st.metadata.end() && kind->second == "embedding", "eval-embed: ", o.model, " holds a ",
           kind == st.metadata.end() ? std::string("model of unknown kind") : "'" + kind->second + "' model",
           ", not a face-embedding network (train one with `faceforge train-embed`)");
  LoadedModel lm = load_model(st, o.model);
  FF_CHECK(lm.has_head(), "eval-embed: ", o.model, " has no classification head; closed-set accuracy needs one");
  EmbeddingNet& net = lm.embedding();
  Head& head = lm.get_head();
  lm.to(dev);
  lm.eval();

  // The run's split, recomputed from its recorded settings and checked against its recorded
  // identities (a different dataset, or a changed one, is refused rather than mis-scored).
  const std::vector<int> trained = parse_ints(meta_at(st.metadata, "train.identities", o.model),
                                               o.model + ": metadata 'train.identities'");
  const std::vector<int> held = parse_ints(meta_at(st.metadata, "train.holdout_identities", o.model),
                                            o.model + ": metadata 'train.holdout_identities'");
  FaceSet set = load_faces(o.data, FaceFilter::Landmarks);
  // Align as training did unless told otherwise.
  auto rec = st.metadata.find("train.landmarks_model");
  std::string lm_model = o.ground_truth_landmarks      ? std::string()
                         : !o.landmarks_model.empty() ? o.landmarks_model
                         : rec != st.metadata.end()   ? rec->second
                                                      : std::string();
  LandmarkSource landmarks;
  // With --wild the landmark network serves the wild photos; the dataset side stays on the
  // dataset's landmarks (what the pipeline's own stages are measured against).
  if (!lm_model.empty() && o.wild.empty()) landmarks = use_predicted_landmarks(set, lm_model, dev, o.batch, o.workers);
  EmbedSplit split = make_embed_split(set, parse_split_kind(meta_at(st.metadata, "train.split", o.model)),
                                      static_cast<int>(parse_int(meta_at(st.metadata, "train.holdout", o.model),
                                                                 o.model + ": metadata 'train.holdout'", -1, 1000000)),
                                      parse_uint64(meta_at(st.metadata, "train.seed", o.model),
                                                   o.model + ": metadata 'train.seed'"));
  FF_CHECK(split.train_identities == trained && split.holdout_identities == held, "eval-embed: the identities of ",
           o.data, " do not match those ", o.model, " was trained and held out on (", trained.size(), " trained, ",
           held.size(), " held out; this dataset gives ", split.train_identities.size(), " and ",
           split.holdout_identities.size(), ")");
  FF_CHECK(static_cast<int64_t>(trained.size()) == head.classes(), "eval-embed: ", o.model, " has ", head.classes(),
           " classes but records ", trained.size(), " trained identities");

  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  auto say = [&](const std::string& what) {
    if (!o.quiet)
      std::fprintf(stderr, "eval-embed: %s (%.1f s)\n", what.c_str(),
                   std::chrono::duration<double>(clock::now() - t0).count());
  };
  say("faces aligned by " + landmarks.str() + "; embedding " + std::to_string(split.val.size()) +
      " validation images and their mirrors");
  EmbedEvalResult r;
  r.landmarks = landmarks;
  r.num_classes = head.classes();
  r.holdout_identities = static_cast<int64_t>(split.holdout_identities.size());
  std::vector<size_t> val = split.val, holdout = split.holdout;

  // --wild: only the photos the wild folder also holds, on both sides, so the two columns score
  // the same people on the same photos; the wild side finds each face itself.
  FaceSet wild;
  std::vector<uint8_t> missing;  // per record of `wild`: no face found
  if (!o.wild.empty()) {
    FF_CHECK(!o.detector.empty(), "eval-embed: --wild needs --detector FILE (the detector that finds the faces)");
    const std::string wild_dir = o.wild + "/img_celeba";
    FF_CHECK(std::filesystem::is_directory(wild_dir), "eval-embed: --wild ", o.wild, " has no img_celeba/ folder");
    // The names are --data's (already checked there); a symlink in the wild folder must not lead out.
    const ImageFolder wild_folder(wild_dir);
    const std::string wild_what = "eval-embed: --wild " + o.wild;
    auto keep_present = [&](std::vector<size_t>& v) {
      std::vector<size_t> k;
      for (size_t i : v)
        if (std::filesystem::is_regular_file(wild_folder.path_of(set.faces[i].file, wild_what, 0))) k.push_back(i);
      v = k;
    };
    keep_present(val);
    keep_present(holdout);
    FF_CHECK(!val.empty() || !holdout.empty(), "eval-embed: no photo of ", o.data, "'s validation or held-out images is in ",
             wild_dir);
    wild = set;
    wild.root = o.wild;
    wild.image_dir = wild_dir;
    missing.assign(wild.faces.size(), 0);
    std::vector<std::optional<FaceBox>> chosen(wild.faces.size());  // the box each photo's face came from
    std::vector<size_t> todo = val;
    todo.insert(todo.end(), holdout.begin(), holdout.end());
    DetectOptions dopt;
    if (o.detect_threshold >= 0) dopt.score_threshold = o.detect_threshold;
    std::unique_ptr<FaceDetector> detector = load_detector(o.detector, dopt);
    std::optional<LandmarkModel> lmk;
    if (!o.detector_landmarks) {
      FF_CHECK(!lm_model.empty(), "eval-embed: --wild needs a landmark network (--landmarks-model FILE) to align the "
               "faces it detects, or --detector-landmarks to align by the detector's own five points");
      lmk = load_landmark_model(lm_model);
    }
    r.wild_landmarks = o.detector_landmarks ? "the detector's five points" : "landmark network " + lm_model;
    say("wild photos: detecting faces in " + std::to_string(todo.size()) + " photos of " + wild_dir + " with " +
        detector->name() + ", landmarks by " + r.wild_landmarks);
    double detect_s = 0;
    const size_t chunk = 64;
    for (size_t c0 = 0; c0 < todo.size(); c0 += chunk) {
      std::vector<Image> photos;
      std::vector<size_t> recs;
      std::vector<FaceBox> boxes;
      for (size_t k = c0; k < std::min(todo.size(), c0 + chunk); ++k) {
        FaceRecord& f = wild.faces[todo[k]];
        f.path = wild_folder.path_of(f.file, wild_what, 0);
        Image photo = load_image(f.path, 3);
        const auto t = clock::now();
        std::vector<FaceDetection> found = detector->detect(photo);
        detect_s += std::chrono::duration<double>(clock::now() - t).count();
        if (found.empty()) {
          missing[todo[k]] = 1;
          ++r.wild_no_face;
          continue;
        }
        // The pipeline's rule (face/pipeline.h locate_face): the largest face.
        const FaceDetection* best = &found[0];
        for (const FaceDetection& d : found)
          if (d.box.width * d.box.height > best->box.width * best->box.height) best = &d;
        if (found.size() > 1) ++r.wild_several_faces;
        chosen[todo[k]] = best->box;
        if (o.detector_landmarks) {
          FF_CHECK(best->has_landmarks, "eval-embed: ", detector->name(), " gives no landmarks; use --landmarks-model");
          f.landmarks = best->landmarks;
          continue;
        }
        boxes.push_back(best->box);
        recs.push_back(todo[k]);
        photos.push_back(std::move(photo));
      }
      if (!recs.empty()) {
        std::vector<const Image*> ptrs;
        for (const Image& im : photos) ptrs.push_back(&im);
        std::vector<Landmarks5> pts =
            predict_landmarks(*lmk->net, ptrs, boxes, lmk->framing, lmk->decode, Device::cpu());
        for (size_t k = 0; k < recs.size(); ++k) wild.faces[recs[k]].landmarks = pts[k];
      }
    }
    // How far the pipeline's landmarks are from the wild folder's own labels, where it has them.
    if (std::filesystem::is_regular_file(o.wild + "/list_landmarks_celeba.txt")) {
      const FaceSet labelled = load_faces(o.wild, FaceFilter::Landmarks);
      std::map<std::string, const FaceRecord*> by_file;
      for (const FaceRecord& f : labelled.faces) by_file[f.file] = &f;
      std::vector<double> pred, gt;
      for (size_t i : todo) {
        auto it = by_file.find(wild.faces[i].file);
        if (missing[i] || it == by_file.end()) continue;
        if (it->second->box && box_iou(*chosen[i], *it->second->box) < 0.5) ++r.wild_other_face;
        for (int k = 0; k < 5; ++k) {
          pred.push_back((*wild.faces[i].landmarks)[k].x), pred.push_back((*wild.faces[i].landmarks)[k].y);
          gt.push_back((*it->second->landmarks)[k].x), gt.push_back((*it->second->landmarks)[k].y);
        }
      }
      if (!pred.empty()) {
        const LandmarkMetrics m = landmark_metrics(pred, gt, 5);
        r.wild_landmark_nme = m.mean_nme;
        r.wild_landmark_failures = m.failure_rate;
      }
    }
    r.wild_photos = static_cast<int64_t>(todo.size());
    r.wild_detect_ms = todo.empty() ? 0 : 1000 * detect_s / static_cast<double>(todo.size());
    say("wild photos: " + std::to_string(r.wild_no_face) + " without a face found, " +
        std::to_string(r.wild_several_faces) + " with several (the largest used)");
  }

  // One side's numbers: closed set on `val`, verification on `holdout` of faces `s`. A face marked
  // in `miss` counts as misclassified and scores 0 against every other face.
  struct Side {
    double acc = 0, acc_flip = 0;
    VerificationMetrics vm;
    double acc_at_06 = 0;
  };
  auto score_side = [&](const FaceSet& s, const std::vector<uint8_t>& miss, const char* what) {
    Side out;
    auto is_missing = [&](size_t i) { return !miss.empty() && miss[i]; };
    std::vector<size_t> vfound;
    std::vector<int64_t> labels;
    for (size_t i : val)
      if (!is_missing(i)) vfound.push_back(i), labels.push_back(split.label[i]);
    say(std::string(what) + ": embedding " + std::to_string(vfound.size()) + " validation images and their mirrors");
    if (!vfound.empty()) {
      FaceEmbeddings e = embed_faces(net, s, vfound, dev, o.batch, o.workers);
      ClosedSetAccuracy a = closed_set_accuracy(head, e, labels, dev);
      const double kept = static_cast<double>(vfound.size()) / static_cast<double>(val.size());
      out.acc = a.plain * kept;
      out.acc_flip = a.flip * kept;
    }
    if (r.holdout_identities >= 2 && !holdout.empty()) {
      std::vector<size_t> hfound;
      for (size_t i : holdout)
        if (!is_missing(i)) hfound.push_back(i);
      say(std::string(what) + ": embedding " + std::to_string(hfound.size()) + " images of held-out identities");
      std::vector<int64_t> ids;
      for (size_t i : holdout) ids.push_back(s.faces[i].identity);
      Pairs pairs = build_pairs(ids, o.pair_seed);
      std::vector<double> scores(pairs.size(), 0.0);
      if (hfound.size() >= 2) {
        Tensor emb = flip_tta_embeddings(embed_faces(net, s, hfound, dev, o.batch, o.workers));
        std::vector<int64_t> row(holdout.size(), -1);  // holdout position -> row of emb
        for (size_t k = 0, j = 0; k < holdout.size(); ++k)
          if (!is_missing(holdout[k])) row[k] = static_cast<int64_t>(j++);
        Pairs found_pairs;
        std::vector<size_t> where;
        for (size_t p = 0; p < pairs.size(); ++p)
          if (row[pairs.a[p]] >= 0 && row[pairs.b[p]] >= 0) {
            found_pairs.a.push_back(row[pairs.a[p]]);
            found_pairs.b.push_back(row[pairs.b[p]]);
            found_pairs.same.push_back(pairs.same[p]);
            where.push_back(p);
          }
        std::vector<double> fs = cosine_scores(emb, found_pairs);
        for (size_t k = 0; k < where.size(); ++k) scores[where[k]] = fs[k];
      }
      out.vm = verification_metrics(scores, pairs.same, o.pair_seed);
      int64_t right = 0;
      for (size_t i = 0; i < scores.size(); ++i) right += (scores[i] >= 0.6) == (pairs.same[i] != 0);
      out.acc_at_06 = static_cast<double>(right) / static_cast<double>(scores.size());
    }
    return out;
  };

  r.val_images = static_cast<int64_t>(val.size());
  r.holdout_images = static_cast<int64_t>(holdout.size());
  const bool have_verification = r.holdout_identities >= 2 && !holdout.empty();
  const Side crops = score_side(set, {}, "dataset photos");
  Side main_side = crops;
  if (!o.wild.empty()) {
    main_side = score_side(wild, missing, "wild photos");
    r.crops_closed_acc_flip = crops.acc_flip;
    r.crops_auc = crops.vm.auc;
    r.crops_acc10_mean = crops.vm.kfold.mean;
  }
  const VerificationMetrics& vm = main_side.vm;
  r.closed_acc = main_side.acc;
  r.closed_acc_flip = main_side.acc_flip;
  if (have_verification) {
    r.positive_pairs = vm.n_same;
    r.negative_pairs = vm.n_different;
    r.auc = vm.auc;
    r.tar_at_far_1e2 = vm.tar_far_1e2.tar;
    r.tar_at_far_1e3 = vm.tar_far_1e3.tar;
    r.acc10_mean = vm.kfold.mean;
    r.acc10_std = vm.kfold.std;
    r.acc_at_06 = main_side.acc_at_06;
  }

  // The table.
  std::ostringstream t;
  char line[256];
  auto row = [&](const char* name, const std::string& value) {
    std::snprintf(line, sizeof line, "  %-44s %s\n", name, value.c_str());
    t << line;
  };
  auto pct = [](double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2f%%", 100 * v);
    return std::string(b);
  };
  t << "eval-embed: " << o.model << " on " << o.data << "\n";
  if (o.wild.empty()) {
    t << "  faces aligned by " << landmarks.str() << "\n";
  } else {
    t << "  the photos of " << o.wild << " (" << r.wild_photos << "), each face found by " << o.detector
      << " (the largest; " << r.wild_no_face << " photos without a face, " << r.wild_several_faces
      << " with several; " << r.wild_other_face << " where the face used is not the labelled one (IoU < 0.5); "
      << std::fixed << std::setprecision(1) << r.wild_detect_ms
      << " ms/photo), aligned by " << r.wild_landmarks;
    if (r.wild_landmark_nme >= 0)
      t << " (NME " << std::setprecision(4) << r.wild_landmark_nme << " against " << o.wild << "'s labels, "
        << std::setprecision(1) << 100 * r.wild_landmark_failures << "% above 0.1)";
    t << "\n";
    t << "  beside: the same photos from " << o.data << ", aligned by " << landmarks.str() << "\n";
    t.unsetf(std::ios::floatfield);
  }
  row("closed set: validation images / classes",
      std::to_string(r.val_images) + " / " + std::to_string(r.num_classes));
  row("closed-set accuracy", r.val_images ? pct(r.closed_acc) : "n/a (no validation images)");
  row("closed-set accuracy, flip TTA", r.val_images ? pct(r.closed_acc_flip) : "n/a");
  row("open set: held-out identities / images",
      std::to_string(r.holdout_identities) + " / " + std::to_string(r.holdout_images));
  if (have_verification) {
    row("pairs: same / different", std::to_string(r.positive_pairs) + " / " + std::to_string(r.negative_pairs));
    std::snprintf(line, sizeof line, "%.4f", r.auc);
    row("ROC AUC", line);
    auto tar = [&](const TarAtFar& x) {
      char b[96];
      std::snprintf(b, sizeof b, "%s (threshold %.4f%s)", pct(x.tar).c_str(), x.threshold,
                    x.resolved ? "" : "; too few different pairs to resolve this FAR");
      return std::string(b);
    };
    row("TAR at FAR 1e-2", tar(vm.tar_far_1e2));
    row("TAR at FAR 1e-3", tar(vm.tar_far_1e3));
    std::snprintf(line, sizeof line, "%.2f%% +- %.2f%% (mean threshold %.4f)", 100 * r.acc10_mean, 100 * r.acc10_std,
                  vm.kfold.mean_threshold);
    row("10-fold accuracy", line);
    row("accuracy at cosine threshold 0.6", pct(r.acc_at_06));
    if (!o.wild.empty()) {
      std::snprintf(line, sizeof line, "%.4f (ROC AUC %.4f, 10-fold %.2f%%, closed set flip TTA %s)",
                    r.crops_auc - r.auc, r.crops_auc, 100 * r.crops_acc10_mean, pct(r.crops_closed_acc_flip).c_str());
      row("gap in ROC AUC to the dataset's aligned crops", line);
    }
  } else {
    row("verification", "n/a (fewer than two held-out identities)");
  }
  r.table = t.str();

  if (!o.out.empty()) {
    std::filesystem::create_directories(o.out);
    std::ostringstream m;  // metrics.csv and roc.csv are written atomically at the end
    m << "metric,value\n";
    char b[64];
    auto put = [&](const char* k, double v) {
      std::snprintf(b, sizeof b, "%.9g", v);
      m << k << "," << b << "\n";
    };
    put("val_images", static_cast<double>(r.val_images));
    put("classes", static_cast<double>(r.num_classes));
    put("closed_acc", r.closed_acc);
    put("closed_acc_flip", r.closed_acc_flip);
    put("holdout_identities", static_cast<double>(r.holdout_identities));
    put("holdout_images", static_cast<double>(r.holdout_images));
    if (!o.wild.empty()) {
      put("wild_photos", static_cast<double>(r.wild_photos));
      put("wild_no_face", static_cast<double>(r.wild_no_face));
      put("wild_several_faces", static_cast<double>(r.wild_several_faces));
      put("wild_other_face", static_cast<double>(r.wild_other_face));
      put("wild_detect_ms", r.wild_detect_ms);
      if (r.wild_landmark_nme >= 0) put("wild_landmark_nme", r.wild_landmark_nme);
      put("crops_closed_acc_flip", r.crops_closed_acc_flip);
      put("crops_roc_auc", r.crops_auc);
      put("crops_acc10_mean", r.crops_acc10_mean);
    }
    if (have_verification) {
      put("same_pairs", static_cast<double>(r.positive_pairs));
      put("different_pairs", static_cast<double>(r.negative_pairs));
      put("roc_auc", r.auc);
      put("tar_at_far_1e-2", r.tar_at_far_1e2);
      put("tar_at_far_1e-3", r.tar_at_far_1e3);
      put("acc10_mean", r.acc10_mean);
      put("acc10_std", r.acc10_std);
      put("acc_at_0.6", r.acc_at_06);
      std::ostringstream roc;
      roc << "far,tar,threshold\n";
      for (const RocPoint& p : vm.roc) {
        std::snprintf(b, sizeof b, "%.9g,%.9g,%.9g\n", p.far, p.tar, p.threshold);
        roc << b;
      }
      write_file_atomic(o.out + "/roc.csv", roc.str(), "eval-embed");
      write_roc_chart(o.out + "/roc.svg", vm.roc, r.auc);
    }
    write_file_atomic(o.out + "/metrics.csv", m.str(), "eval-embed");
  }
  return r;
}

}  // namespace ff
