// face/detector_train.cpp — train-detector (face/detector.h): augmented samples of the folder's
// training photos (data/detect_sample.h) -> the detector's targets -> focal loss on the centre
// heatmap + masked L1 on box size, offset and landmarks -> Adam with a cosine schedule; validated
// by AP at IoU 0.5 (face/detect_eval.h) on a fixed set of augmented samples of the validation
// photos, which hold faces of every size, mosaics and empty pictures as the training ones do.
// The loop itself is train/fit.h's.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "data/detect_sample.h"
#include "data/face_sample.h"
#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/parse.h"
#include "engine/safetensors.h"
#include "face/detect_eval.h"
#include "face/detector.h"
#include "models/factory.h"
#include "train/fit.h"
#include "train/lr_schedule.h"
#include "train/optim.h"
#include "train/run.h"

namespace ff {

namespace {

std::string format_double(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.10g", v);
  return b;
}

// Image -> float32 [3, S, S], ImageNet-normalised (what detector_input gives the network).
Tensor sample_image_tensor(const Image& img) {
  Tensor x = image_to_tensor_chw(img);
  normalize_imagenet_(x);
  return x;
}

// Channels [c0, c0 + n) of a CPU [B, C, H, W] tensor, as a new [B, n, H, W] tensor on `dev`.
Tensor channels(const Tensor& t, int c0, int n, Device dev) {
  const int64_t B = t.size(0), C = t.size(1), plane = t.size(2) * t.size(3);
  Tensor out = Tensor::empty({B, n, t.size(2), t.size(3)});
  const float* s = t.data<float>();
  float* d = out.data<float>();
  for (int64_t b = 0; b < B; ++b)
    std::memcpy(d + b * n * plane, s + (b * C + c0) * plane, sizeof(float) * n * plane);
  return out.to(dev);
}

}  // namespace

DetectorTrainResult train_detector(const DetectorTrainOptions& o) {
  FF_CHECK(o.fit.epochs >= 1, "train-detector: --epochs must be at least 1, got ", o.fit.epochs);
  FF_CHECK(o.batch >= 2, "train-detector: --batch must be at least 2 (batch norm needs it), got ", o.batch);
  FF_CHECK(o.lr > 0 && std::isfinite(o.lr), "train-detector: --lr must be positive, got ", o.lr);
  FF_CHECK(o.landmark_weight >= 0 && std::isfinite(o.landmark_weight),
           "train-detector: --landmark-weight must be >= 0, got ", o.landmark_weight);
  FF_CHECK(o.workers >= 0, "train-detector: --workers must be >= 0, got ", o.workers);
  FF_CHECK(!o.out.empty(), "train-detector: no run folder (--out)");
  const Device dev = Device::parse(o.device);
  FF_CHECK(dev.is_cpu() || cuda_available(), "train-detector: --device ", o.device,
           (cuda_compiled() ? ": no CUDA device is present" : ": this build has no CUDA backend"));

  const std::string last_path = o.out + "/last.state.safetensors";  // the checkpoint (train/run.h)
  std::map<std::string, std::string> old_meta;
  if (o.resume) {
    FF_CHECK(std::filesystem::is_regular_file(last_path), "--resume: ", o.out,
             " holds no checkpoint (last.state.safetensors is missing)");
    SafeTensors last = read_safetensors(last_path);
    old_meta = last.metadata;
    FF_CHECK(old_meta.count("model") && old_meta.at("model") == "detector" && old_meta.count("config"), last_path,
             " is not a detector run's checkpoint");
    check_model_file(checkpoint_weights(last, o.out), last_path);  // its configuration fits its tensors: nothing oversized gets built
  }
  // Configuration: a new run takes --config (default small); a resumed one keeps its own and
  // refuses a different one.
  auto named = [](const std::string& s) {
    try {
      return DetectorConfig::named(s);
    } catch (const Error& e) {
      FF_FAIL("train-detector: --config: ", e.what());
    }
  };
  DetectorConfig cfg;
  if (o.resume) {
    cfg = DetectorConfig::parse(old_meta.at("config"));
    if (!o.config.empty())
      FF_CHECK(named(o.config).str() == cfg.str(), "--resume: ", last_path, " was trained with config ", cfg.str(),
               "; --config asks for ", named(o.config).str(), " (leave --config out to keep the run's)");
  } else {
    cfg = named(o.config.empty() ? "small" : o.config);
  }
  const double lmk_weight =
      o.resume && old_meta.count("landmark_weight")
          ? parse_number(old_meta.at("landmark_weight"), last_path + ": metadata 'landmark_weight'")
          : o.landmark_weight;
  FF_CHECK(lmk_weight >= 0, last_path, ": metadata 'landmark_weight' must be >= 0, got ", lmk_weight);

  // Photos: partition 0 trains and partition 1 validates when the folder has a partition file;
  // without one (synthetic scenes), the last tenth validates.
  DetectSourceOptions so;
  so.cache = DetectCache::Encoded;
  DetectSource all = load_detect_source(o.data, so);
  FF_CHECK(all.size() >= 2, "train-detector: ", o.data, " holds ", all.size(), " photo(s) with faces; need at least 2");
  bool has_partition = false;
  for (const auto& p : all.photos) has_partition |= p.partition != 0;
  DetectSource train = all, val = all;
  train.photos.clear(), train.encoded.clear(), train.decoded.clear();
  val.photos.clear(), val.encoded.clear(), val.decoded.clear();
  const int64_t n_val_split = std::max<int64_t>(1, all.size() / 10);
  for (int64_t i = 0; i < all.size(); ++i) {
    const bool is_val = has_partition ? all.photos[i].partition == 1 : i >= all.size() - n_val_split;
    const bool is_train = has_partition ? all.photos[i].partition == 0 : !is_val;
    DetectSource& dst = is_val ? val : train;
    if (!is_val && !is_train) continue;
    if (is_train && o.max_images >= 0 && train.size() >= o.max_images) continue;
    dst.photos.push_back(all.photos[i]);
    if (!all.encoded.empty()) dst.encoded.push_back(all.encoded[i]);
    if (!all.decoded.empty()) dst.decoded.push_back(all.decoded[i]);
  }
  FF_CHECK(train.size() >= o.batch, "train-detector: ", o.data, " has ", train.size(),
           " training photos, fewer than one batch of ", o.batch);
  FF_CHECK(val.size() >= 1, "train-detector: ", o.data, " has no validation photos (partition 1)");
  RunDir run(o.out, o.resume);

  Rng init(o.seed);
  FaceDetectorNet net(cfg, init);
  net.to(dev);
  AdamOptions ao;
  ao.lr = o.lr;
  Adam opt(net.parameters(), ao);
  CosineAnnealingLR sched(opt, o.fit.epochs, o.lr * 0.01);
  Trainee trainee{net, opt, &sched, nullptr,
                  model_metadata("detector", cfg.str(), nullptr,
                                 {{"normalization", "imagenet"},
                                  {"stride", std::to_string(FaceDetectorNet::kStride)},
                                  {"landmark_weight", format_double(lmk_weight)},
                                  {"trained_on", o.data}})};
  TrainState st = start_state(run, trainee, o.seed);

  const int S = static_cast<int>(cfg.input_size);
  const DetectAugment aug;
  LoaderOptions lo;
  lo.batch_size = o.batch;
  lo.seed = st.rng_seed;
  lo.workers = o.workers;
  Loader loader(train.size(), [&](int64_t i, Rng& rng) {
    DetectSample s = make_detect_sample(train, i, S, rng, aug);
    Sample out;
    out.image = sample_image_tensor(s.image);
    out.targets = render_detector_targets(s.faces, S, S, s.ignored);
    return out;
  }, lo);

  // The validation set: fixed augmented samples of the validation photos at twice the training
  // side (a seed of their own, the same every epoch and on resume).
  const int VS = 2 * S;
  const int64_t n_val = std::min<int64_t>(val.size(), std::max<int64_t>(o.max_val_images, 1));
  std::vector<Image> val_images;
  DetectionsFile val_truth;
  val_truth.detector = "ground truth";
  for (int64_t i = 0; i < n_val; ++i) {
    Rng r(derive_seed(o.seed, {0x76616cULL, static_cast<uint64_t>(i)}));
    DetectSample s = make_detect_sample(val, i * val.size() / n_val, VS, r, aug);
    PhotoDetections p;
    p.file = "val" + std::to_string(i) + ".png";
    p.width = p.height = VS;
    p.faces = s.faces;
    val_truth.photos.push_back(p);
    val_images.push_back(std::move(s.image));
  }

  CsvLog vlog(run.path("val.csv"), {"epoch", "step", "val_ap50", "val_ap50_95", "val_recall_1fp", "val_nme",
                                    "train_loss", "lr"},
              o.resume, st.step);
  DetectionEval last_eval;
  DetectionsFile last_dets;
  FitHooks hooks;
  hooks.loss = [&](const Batch& b, int64_t) {
    DetectorOutput y = net.forward_all(b.images.to(dev));
    Tensor box_mask = channels(b.targets, kTargetBoxMask, 1, dev);
    Tensor loss = focal_loss(y.heatmap, channels(b.targets, kTargetHeatmap, 1, dev));
    loss = add(loss, masked_l1_loss(y.size, channels(b.targets, kTargetSize, 2, dev), box_mask));
    loss = add(loss, masked_l1_loss(y.offset, channels(b.targets, kTargetOffset, 2, dev), box_mask));
    if (lmk_weight > 0)
      loss = add(loss, scale(masked_l1_loss(y.landmarks, channels(b.targets, kTargetLandmarks, 10, dev),
                                            channels(b.targets, kTargetLandmarkMask, 1, dev)),
                             lmk_weight));
    return loss;
  };
  hooks.validate = [&](const FitEpoch&) {
    net.eval();
    NoGradGuard ng;
    DetectOptions dopt;
    dopt.score_threshold = 0.05;  // the whole PR curve
    last_dets = DetectionsFile();
    last_dets.detector = "train-detector validation";
    const int64_t vb = 16;
    for (int64_t i0 = 0; i0 < n_val; i0 += vb) {
      const int64_t n = std::min(vb, n_val - i0);
      Tensor x = Tensor::empty({n, 3, VS, VS});
      for (int64_t k = 0; k < n; ++k) {
        Tensor t = sample_image_tensor(val_images[i0 + k]);
        std::memcpy(x.data<float>() + k * t.numel(), t.data<float>(), t.nbytes());
      }
      DetectorOutput y = net.forward_all(x.to(dev));
      Tensor hm = y.heatmap.cpu(), sz = y.size.cpu(), of = y.offset.cpu(), lm = y.landmarks.cpu();
      for (int64_t k = 0; k < n; ++k) {
        auto one = [&](const Tensor& t) {
          Tensor o1 = Tensor::empty({1, t.size(1), t.size(2), t.size(3)});
          const int64_t per = o1.numel();
          std::memcpy(o1.data<float>(), t.data<float>() + k * per, sizeof(float) * per);
          return o1;
        };
        PhotoDetections p;
        p.file = val_truth.photos[i0 + k].file;
        p.width = p.height = VS;
        p.faces = decode_detector_output({one(hm), one(sz), one(of), one(lm)}, 1.0, VS, VS, dopt);
        last_dets.photos.push_back(std::move(p));
      }
    }
    net.train();
    last_eval = evaluate_detections(last_dets, val_truth);
    double ap = std::isfinite(last_eval.ap50) ? last_eval.ap50 : 0.0;
    // The default score threshold this checkpoint is saved with: the best F1 at IoU 0.5 on these
    // validation samples (a heatmap detector's peaks on true faces often score 0.3-0.6, so a fixed
    // 0.5 would drop many).
    if (const IouEval* e50 = last_eval.at(0.5)) {
      const PrCurve& c = e50->curve;
      double best_f1 = -1, thr = 0.5;
      for (size_t i = 0; i < c.score.size(); ++i) {
        const double p = c.precision[i], r = c.recall[i], f1 = p + r > 0 ? 2 * p * r / (p + r) : 0;
        if (f1 > best_f1) best_f1 = f1, thr = c.score[i];
      }
      trainee.metadata["score_threshold"] = format_double(std::clamp(thr, 0.05, 0.95));
    }
    return EpochMetric{ap, true};
  };
  hooks.on_epoch_end = [&](const FitEpoch& e) {
    vlog.row({static_cast<double>(e.epoch), static_cast<double>(e.step), e.metric, last_eval.ap50_95,
              last_eval.recall_at_1fp, last_eval.mean_nme, e.train_loss, e.lr});
    if (o.fit.progress)
      std::fprintf(stderr,
                   "epoch %lld/%lld: validation AP@0.5 %.4f, AP@[.5:.95] %.4f, recall at 1 FP/photo %.4f, "
                   "landmark NME %.4f%s\n",
                   static_cast<long long>(e.epoch), static_cast<long long>(o.fit.epochs), e.metric,
                   last_eval.ap50_95, last_eval.recall_at_1fp, last_eval.mean_nme,
                   e.improved ? "  best so far" : "");
    write_detection_eval(run.path("report"), last_eval,
                         DetectionEvalSource{"train-detector epoch " + std::to_string(e.epoch),
                                             o.data + " (augmented validation samples)", ""});
  };
  FitResult fr = fit("train-detector", run, trainee, loader, hooks, o.fit, st);
  DetectorTrainResult r;
  r.best = run.path("best.safetensors");
  r.last = last_path;
  r.best_ap50 = fr.best_metric;
  r.steps = fr.steps;
  r.seconds = fr.seconds;
  r.images_per_s = fr.images_per_s;
  return r;
}

}  // namespace ff
