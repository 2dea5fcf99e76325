// face/embed_train.cpp — training the face-embedding network (face/embed.h): loader ->
// EmbeddingNet -> ArcFace or softmax head -> SGD with a cosine or step schedule, closed-set
// validation each epoch; the loop itself is train/fit.h's. Also the evaluation-mode embeddings.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "engine/autograd.h"
#include "engine/parse.h"
#include "engine/random.h"
#include "layers/heads.h"
#include "models/factory.h"
#include "models/resnet.h"
#include "face/embed.h"
#include "face/embed_report.h"
#include "train/loader.h"
#include "train/lr_schedule.h"
#include "train/metrics.h"
#include "train/fit.h"
#include "train/optim.h"
#include "train/run.h"

namespace ff {

namespace {

constexpr uint64_t kLoaderTag = 0x4C4F41444552ull;   // "LOADER"
constexpr uint64_t kDropoutTag = 0x44524F504F5554ull;  // "DROPOUT"

// The embedding network with its head registered as the child "head": its state_dict is exactly
// models/factory.h's layout (backbone.*, embedding_layer.*, head.*), so RunDir's checkpoints are
// model files load_model() reads, and the optimizer sees one module.
class EmbedModel : public EmbeddingNet {
 public:
  EmbedModel(const EmbeddingConfig& cfg, const std::string& head, int64_t classes, double s, double m, Rng& rng)
      : EmbeddingNet(cfg, rng) {
    if (head == "arcface")
      head_ = register_module("head", std::make_shared<ArcFaceHead>(classes, cfg.embedding_dim, s, m, rng));
    else
      head_ = register_module("head", std::make_shared<SoftmaxHead>(cfg.embedding_dim, classes, rng));
  }
  Head& head() { return *head_; }

