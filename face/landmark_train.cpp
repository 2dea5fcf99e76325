// face/landmark_train.cpp — training the landmark network (train_landmarks, see face/landmarks.h):
// samples from the loader, Gaussian targets, the weighted heatmap MSE over every stack's output,
// Adam with ReduceLROnPlateau on the validation NME; the loop itself is train/fit.h's.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "engine/autograd.h"
#include "engine/ops_geometry.h"
#include "engine/parse.h"
#include "engine/safetensors.h"
#include "models/factory.h"
#include "face/landmark_report.h"
#include "face/landmarks.h"
#include "train/fit.h"
#include "train/lr_schedule.h"
#include "train/optim.h"
#include "train/run.h"

namespace ff {

namespace {

// "small", "mid", "reference" or a HourglassConfig::str() string (parsed strictly: every value a
// whole number within its bounds).
HourglassConfig parse_config(const std::string& s) {
  if (s == "small" || s == "mid" || s == "reference") return HourglassConfig::named(s);
  FF_CHECK(s.find('=') != std::string::npos, "train-landmarks: unknown --config '", s,
           "' (expected small, mid, reference or a string like stem=16,mid=32,channels=64,stacks=2,landmarks=5,input=128)");
  try {
    return HourglassConfig::parse(s);
  } catch (const Error& e) {
    FF_FAIL("train-landmarks: --config: ", e.what());
  }
}

std::string format_double(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.10g", v);
  return b;
}

}  // namespace

LandmarkTrainResult train_landmarks(const LandmarkTrainOptions& o) {
  FF_CHECK(o.fit.epochs >= 1, "train-landmarks: --epochs must be at least 1, got ", o.fit.epochs);
  FF_CHECK(o.batch >= 2, "train-landmarks: --batch must be at least 2 (batch norm needs it), got ", o.batch);
  FF_CHECK(o.lr > 0 && std::isfinite(o.lr), "train-landmarks: --lr must be positive, got ", o.lr);
  FF_CHECK(o.workers >= 0, "train-landmarks: --workers must be >= 0, got ", o.workers);
  FF_CHECK(o.cache_mb >= 0, "train-landmarks: --cache-mb must be >= 0, got ", o.cache_mb);
  FF_CHECK(!o.out.empty(), "train-landmarks: no run folder (--out)");
  const Device dev = Device::parse(o.device);
  FF_CHECK(dev.is_cpu() || cuda_available(), "train-landmarks: --device ", o.device,
           (cuda_compiled() ? ": no CUDA device is present" : ": this build has no CUDA backend"));

  // Everything that can be refused is checked before the run folder is created, so a mistyped
  // command leaves nothing behind.
  const std::string last_path = o.out + "/last.state.safetensors";  // the checkpoint (train/run.h)
  std::map<std::string, std::string> old_meta;
  if (o.resume) {
    FF_CHECK(std::filesystem::is_regular_file(last_path), "--resume: ", o.out,
             " holds no checkpoint (last.state.safetensors is missing)");
    SafeTensors last = read_safetensors(last_path);
    old_meta = last.metadata;
    FF_CHECK(old_meta.count("model") && old_meta.at("model") == "hourglass" && old_meta.count("config") &&
                 old_meta.count("crop_scale"),
             last_path, " is not a landmark run's checkpoint (no hourglass model and framing in its metadata)");
    check_model_file(checkpoint_weights(last, o.out), last_path);  // its configuration fits its tensors: nothing oversized gets built
  }

  // Configuration: a new run takes --config (default small); a resumed one keeps its own and
  // refuses a different one.
  HourglassConfig cfg;
  if (o.resume) {
    cfg = HourglassConfig::parse(old_meta.at("config"));
    if (!o.config.empty()) {
      HourglassConfig asked = parse_config(o.config);
      FF_CHECK(asked.str() == cfg.str(), "--resume: ", last_path, " was trained with config ", cfg.str(),
               "; --config asks for ", asked.str(), " (leave --config out to keep the run's)");
    }
  } else {
    cfg = parse_config(o.config.empty() ? "small" : o.config);
  }
  FF_CHECK(cfg.landmarks == 5, "train-landmarks: CelebA has 5 landmarks, the config asks for ", cfg.landmarks);
  LandmarkFraming framing;
  framing.input_size = cfg.input_size;
  framing.crop_scale =
      o.resume ? parse_number(old_meta.at("crop_scale"), last_path + ": metadata 'crop_scale'") : o.crop_scale;
  FF_CHECK(framing.crop_scale > 0, "train-landmarks: crop scale must be positive, got ", framing.crop_scale);
  const int64_t H = framing.heatmap_size();
  // The loss a resumed run continues with is its own (checkpoints from before the weighted loss
  // carry no heatmap_fg_weight: plain MSE).
  const double fg_weight = !o.resume ? o.fg_weight
                           : old_meta.count("heatmap_fg_weight")
                               ? parse_number(old_meta.at("heatmap_fg_weight"), last_path + ": metadata 'heatmap_fg_weight'")
                                                                 : 0.0;

  FaceSet loaded = load_faces(o.data, FaceFilter::BoxAndLandmarks);
  const FaceSkips skips = drop_faces_outside_photos(loaded);  // points or box outside the photo
  const FaceSet data = std::move(loaded);
  const std::vector<size_t> train_idx = data.partition(0, o.max_images);
  const std::vector<size_t> val_idx = data.partition(1, o.max_val_images);
  FF_CHECK(static_cast<int64_t>(train_idx.size()) >= o.batch, "train-landmarks: ", o.data, " has ",
           train_idx.size(), " training faces (partition 0 with box and landmarks), fewer than one batch of ",
           o.batch);
  FF_CHECK(!val_idx.empty(), "train-landmarks: ", o.data, " has no validation faces (partition 1)");
  RunDir run(o.out, o.resume);
  report_skipped_faces(skips, "train-landmarks", run.path("skipped.csv"));

  Rng init(o.seed);
  StackedHourglass net(cfg, init);
  if (o.head_init_scale != 1.0) {
    NoGradGuard no_grad;
    for (auto& [name, t] : net.named_parameters())
      if (name.rfind("out_conv", 0) == 0) scale_(*t, o.head_init_scale);
  }
  net.to(dev);
  AdamOptions ao;
  ao.lr = o.lr;
  Adam opt(net.parameters(), ao);
  ReduceLROnPlateau plateau(opt, 0.5, 3);
  // Weights carry what load_model needs to rebuild the net (models/factory.h) and what inference
  // needs to frame faces as training did.
  Trainee trainee{net, opt, nullptr, &plateau,
                  model_metadata("hourglass", cfg.str(), nullptr,
                                 {{"crop_scale", format_double(framing.crop_scale)},
                                  {"normalization", "imagenet"},
                                  {"heatmap_sigma", format_double(framing.sigma())},
                                  {"heatmap_fg_weight", format_double(fg_weight)},
                                  {"decode", decode_name(o.decode)},
                                  {"trained_on", o.data}})};
  TrainState st = start_state(run, trainee, o.seed);

  // Samples depend on the seed through the loader; a resumed run keeps the seed it started with.
  const AugmentConfig augment = o.augment;
  LoaderOptions lo;
  lo.batch_size = o.batch;
  lo.seed = st.rng_seed;
  lo.workers = o.workers;
  // Decoded photos across epochs (data/photo_cache.h), each at the DCT reduction its crop affords.
  PhotoCache cache(o.cache_mb * 1048576);
  bool cache_reported = false;
  Loader train_loader(static_cast<int64_t>(train_idx.size()), [&](int64_t i, Rng& rng) {
    const FaceRecord& f = data.faces[train_idx[i]];
    const int denom = frame_denominator(face_crop_matrix(*f.box, framing, f.path), augment.max_scale);
    std::shared_ptr<const DecodedPhoto> photo = cache.get(f.path, denom);
    if (photo->denom == 1) return make_landmark_sample(photo->image, f, framing, &augment, rng);
    FaceRecord scaled = f;  // the box and landmarks in the decoded photo's pixels
    scaled.box = photo->box(*f.box);
    scaled.landmarks = photo->landmarks(*f.landmarks);
    return make_landmark_sample(photo->image, scaled, framing, &augment, rng);
  }, lo);

  CsvLog vlog(run.path("val.csv"),
              {"epoch", "step", "val_nme", "val_nme_quarter_pixel", "val_nme_soft_argmax", "train_loss", "lr"},
              o.resume, st.step);
  DatasetPredictions vp;
  double nme_q = 0, nme_s = 0;
  FitHooks hooks;
  hooks.loss = [&](const Batch& b, int64_t) {
    Tensor target = render_heatmaps(b.points.to(dev), H, H, framing.sigma());
    return heatmap_loss(net.forward_all(b.images.to(dev)), target, fg_weight);
  };
  hooks.validate = [&](const FitEpoch&) {
    vp = predict_dataset(net, data, val_idx, framing, dev, o.batch, o.workers);
    nme_q = mean_nme(vp.quarter_pixel, data, val_idx);
    nme_s = mean_nme(vp.soft_argmax, data, val_idx);
    return EpochMetric{o.decode == HeatmapDecode::SoftArgmax ? nme_s : nme_q, false};
  };
  hooks.on_epoch_end = [&](const FitEpoch& e) {
    vlog.row({static_cast<double>(e.epoch), static_cast<double>(e.step), e.metric, nme_q, nme_s, e.train_loss, e.lr});
    if (o.fit.progress)
      std::fprintf(stderr, "epoch %lld/%lld: validation NME %.4f (%s; quarter-pixel %.4f, soft-argmax %.4f)%s\n",
                   static_cast<long long>(e.epoch), static_cast<long long>(o.fit.epochs), e.metric,
                   decode_name(o.decode), nme_q, nme_s, e.improved ? "  best so far" : "");
    if (o.fit.progress)
      std::fprintf(stderr, "  %.1f img/s, %.1f s of %.1f s training waiting for data%s%s\n", e.images_per_s,
                   e.data_wait_seconds, e.train_seconds, cache_reported ? "" : "; ",
                   cache_reported ? "" : cache.stats().str().c_str());
    cache_reported = true;
    std::vector<ReportFace> faces;
    for (size_t i = 0; i < val_idx.size() && i < static_cast<size_t>(std::max(o.report_samples, 0)); ++i) {
      const FaceRecord& f = data.faces[val_idx[i]];
      faces.push_back({f.path, *f.box, *f.landmarks, vp.of(o.decode)[i]});
    }
    write_landmark_report(run.dir(), framing, faces);
  };
  return fit("train-landmarks", run, trainee, train_loader, hooks, o.fit, st);
}

}  // namespace ff
