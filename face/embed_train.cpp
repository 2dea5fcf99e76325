// face/embed_train.cpp — the training loop of the face-embedding network (face/embed.h):
// loader -> EmbeddingNet -> ArcFace or softmax head -> SGD, validation each epoch, checkpoints,
// CSV logs and the report of a run folder (train/run.h), exact resume.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <sstream>

#include "engine/autograd.h"
#include "engine/random.h"
#include "layers/heads.h"
#include "models/factory.h"
#include "models/resnet.h"
#include "face/embed.h"
#include "face/embed_report.h"
#include "train/loader.h"
#include "train/lr_schedule.h"
#include "train/metrics.h"
#include "train/optim.h"
#include "train/progress.h"
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
  EmbeddingConfig::named(o.config);  // throws on an unknown name
  FF_CHECK(o.schedule == "cosine" || o.schedule == "step", "train-embed: unknown schedule '", o.schedule,
           "' (expected cosine or step)");
  parse_split_kind(o.split);
  FF_CHECK(o.epochs >= 1, "train-embed: --epochs must be >= 1, got ", o.epochs);
  FF_CHECK(o.batch >= 2, "train-embed: --batch must be >= 2 (batch norm needs two samples), got ", o.batch);
  FF_CHECK(o.lr > 0 && std::isfinite(o.lr), "train-embed: --lr must be positive, got ", o.lr);
  FF_CHECK(o.workers >= 0, "train-embed: --workers must be >= 0, got ", o.workers);
  FF_CHECK(o.holdout >= -1, "train-embed: --holdout-identities must be >= 0, got ", o.holdout);
}