 private:
  std::shared_ptr<Head> head_;
};

std::string join_ints(const std::vector<int>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

std::string fmt_double(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}

void check_options(const EmbedTrainOptions& o) {
  FF_CHECK(!o.data.empty(), "train-embed: --data is required");
  FF_CHECK(!o.out.empty(), "train-embed: --out is required");
  FF_CHECK(o.head == "arcface" || o.head == "softmax", "train-embed: unknown head '", o.head,
           "' (expected arcface or softmax)");
  try {
    EmbeddingConfig::named(o.config);  // throws on an unknown name or a bad string
  } catch (const Error& e) {
    FF_FAIL("train-embed: --config: ", e.what());
  }
  FF_CHECK(o.schedule == "cosine" || o.schedule == "step", "train-embed: unknown schedule '", o.schedule,
           "' (expected cosine or step)");
  parse_split_kind(o.split);
  FF_CHECK(o.fit.epochs >= 1, "train-embed: --epochs must be >= 1, got ", o.fit.epochs);
  FF_CHECK(o.batch >= 2, "train-embed: --batch must be >= 2 (batch norm needs two samples), got ", o.batch);
  FF_CHECK(o.lr > 0 && std::isfinite(o.lr), "train-embed: --lr must be positive, got ", o.lr);
  FF_CHECK(o.workers >= 0, "train-embed: --workers must be >= 0, got ", o.workers);
  FF_CHECK(o.cache_mb >= 0, "train-embed: --cache-mb must be >= 0, got ", o.cache_mb);
  FF_CHECK(o.holdout >= -1, "train-embed: --holdout-identities must be >= 0, got ", o.holdout);
}

// The options a run records in its checkpoints' metadata (beside models/factory.h's keys).
std::map<std::string, std::string> options_meta(const EmbedTrainOptions& o) {
  return {{"train.data", o.data},
          {"train.head", o.head},
          {"train.config", o.config},
          {"train.epochs", std::to_string(o.fit.epochs)},
          {"train.batch", std::to_string(o.batch)},
          {"train.lr", fmt_double(o.lr)},
          {"train.momentum", fmt_double(o.momentum)},
          {"train.weight_decay", fmt_double(o.weight_decay)},
          {"train.schedule", o.schedule},
          {"train.seed", std::to_string(o.seed)},
          {"train.split", o.split},
          {"train.holdout", std::to_string(o.holdout)},
          {"train.augment", o.augment.enabled ? "1" : "0"},
          {"train.landmarks_model", o.landmarks_model}};
}

}  // namespace

EmbedTrainOptions saved_train_options(const std::string& run_dir) {
  const std::string path = run_dir + "/last.state.safetensors";  // the checkpoint (train/run.h)
  FF_CHECK(std::filesystem::exists(path), "--resume: ", run_dir, " holds no checkpoint (last.state.safetensors is missing)");
  SafeTensors st = read_safetensors(path);
  auto get = [&](const std::string& k) {
    auto it = st.metadata.find("train." + k);
    FF_CHECK(it != st.metadata.end(), path, " is not a train-embed checkpoint (no metadata train.", k, ")");
    return it->second;
  };
  EmbedTrainOptions o;
  o.out = run_dir;
  o.resume = true;
  o.data = get("data");
  o.head = get("head");
  o.config = get("config");
  // Each number whole and within the command line's own bounds (apps/cmd_train_embed.cpp).
  auto key = [&](const std::string& k) { return path + ": metadata 'train." + k + "'"; };
  o.fit.epochs = parse_int(get("epochs"), key("epochs"), 1, 100000);
  o.batch = parse_int(get("batch"), key("batch"), 2, 65536);
  o.lr = parse_number(get("lr"), key("lr"), 0, 1e300);
  o.momentum = parse_number(get("momentum"), key("momentum"), 0, 1);
  o.weight_decay = parse_number(get("weight_decay"), key("weight_decay"), 0, 1e300);
  o.schedule = get("schedule");
  o.seed = parse_uint64(get("seed"), key("seed"));
  o.split = get("split");
  o.holdout = static_cast<int>(parse_int(get("holdout"), key("holdout"), -1, 1000000));
  // The network a resumed run rebuilds from this metadata must be the one its tensors hold.
  check_model_file(checkpoint_weights(st, run_dir), path);
  o.augment.enabled = get("augment") == "1";
  auto lm = st.metadata.find("train.landmarks_model");
  o.landmarks_model = lm == st.metadata.end() ? "" : lm->second;
  return o;
}

std::shared_ptr<const DecodedPhoto> aligned_photo(const FaceRecord& r, int64_t size, double zoom, PhotoCache* cache,
                                                  Landmarks5* landmarks) {
  const int denom = frame_denominator(alignment_matrix(*r.landmarks, size, false, r.path), zoom);
  std::shared_ptr<const DecodedPhoto> p;
  if (cache) {
    p = cache->get(r.path, denom);
  } else {
    auto d = std::make_shared<DecodedPhoto>();
    d->image = load_image_scaled(r.path, denom, 3, &d->denom);
    p = d;
  }
  *landmarks = p->landmarks(*r.landmarks);
  return p;
}

FaceEmbeddings embed_faces(EmbeddingNet& net, const FaceSet& set, const std::vector<size_t>& records, Device device,
                           int64_t batch, int workers, PhotoCache* cache) {
  net.eval();
  const int64_t size = net.config().resnet.input_size, n = static_cast<int64_t>(records.size());
  const int64_t dim = net.config().embedding_dim;
  FaceEmbeddings out;
  out.plain = Tensor::zeros({n, dim});
  out.flipped = Tensor::zeros({n, dim});
  if (n == 0) return out;
  // Item 2i is image i, item 2i+1 its mirror; an even batch size keeps each pair in one batch.
  LoaderOptions lo;
  lo.batch_size = std::max<int64_t>(2, batch - batch % 2);
  lo.shuffle = false;
  lo.drop_last = false;
  lo.workers = workers;
  Loader loader(2 * n, [&](int64_t item, Rng&) {
    const FaceRecord& r = set.faces[records[static_cast<size_t>(item / 2)]];
    Sample s;
    Landmarks5 l;
    auto photo = aligned_photo(r, size, 1.0, cache, &l);
    s.image = make_eval_face(photo->image, l, size, item % 2 == 1);
    return s;
  }, lo);
  loader.start_epoch(0);
  NoGradGuard ng;
  Batch b;
  float* plain = out.plain.data<float>();
  float* flipped = out.flipped.data<float>();
  while (loader.next(&b)) {
    std::vector<float> e = net.forward(b.images.to(device)).to_vector<float>();
    for (int64_t k = 0; k < b.size(); ++k) {
      int64_t item = b.indices[static_cast<size_t>(k)];
      float* dst = (item % 2 ? flipped : plain) + (item / 2) * dim;
      std::copy(e.begin() + k * dim, e.begin() + (k + 1) * dim, dst);
    }
  }
  return out;
}

Tensor flip_tta_embeddings(const FaceEmbeddings& e) {
  return l2_normalize(add(l2_normalize(e.plain), l2_normalize(e.flipped)));
}

ClosedSetAccuracy closed_set_accuracy(Head& head, const FaceEmbeddings& e, const std::vector<int64_t>& labels,
                                      Device device) {
  ClosedSetAccuracy a;
  if (labels.empty()) return a;
  NoGradGuard ng;
  Tensor s1 = head.scores(e.plain.to(device)), s2 = head.scores(e.flipped.to(device));
  a.plain = top1_accuracy(s1, labels);
  a.flip = top1_accuracy(scale(add(s1, s2), 0.5), labels);
  return a;
}

EmbedTrainResult train_embed(const EmbedTrainOptions& given) {
  // No --config: "small" for a new run, the checkpoint's own for a resumed one (which refuses any
  // other below, naming both).
  EmbedTrainOptions resolved = given;
  if (resolved.config.empty()) resolved.config = given.resume ? saved_train_options(given.out).config : "small";
  const EmbedTrainOptions& o = resolved;
  check_options(o);
  const Device dev = Device::parse(o.device);
  FF_CHECK(dev.is_cpu() || cuda_available(), "train-embed: --device cuda but no CUDA device is available");
  if (o.resume) {
    // A resumed run keeps its configuration; a conflicting option is an error, not a silent change.
    EmbedTrainOptions s = saved_train_options(o.out);
    std::map<std::string, std::string> now = options_meta(o), then = options_meta(s);
    std::string diff;
    for (auto& [k, v] : then)
      if (k != "train.data" && now.at(k) != v) diff += " " + k.substr(6) + " (run: " + v + ", given: " + now.at(k) + ")";
    FF_CHECK(diff.empty(), "--resume: the run in ", o.out, " was started with other options:", diff);
  }

  FaceSet set = load_faces(o.data, FaceFilter::Landmarks);
  const FaceSkips skips = drop_faces_outside_photos(set);  // points or box outside the photo
  const size_t no_landmarks = set.listed - set.size();
  LandmarkSource landmarks;
  if (!o.landmarks_model.empty()) {
    if (o.fit.progress)
      std::fprintf(stderr, "train-embed: predicting landmarks with %s ...\n", o.landmarks_model.c_str());
    landmarks = use_predicted_landmarks(set, o.landmarks_model, dev, o.batch, o.workers);
  }
  EmbedSplit split = make_embed_split(set, parse_split_kind(o.split), o.holdout, o.seed);
  const int64_t classes = static_cast<int64_t>(split.train_identities.size());
  RunDir run(o.out, o.resume);
  report_skipped_faces(skips, "train-embed", run.path("skipped.csv"));

  EmbeddingConfig cfg = EmbeddingConfig::named(o.config);
  const int64_t size = cfg.resnet.input_size;
  Rng init(o.seed);
  EmbedModel model(cfg, o.head, classes, o.arcface_s, o.arcface_m, init);
  model.to(dev);

  // Weight decay on conv, linear and class-centre weights (2-D and up); none on batch-norm scales
  // and shifts or on biases (1-D): decaying those only shrinks the output scale the next batch norm
  // or the loss has to restore, it regularises nothing (Goyal et al. 2017, "no bias decay").
  std::vector<Tensor*> decay, no_decay;
  for (auto& [name, p] : model.named_parameters()) (p->dim() >= 2 ? decay : no_decay).push_back(p);
  SGDOptions so;
  so.lr = o.lr;
  so.momentum = o.momentum;
  so.weight_decay = o.weight_decay;
  SGD opt(decay, so);
  opt.add_param_group(no_decay).weight_decay = 0.0;
  std::unique_ptr<LRScheduler> sched;
  if (o.schedule == "cosine")
    sched = std::make_unique<CosineAnnealingLR>(opt, o.fit.epochs);
  else
    sched = std::make_unique<StepLR>(opt, std::max<int64_t>(1, (o.fit.epochs + 2) / 3), 0.1);

  std::map<std::string, std::string> extra = options_meta(o);
  extra["train.input_size"] = std::to_string(size);
  extra["train.identities"] = join_ints(split.train_identities);
  extra["train.holdout_identities"] = join_ints(split.holdout_identities);
  Trainee trainee{model, opt, sched.get(), nullptr, model_metadata("embedding", cfg.str(), &model.head(), extra)};
  if (o.resume) {
    SafeTensors w = read_safetensors(run.path("last.state.safetensors"));
    FF_CHECK(w.metadata.count("train.identities") && w.metadata.at("train.identities") == extra["train.identities"] &&
                 w.metadata.at("train.holdout_identities") == extra["train.holdout_identities"],
             "--resume: the identities of ", o.data, " do not match those the run in ", o.out,
             " was trained on (another dataset?)");
  }
  TrainState st = start_state(run, trainee, o.seed);

  LoaderOptions lo;
  lo.batch_size = o.batch;
  lo.shuffle = true;
  lo.drop_last = true;
  lo.seed = derive_seed(o.seed, {kLoaderTag, 0});
  lo.workers = o.workers;
  lo.num_classes = classes;  // labels checked here, on the host: the CUDA losses do not read them back
  const EmbedAugment aug = o.augment;
  // Decoded photos across epochs: every epoch but the first warps from memory (as far as the
  // budget holds them); validation shares the cache.
  PhotoCache cache(o.cache_mb * 1048576);
  bool cache_reported = false;
  Loader loader(static_cast<int64_t>(split.train.size()), [&](int64_t i, Rng& rng) {
    const FaceRecord& r = set.faces[split.train[static_cast<size_t>(i)]];
    Sample s;
    Landmarks5 l;
    auto photo = aligned_photo(r, size, aug.enabled ? aug.config.max_scale : 1.0, &cache, &l);
    s.image = make_train_face(photo->image, l, size, aug, rng);
    s.label = split.label[split.train[static_cast<size_t>(i)]];
    return s;
  }, lo);
  const int64_t per_epoch = loader.batches_per_epoch();
  FF_CHECK(per_epoch >= 1, "train-embed: the ", split.train.size(), " training images make no full batch of ",
           o.batch, "; lower --batch");

  std::vector<int64_t> val_labels;
  for (size_t r : split.val) val_labels.push_back(split.label[r]);
  CsvLog elog(run.path("epochs.csv"),
              {"epoch", "step", "train_loss", "lr", "val_acc", "val_acc_flip", "images_per_s", "seconds"}, o.resume,
              st.step);

  EmbedTrainResult res;
  res.num_classes = classes;
  res.train_images = static_cast<int64_t>(split.train.size());
  res.val_images = static_cast<int64_t>(split.val.size());
  res.holdout_images = static_cast<int64_t>(split.holdout.size());
  res.holdout_identities = static_cast<int64_t>(split.holdout_identities.size());
  if (o.fit.progress) {
    const std::string skipped =
        no_landmarks ? " (" + std::to_string(no_landmarks) + " without landmarks left out)" : std::string();
    std::fprintf(stderr,
                 "train-embed: %zu images of %zu identities in %s%s; %lld classes: %zu training, %zu validation "
                 "images; %zu identities (%zu images) held out\n"
                 "train-embed: %s config (%lldx%lld, %lld-d), %s head, %lld epochs x %lld steps of %lld, lr %g (%s), %s\n",
                 set.faces.size(), set.identities.size(), o.data.c_str(), skipped.c_str(),
                 static_cast<long long>(classes), split.train.size(), split.val.size(),
                 split.holdout_identities.size(), split.holdout.size(), o.config.c_str(),
                 static_cast<long long>(size), static_cast<long long>(size), static_cast<long long>(cfg.embedding_dim),
                 o.head.c_str(), static_cast<long long>(o.fit.epochs), static_cast<long long>(per_epoch),
                 static_cast<long long>(o.batch), o.lr, o.schedule.c_str(), dev.str().c_str());
    std::fprintf(stderr, "train-embed: faces aligned by %s\n", landmarks.str().c_str());
    if (o.resume)
      std::fprintf(stderr, "train-embed: resuming %s at epoch %lld, step %lld\n", o.out.c_str(),
                   static_cast<long long>(st.epoch + 1), static_cast<long long>(st.step));
  }
  if (!o.resume) write_face_sheets(run.path("report"), set, split, size, aug, o.seed, o.report_faces);

  ClosedSetAccuracy acc;
  FitHooks hooks;
  hooks.loss = [&](const Batch& b, int64_t step) {
    // Dropout masks depend on the step alone, so a resumed run draws the same masks.
    model.dropout_rng().set_state(derive_seed(o.seed, {kDropoutTag, static_cast<uint64_t>(step - 1)}), 0);
    return model.head().forward(model.forward(b.images.to(dev)), b.labels.to(dev));
  };
  hooks.validate = [&](const FitEpoch& e) {
    FaceEmbeddings emb = embed_faces(model, set, split.val, dev, o.batch, o.workers, &cache);
    acc = closed_set_accuracy(model.head(), emb, val_labels, dev);
    if (split.val.empty()) {
      acc.plain = acc.flip = std::nan("");
      return EpochMetric{-e.train_loss, true};  // no validation image: the lowest training loss is best
    }
    return EpochMetric{acc.flip, true};  // ties keep the earlier checkpoint
  };
  hooks.on_epoch_end = [&](const FitEpoch& e) {
    elog.row({static_cast<double>(e.epoch), static_cast<double>(e.step), e.train_loss, e.lr, acc.plain, acc.flip,
              e.images_per_s, e.seconds});
    res.val_acc.push_back(acc);
    if (o.fit.progress && split.val.empty())
      std::fprintf(stderr, "epoch %lld/%lld: train loss %.4f (no validation images), %.1f img/s (%.1f s waiting for data), %.1f s%s\n",
                   static_cast<long long>(e.epoch), static_cast<long long>(o.fit.epochs), e.train_loss, e.images_per_s,
                   e.data_wait_seconds, e.seconds, e.improved ? "  [lowest loss]" : "");
    else if (o.fit.progress)
      std::fprintf(stderr,
                   "epoch %lld/%lld: train loss %.4f, val accuracy %.2f%% (flip TTA %.2f%%), %.1f img/s "
                   "(%.1f s waiting for data), %.1f s%s\n",
                   static_cast<long long>(e.epoch), static_cast<long long>(o.fit.epochs), e.train_loss,
                   100 * acc.plain, 100 * acc.flip, e.images_per_s, e.data_wait_seconds, e.seconds,
                   e.improved ? "  [best]" : "");
    if (o.fit.progress && !cache_reported) {  // once: after the first epoch the cache is as full as it gets
      std::fprintf(stderr, "train-embed: %s\n", cache.stats().str().c_str());
      cache_reported = true;
    }
    write_train_report(run.dir());
  };
  static_cast<FitResult&>(res) = fit("train-embed", run, trainee, loader, hooks, o.fit, st);
  return res;
}

}  // namespace ff
