// face/embed_eval.cpp — `faceforge eval-embed` as a library function (face/embed.h): closed-set
// accuracy on the validation images of the trained identities, open-set verification on the
// identities the run held out.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/autograd.h"
#include "layers/heads.h"
#include "models/factory.h"
#include "models/resnet.h"
#include "face/embed.h"
#include "face/embed_report.h"
#include "train/metrics.h"

namespace ff {

namespace {

std::vector<int> parse_ints(const std::string& s) {
  std::vector<int> v;
  std::stringstream ss(s);
  std::string cell;
  while (std::getline(ss, cell, ','))
    if (!cell.empty()) v.push_back(std::stoi(cell));
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
  const std::vector<int> trained = parse_ints(meta_at(st.metadata, "train.identities", o.model));
  const std::vector<int> held = parse_ints(meta_at(st.metadata, "train.holdout_identities", o.model));
  FaceSet set = load_faces(o.data, FaceFilter::Landmarks);
  // Align as training did unless told otherwise.
  auto rec = st.metadata.find("train.landmarks_model");
  std::string lm_model = o.ground_truth_landmarks      ? std::string()
                         : !o.landmarks_model.empty() ? o.landmarks_model
                         : rec != st.metadata.end()   ? rec->second
                                                      : std::string();
  LandmarkSource landmarks;
  if (!lm_model.empty()) landmarks = use_predicted_landmarks(set, lm_model, dev, o.batch, o.workers);
  EmbedSplit split = make_embed_split(set, parse_split_kind(meta_at(st.metadata, "train.split", o.model)),
                                      std::stoi(meta_at(st.metadata, "train.holdout", o.model)),
                                      std::stoull(meta_at(st.metadata, "train.seed", o.model)));
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
  r.val_images = static_cast<int64_t>(split.val.size());
  {
    std::vector<int64_t> labels;
    for (size_t i : split.val) labels.push_back(split.label[i]);
    FaceEmbeddings e = embed_faces(net, set, split.val, dev, o.batch, o.workers);
    ClosedSetAccuracy a = closed_set_accuracy(head, e, labels, dev);
    r.closed_acc = a.plain;
    r.closed_acc_flip = a.flip;
  }

  r.holdout_identities = static_cast<int64_t>(split.holdout_identities.size());
  r.holdout_images = static_cast<int64_t>(split.holdout.size());
  VerificationMetrics vm;
  bool have_verification = false;
  if (r.holdout_identities >= 2) {
    say("embedding " + std::to_string(split.holdout.size()) + " images of " +
        std::to_string(split.holdout_identities.size()) + " held-out identities and their mirrors");
    std::vector<int64_t> ids;
    for (size_t i : split.holdout) ids.push_back(set.faces[i].identity);
    FaceEmbeddings e = embed_faces(net, set, split.holdout, dev, o.batch, o.workers);
    Tensor emb = flip_tta_embeddings(e);
    Pairs pairs = build_pairs(ids, o.pair_seed);
    std::vector<double> scores = cosine_scores(emb, pairs);
    vm = verification_metrics(scores, pairs.same, o.pair_seed);
    have_verification = true;
    r.positive_pairs = vm.n_same;
    r.negative_pairs = vm.n_different;
    r.auc = vm.auc;
    r.tar_at_far_1e2 = vm.tar_far_1e2.tar;
    r.tar_at_far_1e3 = vm.tar_far_1e3.tar;
    r.acc10_mean = vm.kfold.mean;
    r.acc10_std = vm.kfold.std;
    int64_t right = 0;
    for (size_t i = 0; i < scores.size(); ++i) right += (scores[i] >= 0.6) == (pairs.same[i] != 0);
    r.acc_at_06 = static_cast<double>(right) / static_cast<double>(scores.size());
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
  t << "  faces aligned by " << landmarks.str() << "\n";
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
  } else {
    row("verification", "n/a (fewer than two held-out identities)");
  }
  r.table = t.str();

  if (!o.out.empty()) {
    std::filesystem::create_directories(o.out);
    std::ofstream m(o.out + "/metrics.csv");
    FF_CHECK(m.good(), "eval-embed: cannot write ", o.out, "/metrics.csv");
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
    if (have_verification) {
      put("same_pairs", static_cast<double>(r.positive_pairs));
      put("different_pairs", static_cast<double>(r.negative_pairs));
      put("roc_auc", r.auc);
      put("tar_at_far_1e-2", r.tar_at_far_1e2);
      put("tar_at_far_1e-3", r.tar_at_far_1e3);
      put("acc10_mean", r.acc10_mean);
      put("acc10_std", r.acc10_std);
      put("acc_at_0.6", r.acc_at_06);
      std::ofstream roc(o.out + "/roc.csv");
      FF_CHECK(roc.good(), "eval-embed: cannot write ", o.out, "/roc.csv");
      roc << "far,tar,threshold\n";
      for (const RocPoint& p : vm.roc) {
        std::snprintf(b, sizeof b, "%.9g,%.9g,%.9g\n", p.far, p.tar, p.threshold);
        roc << b;
      }
      write_roc_chart(o.out + "/roc.svg", vm.roc, r.auc);
    }
  }
  return r;
}

}  // namespace ff