// The options a run records in its checkpoints' metadata (beside models/factory.h's keys).
std::map<std::string, std::string> options_meta(const EmbedTrainOptions& o) {
  return {{"train.data", o.data},
          {"train.head", o.head},
          {"train.config", o.config},
          {"train.epochs", std::to_string(o.epochs)},
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
  const std::string path = run_dir + "/last.safetensors";
  FF_CHECK(std::filesystem::exists(path), "--resume: ", run_dir, " holds no checkpoint (last.safetensors)");
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
  o.epochs = std::stoi(get("epochs"));
  o.batch = std::stoll(get("batch"));
  o.lr = std::stod(get("lr"));
  o.momentum = std::stod(get("momentum"));
  o.weight_decay = std::stod(get("weight_decay"));
  o.schedule = get("schedule");
  o.seed = std::stoull(get("seed"));
  o.split = get("split");
  o.holdout = std::stoi(get("holdout"));
  o.augment.enabled = get("augment") == "1";
  auto lm = st.metadata.find("train.landmarks_model");
  o.landmarks_model = lm == st.metadata.end() ? "" : lm->second;
  return o;
}

FaceEmbeddings embed_faces(EmbeddingNet& net, const FaceSet& set, const std::vector<size_t>& records, Device device,
                           int64_t batch, int workers) {
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
    const EmbedFace& r = set.records[records[static_cast<size_t>(item / 2)]];
    Sample s;
    s.image = make_eval_face(load_image(r.path, 3), r.landmarks, size, item % 2 == 1);
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

EmbedTrainResult train_embed(const EmbedTrainOptions& o) {
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

  size_t no_landmarks = 0;
  FaceSet set = load_face_set(o.data, &no_landmarks);
  LandmarkSource landmarks;
  if (!o.landmarks_model.empty()) {
    if (!o.quiet) std::fprintf(stderr, "train-embed: predicting landmarks with %s ...\n", o.landmarks_model.c_str());
    landmarks = use_predicted_landmarks(set, o.landmarks_model, dev, o.batch, o.workers);
  }
  EmbedSplit split = make_embed_split(set, parse_split_kind(o.split), o.holdout, o.seed);
  const int64_t classes = static_cast<int64_t>(split.train_identities.size());
  RunDir run(o.out, o.resume);

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
    sched = std::make_unique<CosineAnnealingLR>(opt, o.epochs);
  else
    sched = std::make_unique<StepLR>(opt, std::max(1, (o.epochs + 2) / 3), 0.1);

  std::map<std::string, std::string> extra = options_meta(o);
  extra["train.input_size"] = std::to_string(size);
  extra["train.identities"] = join_ints(split.train_identities);
  extra["train.holdout_identities"] = join_ints(split.holdout_identities);
  std::map<std::string, std::string> meta = model_metadata("embedding", cfg.str(), &model.head(), extra);

  TrainState st;
  st.rng_seed = o.seed;
  if (o.resume) {
    SafeTensors w = read_safetensors(run.path("last.safetensors"));
    FF_CHECK(w.metadata.count("train.identities") && w.metadata.at("train.identities") == extra["train.identities"] &&
                 w.metadata.at("train.holdout_identities") == extra["train.holdout_identities"],
             "--resume: the identities of ", o.data, " do not match those the run in ", o.out,
             " was trained on (another dataset?)");
    st = run.load("last", model, opt, sched.get(), nullptr);
  }

  LoaderOptions lo;
  lo.batch_size = o.batch;
  lo.shuffle = true;
  lo.drop_last = true;
  lo.seed = derive_seed(o.seed, {kLoaderTag, 0});
  lo.workers = o.workers;
  const EmbedAugment aug = o.augment;
  Loader loader(static_cast<int64_t>(split.train.size()), [&](int64_t i, Rng& rng) {
    const EmbedFace& r = set.records[split.train[static_cast<size_t>(i)]];
    Sample s;
    s.image = make_train_face(load_image(r.path, 3), r.landmarks, size, aug, rng);
    s.label = split.label[split.train[static_cast<size_t>(i)]];
    return s;
  }, lo);
  const int64_t per_epoch = loader.batches_per_epoch();
  FF_CHECK(per_epoch >= 1, "train-embed: the ", split.train.size(), " training images make no full batch of ",
           o.batch, "; lower --batch");
  const int64_t total_steps = per_epoch * o.epochs;

  std::vector<int64_t> val_labels;
  for (size_t r : split.val) val_labels.push_back(split.label[r]);

  CsvLog log(run.path("log.csv"), {"epoch", "step", "loss", "lr", "images_per_s"}, o.resume, st.step);
  CsvLog elog(run.path("epochs.csv"),
              {"epoch", "step", "train_loss", "lr", "val_acc", "val_acc_flip", "images_per_s", "seconds"}, o.resume,
              st.step);

  EmbedTrainResult res;
  res.first_step = st.step;
  res.num_classes = classes;
  res.train_images = static_cast<int64_t>(split.train.size());
  res.val_images = static_cast<int64_t>(split.val.size());
  res.holdout_images = static_cast<int64_t>(split.holdout.size());
  res.holdout_identities = static_cast<int64_t>(split.holdout_identities.size());
  if (!o.quiet) {
    const std::string skipped =
        no_landmarks ? " (" + std::to_string(no_landmarks) + " without landmarks left out)" : std::string();
    std::fprintf(stderr,
                 "train-embed: %zu images of %zu identities in %s%s; %lld classes: %zu training, %zu validation "
                 "images; %zu identities (%zu images) held out\n"
                 "train-embed: %s config (%lldx%lld, %lld-d), %s head, %d epochs x %lld steps of %lld, lr %g (%s), %s\n",
                 set.records.size(), set.identities.size(), o.data.c_str(),
                 skipped.c_str(),
                 static_cast<long long>(classes), split.train.size(), split.val.size(),
                 split.holdout_identities.size(), split.holdout.size(), o.config.c_str(),
                 static_cast<long long>(size), static_cast<long long>(size), static_cast<long long>(cfg.embedding_dim),
                 o.head.c_str(), o.epochs, static_cast<long long>(per_epoch), static_cast<long long>(o.batch), o.lr,
                 o.schedule.c_str(), dev.str().c_str());
    std::fprintf(stderr, "train-embed: faces aligned by %s\n", landmarks.str().c_str());
    if (o.resume)
      std::fprintf(stderr, "train-embed: resuming %s at epoch %lld, step %lld\n", o.out.c_str(),
                   static_cast<long long>(st.epoch + 1), static_cast<long long>(st.step));
  }
  if (!o.resume) write_face_sheets(run.path("report"), set, split, size, aug, o.seed, o.report_faces);

  auto save = [&](const std::string& name) { run.save(name, model, meta, opt, sched.get(), nullptr, st); };
  Progress progress("train-embed", std::max<int64_t>(1, total_steps - st.step), "steps");
  const int64_t start_step = st.step;
  using clock = std::chrono::steady_clock;

  for (int64_t epoch = st.epoch; epoch < o.epochs; ++epoch) {
    loader.start_epoch(epoch, st.batch_in_epoch);
    model.train();
    const auto t0 = clock::now();
    int64_t images = 0;
    double loss_sum = st.scalars.count("epoch_loss_sum") ? st.scalars["epoch_loss_sum"] : 0.0;
    Batch b;
    while (loader.next(&b)) {
      Tensor x = b.images.to(dev), y = b.labels.to(dev);
      if (st.step + 1 == o.nan_at_step) x = Tensor::full(x.shape(), std::numeric_limits<double>::quiet_NaN(), x.dtype(), dev);
      // Dropout masks depend on the step alone, so a resumed run draws the same masks.
      model.dropout_rng().set_state(derive_seed(o.seed, {kDropoutTag, static_cast<uint64_t>(st.step)}), 0);
      Tensor loss = model.head().forward(model.forward(x), y);
      const double lv = loss.item();
      check_finite_loss(lv, st.step + 1, "train-embed");  // steps count from 1, as in log.csv
      loss.backward();
      opt.step();
      opt.zero_grad();
      ++st.step;
      ++st.batch_in_epoch;
      images += b.size();
      loss_sum += lv;
      st.scalars["epoch_loss_sum"] = loss_sum;
      res.losses.push_back(lv);
      const double secs = std::chrono::duration<double>(clock::now() - t0).count();
      const double ips = secs > 0 ? images / secs : 0.0;
      log.row({static_cast<double>(epoch + 1), static_cast<double>(st.step), lv, opt.lr(0), ips});
      if (!o.quiet) {
        char extra_s[128];
        std::snprintf(extra_s, sizeof extra_s, "epoch %lld/%d  loss %.4f  lr %.4g  %.1f img/s",
                      static_cast<long long>(epoch + 1), o.epochs, lv, opt.lr(0), ips);
        progress.update(st.step - start_step, extra_s);
      }
      if (o.save_every > 0 && st.step % o.save_every == 0) save("last");
      if (o.stop_after_steps >= 0 && st.step >= o.stop_after_steps) {
        save("last");
        res.steps = st.step;
        res.best_val_acc = st.best_metric;
        res.stopped_early = true;
        return res;
      }
    }
    // The epoch's end: validation, schedule, checkpoints, report.
    const double train_secs = std::chrono::duration<double>(clock::now() - t0).count();
    EmbedEpoch ep;
    ep.epoch = epoch + 1;
    ep.step = st.step;
    ep.train_loss = loss_sum / static_cast<double>(std::max<int64_t>(1, st.batch_in_epoch));
    ep.lr = opt.lr(0);
    ep.images_per_second = train_secs > 0 ? images / train_secs : 0.0;
    FaceEmbeddings emb = embed_faces(model, set, split.val, dev, o.batch, o.workers);
    ClosedSetAccuracy acc = closed_set_accuracy(model.head(), emb, val_labels, dev);
    ep.val_acc = split.val.empty() ? std::nan("") : acc.plain;
    ep.val_acc_flip = split.val.empty() ? std::nan("") : acc.flip;
    ep.seconds = std::chrono::duration<double>(clock::now() - t0).count();
    elog.row({static_cast<double>(ep.epoch), static_cast<double>(ep.step), ep.train_loss, ep.lr, ep.val_acc,
              ep.val_acc_flip, ep.images_per_second, ep.seconds});
    sched->step();
    st.epoch = epoch + 1;
    st.batch_in_epoch = 0;
    st.scalars["epoch_loss_sum"] = 0.0;
    // Best by flip-TTA validation accuracy (by the lowest training loss when there is no
    // validation image); ties keep the earlier checkpoint.
    const double metric = split.val.empty() ? -ep.train_loss : ep.val_acc_flip;
    const bool better = !st.has_best || metric > st.best_metric;
    if (better) {
      st.best_metric = metric;
      st.has_best = true;
    }
    save("last");
    if (better) save("best");
    res.epochs.push_back(ep);
    if (!o.quiet)
      std::fprintf(stderr,
                   "epoch %lld/%d: train loss %.4f, val accuracy %.2f%% (flip TTA %.2f%%), %.1f img/s, %.1f s%s\n",
                   static_cast<long long>(ep.epoch), o.epochs, ep.train_loss, 100 * ep.val_acc, 100 * ep.val_acc_flip,
                   ep.images_per_second, ep.seconds, better ? "  [best]" : "");
    write_train_report(run.dir());
  }
  res.steps = st.step;
  res.best_val_acc = st.best_metric;
  return res;
}

}  // namespace ff
