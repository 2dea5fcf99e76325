// face/landmark_train.cpp — the landmark network's training loop (train_landmarks, see
// face/landmarks.h): samples from the loader, Gaussian targets, MSE summed over every stack's
// output, Adam with ReduceLROnPlateau on the validation NME, checkpoints, logs and the report.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>

#include "engine/autograd.h"
#include "engine/ops_geometry.h"
#include "engine/safetensors.h"
#include "models/factory.h"
#include "face/landmark_report.h"
#include "face/landmarks.h"
#include "train/metrics.h"
#include "train/lr_schedule.h"
#include "train/optim.h"
#include "train/progress.h"
#include "train/run.h"

namespace ff {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
// "small", "reference" or a HourglassConfig::str() string.
HourglassConfig parse_config(const std::string& s) {
  if (s == "small" || s == "reference") return HourglassConfig::named(s);
  FF_CHECK(s.find('=') != std::string::npos, "train-landmarks: unknown --config '", s,
           "' (expected small, reference or a string like stem=16,mid=32,channels=64,stacks=2,landmarks=5,input=128)");
  return HourglassConfig::parse(s);
}

std::string format_double(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.10g", v);
  return b;
}

}  // namespace

LandmarkTrainResult train_landmarks(const LandmarkTrainOptions& o) {
  FF_CHECK(o.epochs >= 1, "train-landmarks: --epochs must be at least 1, got ", o.epochs);
  FF_CHECK(o.batch >= 2, "train-landmarks: --batch must be at least 2 (batch norm needs it), got ", o.batch);
  FF_CHECK(o.lr > 0 && std::isfinite(o.lr), "train-landmarks: --lr must be positive, got ", o.lr);
  FF_CHECK(o.workers >= 0, "train-landmarks: --workers must be >= 0, got ", o.workers);
  FF_CHECK(!o.out.empty(), "train-landmarks: no run folder (--out)");
  const Device dev = Device::parse(o.device);
  FF_CHECK(dev.is_cpu() || cuda_available(), "train-landmarks: --device ", o.device,
           (cuda_compiled() ? ": no CUDA device is present" : ": this build has no CUDA backend"));

  // Everything that can be refused is checked before the run folder is created, so a mistyped
  // command leaves nothing behind.
  const std::string last_path = o.out + "/last.safetensors";
  std::map<std::string, std::string> old_meta;
  if (o.resume) {
    FF_CHECK(std::filesystem::is_regular_file(last_path), "--resume: ", o.out,
             " holds no checkpoint (last.safetensors)");
    old_meta = read_safetensors(last_path).metadata;
  }

  // Configuration: a new run takes --config (default small); a resumed one keeps its own and
  // refuses a different one.
  HourglassConfig cfg;
  if (o.resume) {
    FF_CHECK(old_meta.count("model") && old_meta.at("model") == "hourglass" && old_meta.count("config") &&
                 old_meta.count("crop_scale"),
             last_path, " is not a landmark run's checkpoint (no hourglass model and framing in its metadata)");
    cfg = HourglassConfig::parse(old_meta.at("config"));
    if (!o.config.empty()) {
      HourglassConfig asked = parse_config(o.config);
      FF_CHECK(asked.str() == cfg.str(), "--resume: the run was trained with config ", cfg.str(), ", not ",
               asked.str());
    }
  } else {
    cfg = parse_config(o.config.empty() ? "small" : o.config);
  }
  FF_CHECK(cfg.landmarks == 5, "train-landmarks: CelebA has 5 landmarks, the config asks for ", cfg.landmarks);
  LandmarkFraming framing;
  framing.input_size = cfg.input_size;
  framing.crop_scale = o.resume ? std::stod(old_meta.at("crop_scale")) : o.crop_scale;
  FF_CHECK(framing.crop_scale > 0, "train-landmarks: crop scale must be positive, got ", framing.crop_scale);
  const int64_t H = framing.heatmap_size();
  // The loss a resumed run continues with is its own (checkpoints from before the weighted loss
  // carry no heatmap_fg_weight: plain MSE).
  const double fg_weight = !o.resume ? o.fg_weight
                           : old_meta.count("heatmap_fg_weight") ? std::stod(old_meta.at("heatmap_fg_weight"))
                                                                 : 0.0;

  LandmarkData data = load_landmark_data(o.data);
  const std::vector<size_t> train_idx = data.partition(0, o.max_images);
  const std::vector<size_t> val_idx = data.partition(1, o.max_val_images);
  FF_CHECK(static_cast<int64_t>(train_idx.size()) >= o.batch, "train-landmarks: ", o.data, " has ",
           train_idx.size(), " training faces (partition 0 with box and landmarks), fewer than one batch of ",
           o.batch);
  FF_CHECK(!val_idx.empty(), "train-landmarks: ", o.data, " has no validation faces (partition 1)");
  RunDir run(o.out, o.resume);

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
  TrainState st;
  st.rng_seed = o.seed;
  if (o.resume) st = run.load("last", net, opt, nullptr, &plateau);
  // Samples depend on the seed through the loader; a resumed run keeps the seed it started with.
  const uint64_t seed = st.rng_seed;
  // Weights carry what load_model needs to rebuild the net (models/factory.h) and what inference
  // needs to frame faces as training did.
  const std::map<std::string, std::string> meta =
      model_metadata("hourglass", cfg.str(), nullptr,
                     {{"crop_scale", format_double(framing.crop_scale)},
                      {"normalization", "imagenet"},
                      {"heatmap_sigma", format_double(framing.sigma())},
                      {"heatmap_fg_weight", format_double(fg_weight)},
                      {"decode", decode_name(o.decode)},
                      {"trained_on", o.data}});

  const AugmentConfig augment = o.augment;
  Loader::MakeSample make_train = [&](int64_t i, Rng& rng) {
    const FaceRecord& f = data.faces[train_idx[i]];
    return make_landmark_sample(load_image(f.path, 3), f, framing, &augment, rng);
  };
  LoaderOptions lo;
  lo.batch_size = o.batch;
  lo.seed = seed;
  lo.workers = o.workers;
  Loader train_loader(static_cast<int64_t>(train_idx.size()), make_train, lo);

  CsvLog log(run.path("log.csv"), {"epoch", "step", "loss", "lr", "images_per_s"}, o.resume, st.step);
  CsvLog vlog(run.path("val.csv"),
              {"epoch", "step", "val_nme", "val_nme_quarter_pixel", "val_nme_soft_argmax", "train_loss", "lr"},
              o.resume, st.step);

  const int64_t per_epoch = train_loader.batches_per_epoch();
  const int64_t remaining = std::max<int64_t>(0, (o.epochs - st.epoch) * per_epoch - st.batch_in_epoch);
  Progress progress("train-landmarks", std::max<int64_t>(remaining, 1), "steps");
  LandmarkTrainResult result;
  const auto t0 = Clock::now();
  int64_t done = 0, images = 0;
  double smoothed_rate = 0, val_seconds = 0, train_seconds = 0;
  auto save_last = [&] { run.save("last", net, meta, opt, nullptr, &plateau, st); };

  for (int64_t epoch = st.epoch; epoch < o.epochs; ++epoch) {
    net.train();
    train_loader.start_epoch(epoch, st.batch_in_epoch);
    Batch b;
    auto t_step = Clock::now();
    while (train_loader.next(&b)) {
      const int64_t step = st.step + 1;
      Tensor x = b.images.to(dev);
      Tensor target = render_heatmaps(b.points.to(dev), H, H, framing.sigma());
      if (step == o.debug_nan_step) fill_(target, std::numeric_limits<double>::quiet_NaN());
      std::vector<Tensor> outs = net.forward_all(x);
      Tensor loss = heatmap_loss(outs, target, fg_weight);
      const double lv = loss.item();
      check_finite_loss(lv, step, "train-landmarks (epoch " + std::to_string(epoch + 1) + ")");
      opt.zero_grad();
      loss.backward();
      opt.step();

      st.step = step;
      st.batch_in_epoch += 1;
      st.scalars["epoch_loss_sum"] += lv;
      st.scalars["epoch_loss_count"] += 1;
      const double secs = since(t_step);
      train_seconds += secs;
      t_step = Clock::now();
      const double rate = static_cast<double>(b.size()) / std::max(secs, 1e-9);
      smoothed_rate = done == 0 ? rate : 0.9 * smoothed_rate + 0.1 * rate;
      log.row({static_cast<double>(epoch + 1), static_cast<double>(step), lv, opt.lr(0), rate});
      result.losses.push_back(lv);
      ++done;
      images += b.size();
      if (o.progress) {
        char extra[128];
        std::snprintf(extra, sizeof extra, "epoch %lld/%lld  step %lld  loss %.5f  lr %.2e  %.1f img/s",
                      static_cast<long long>(epoch + 1), static_cast<long long>(o.epochs),
                      static_cast<long long>(step), lv, opt.lr(0), smoothed_rate);
        progress.update(done, extra);
      }
      if (o.save_every > 0 && step % o.save_every == 0) save_last();
    }

    const auto t_val = Clock::now();
    DatasetPredictions vp = predict_dataset(net, data, val_idx, framing, dev, o.batch, o.workers);
    const double nme_q = mean_nme(vp.quarter_pixel, data, val_idx), nme_s = mean_nme(vp.soft_argmax, data, val_idx);
    const double nme = o.decode == HeatmapDecode::SoftArgmax ? nme_s : nme_q;
    FF_CHECK(std::isfinite(nme), "train-landmarks: the validation NME is ", nme, " after epoch ", epoch + 1,
             "; stopping (the last checkpoint, from an earlier epoch, is intact)");
    val_seconds += since(t_val);
    const double lr_used = opt.lr(0);
    plateau.step(nme);
    const double mean_loss = st.scalars["epoch_loss_sum"] / std::max(1.0, st.scalars["epoch_loss_count"]);
    st.scalars["epoch_loss_sum"] = 0;
    st.scalars["epoch_loss_count"] = 0;
    st.epoch = epoch + 1;
    st.batch_in_epoch = 0;
    const bool improved = !st.has_best || nme < st.best_metric;
    if (improved) {
      st.best_metric = nme;
      st.has_best = true;
    }
    vlog.row({static_cast<double>(epoch + 1), static_cast<double>(st.step), nme, nme_q, nme_s,
              mean_loss, lr_used});
    if (improved) run.save("best", net, meta, opt, nullptr, &plateau, st);
    save_last();
    result.val_nme.push_back(nme);
    if (o.progress)
      std::fprintf(stderr, "epoch %lld/%lld: validation NME %.4f (%s; quarter-pixel %.4f, soft-argmax %.4f)%s\n",
                   static_cast<long long>(epoch + 1), static_cast<long long>(o.epochs), nme, decode_name(o.decode),
                   nme_q, nme_s, improved ? "  best so far" : "");

    std::vector<ReportFace> faces;
    for (size_t i = 0; i < val_idx.size() && i < static_cast<size_t>(std::max(o.report_samples, 0)); ++i) {
      const FaceRecord& f = data.faces[val_idx[i]];
      faces.push_back({f.path, f.box, f.points, vp.of(o.decode)[i]});
    }
    write_landmark_report(run.dir(), framing, faces);
  }

  result.best_nme = st.best_metric;
  result.steps = st.step;
  result.seconds = since(t0);
  result.images_per_s = images / std::max(train_seconds, 1e-9);
  result.validation_seconds = val_seconds;
  return result;
}

}  // namespace ff
