// face/landmarks.cpp — framing, samples, prediction and the training loop of the landmark
// network (see landmarks.h).
#include "face/landmarks.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "engine/autograd.h"
#include "engine/ops_geometry.h"
#include "layers/checkpoint.h"
#include "data/augment.h"
#include "data/geometry.h"
#include "train/lr_schedule.h"
#include "train/optim.h"
#include "train/progress.h"
#include "train/run.h"

namespace ff {

namespace {

constexpr float kMean[3] = {0.485f, 0.456f, 0.406f};  // ImageNet, RGB
constexpr float kStd[3] = {0.229f, 0.224f, 0.225f};

Affine2 to_affine(const Matrix23& m) {
  Affine2 a;
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 3; ++c) a.m[r][c] = m[r * 3 + c];
  return a;
}

}  // namespace

int64_t LandmarkFraming::decode_radius() const {
  return std::max<int64_t>(2, static_cast<int64_t>(std::ceil(2.5 * sigma())));
}

AugmentConfig landmark_augment() {
  AugmentConfig c;
  c.brightness = c.contrast = c.saturation = 0.2;
  return c;
}

const char* decode_name(HeatmapDecode d) {
  return d == HeatmapDecode::SoftArgmax ? "soft_argmax" : "quarter_pixel";
}

Tensor heatmap_loss(const std::vector<Tensor>& outputs, const Tensor& target, double fg_weight) {
  FF_CHECK(!outputs.empty(), "heatmap_loss: no heatmaps");
  FF_CHECK(fg_weight >= 0, "heatmap_loss: the foreground weight must be >= 0, got ", fg_weight);
  // mean(w (o - t)^2) = mse(o sqrt(w), t sqrt(w)); w is a constant (no gradient flows into it).
  Tensor root_w;
  if (fg_weight > 0) {
    NoGradGuard no_grad;
    root_w = sqrt(add_scalar(scale(target.detach(), fg_weight), 1.0));
  }
  const Tensor t = fg_weight > 0 ? mul(target, root_w) : target;
  Tensor loss;
  for (const Tensor& o : outputs) {
    Tensor l = mse_loss(fg_weight > 0 ? mul(o, root_w) : o, t);
    loss = loss.defined() ? add(loss, l) : l;
  }
  return loss;
}

Matrix23 face_crop_matrix(const std::array<float, 4>& box, const LandmarkFraming& framing) {
  FF_CHECK(box[2] > 0 && box[3] > 0, "face crop: the box (", box[0], ", ", box[1], ", ", box[2], " x ", box[3],
           ") has no area");
  FF_CHECK(framing.input_size > 0 && framing.crop_scale > 0, "face crop: bad framing (input ", framing.input_size,
           ", crop scale ", framing.crop_scale, ")");
  const double S = static_cast<double>(framing.input_size);
  const double side = framing.crop_scale * std::max(box[2], box[3]);
  const double cx = box[0] + box[2] / 2.0 - 0.5, cy = box[1] + box[3] / 2.0 - 0.5;
  const double s = S / side;
  return {s, 0.0, S / 2 - 0.5 - s * cx, 0.0, s, S / 2 - 0.5 - s * cy};
}

Sample make_landmark_sample(const Image& photo, const FaceRecord& face, const LandmarkFraming& framing,
                            const AugmentConfig* augment, Rng& rng) {
  FF_CHECK(photo.channels == 3 && !photo.empty(), "landmark sample ", face.file, ": expected an RGB image, got ",
           photo.str());
  const int64_t S = framing.input_size;
  Affine2 m = to_affine(face_crop_matrix(face.box, framing));
  bool flipped = false;
  ColorFactors color;
  const AugmentConfig cfg = augment ? *augment : AugmentConfig();
  if (augment) {
    RandomAffine ra = random_affine(cfg, S, S, S, S, rng);  // crop -> crop: the resize part is the identity
    color = random_color(cfg, rng);
    m = compose(ra.matrix, m);
    flipped = ra.flipped;
  }
  // One warp of the whole photo, float CHW in [0, 1]; black outside the photo.
  Tensor src = image_to_tensor_chw(photo).reshape({1, 3, photo.height, photo.width});
  Tensor img = warp_affine(src, affine_tensor({m}), S, S, ImageLayout::CHW, BorderMode::Constant, 0.0);
  if (augment && (cfg.brightness > 0 || cfg.contrast > 0 || cfg.saturation > 0))
    color_jitter_(img, ImageLayout::CHW, {color});
  float* p = img.data<float>();
  for (int c = 0; c < 3; ++c)
    for (int64_t i = 0; i < S * S; ++i) p[c * S * S + i] = (p[c * S * S + i] - kMean[c]) / kStd[c];

  const double stride = static_cast<double>(S) / static_cast<double>(framing.heatmap_size());
  // A flip mirrors the face: the point drawn where the left eye belongs is the photo's right eye,
  // so the labels of each flip pair trade places.
  int source[5] = {0, 1, 2, 3, 4};
  if (flipped)
    for (auto [a, b] : cfg.flip_pairs) std::swap(source[a], source[b]);
  std::vector<float> pts(10);
  for (int k = 0; k < 5; ++k) {
    const int src_k = source[k];
    Point2 q = apply_affine(m, Point2{face.points[2 * src_k], face.points[2 * src_k + 1]});
    pts[2 * k] = static_cast<float>((q.x + 0.5) / stride - 0.5);
    pts[2 * k + 1] = static_cast<float>((q.y + 0.5) / stride - 0.5);
  }
  Sample s;
  s.image = img.reshape({3, S, S});
  s.points = Tensor::from_vector(pts, {5, 2});
  return s;
}

std::array<float, 10> heatmap_to_photo(const float* heatmap_xy, const std::array<float, 4>& box,
                                       const LandmarkFraming& framing) {
  const Affine2 inv = invert(to_affine(face_crop_matrix(box, framing)));
  const double stride = static_cast<double>(framing.input_size) / static_cast<double>(framing.heatmap_size());
  std::array<float, 10> out{};
  for (int k = 0; k < 5; ++k) {
    Point2 crop{stride * (heatmap_xy[2 * k] + 0.5) - 0.5, stride * (heatmap_xy[2 * k + 1] + 0.5) - 0.5};
    Point2 p = apply_affine(inv, crop);
    out[2 * k] = static_cast<float>(p.x);
    out[2 * k + 1] = static_cast<float>(p.y);
  }
  return out;
}

std::vector<std::array<float, 10>> predict_landmarks(StackedHourglass& net, const std::vector<const Image*>& photos,
                                                     const std::vector<std::array<float, 4>>& boxes,
                                                     const LandmarkFraming& framing, HeatmapDecode decode,
                                                     Device device, int64_t batch) {
  FF_CHECK(photos.size() == boxes.size(), "predict_landmarks: ", photos.size(), " photos but ", boxes.size(), " boxes");
  FF_CHECK(batch > 0, "predict_landmarks: batch must be positive, got ", batch);
  FF_CHECK(net.config().landmarks == 5, "predict_landmarks: the network predicts ", net.config().landmarks,
           " landmarks, expected 5");
  net.eval();
  NoGradGuard no_grad;
  const int64_t S = framing.input_size, n = static_cast<int64_t>(photos.size());
  std::vector<std::array<float, 10>> out;
  out.reserve(photos.size());
  Rng unused;
  for (int64_t b0 = 0; b0 < n; b0 += batch) {
    const int64_t bn = std::min(batch, n - b0);
    Tensor x = Tensor::empty({bn, 3, S, S});
    for (int64_t i = 0; i < bn; ++i) {
      FaceRecord f;
      f.file = "photo " + std::to_string(b0 + i);
      f.box = boxes[b0 + i];
      Sample s = make_landmark_sample(*photos[b0 + i], f, framing, nullptr, unused);
      std::copy(s.image.data<float>(), s.image.data<float>() + 3 * S * S, x.data<float>() + i * 3 * S * S);
    }
    Tensor hm = net.forward(x.to(device));
    std::vector<float> q = decode_heatmaps(hm, decode, framing.decode_radius()).to_vector<float>();
    for (int64_t i = 0; i < bn; ++i) out.push_back(heatmap_to_photo(q.data() + i * 10, boxes[b0 + i], framing));
  }
  return out;
}

DatasetPredictions predict_dataset(StackedHourglass& net, const LandmarkData& data, const std::vector<size_t>& idx,
                                   const LandmarkFraming& framing, Device device, int64_t batch, int workers) {
  const bool was_training = net.training();
  net.eval();
  DatasetPredictions out;
  {
    NoGradGuard no_grad;
    LoaderOptions lo;
    lo.batch_size = batch;
    lo.shuffle = false;
    lo.drop_last = false;
    lo.workers = workers;
    Loader loader(static_cast<int64_t>(idx.size()), [&](int64_t i, Rng& rng) {
      const FaceRecord& f = data.faces[idx[i]];
      return make_landmark_sample(load_image(f.path, 3), f, framing, nullptr, rng);
    }, lo);
    loader.start_epoch(0);
    Batch b;
    while (loader.next(&b)) {
      Tensor hm = net.forward(b.images.to(device));
      std::vector<float> q = decode_heatmaps(hm, HeatmapDecode::QuarterPixel).to_vector<float>();
      std::vector<float> s = decode_heatmaps(hm, HeatmapDecode::SoftArgmax, framing.decode_radius()).to_vector<float>();
      for (int64_t i = 0; i < b.size(); ++i) {
        const std::array<float, 4>& box = data.faces[idx[b.indices[i]]].box;
        out.quarter_pixel.push_back(heatmap_to_photo(q.data() + 10 * i, box, framing));
        out.soft_argmax.push_back(heatmap_to_photo(s.data() + 10 * i, box, framing));
      }
    }
  }
  net.train(was_training);
  return out;
}

double mean_nme(const std::vector<std::array<float, 10>>& predictions, const LandmarkData& data,
                const std::vector<size_t>& idx) {
  FF_CHECK(predictions.size() == idx.size(), "mean_nme: ", predictions.size(), " predictions for ", idx.size(),
           " faces");
  std::vector<double> pred, truth;
  for (size_t i = 0; i < idx.size(); ++i)
    for (int k = 0; k < 10; ++k) {
      if (!std::isfinite(predictions[i][k])) return std::numeric_limits<double>::quiet_NaN();
      pred.push_back(predictions[i][k]);
      truth.push_back(data.faces[idx[i]].points[k]);
    }
  return landmark_metrics(pred, truth, 5).mean_nme;
}

LandmarkFraming framing_from_metadata(const std::map<std::string, std::string>& meta) {
  LandmarkFraming f;
  auto cfg = meta.find("config");
  FF_CHECK(cfg != meta.end(), "landmark checkpoint: no 'config' in its metadata");
  f.input_size = HourglassConfig::parse(cfg->second).input_size;
  auto cs = meta.find("crop_scale");
  if (cs != meta.end()) f.crop_scale = std::stod(cs->second);
  return f;
}

HeatmapDecode decode_from_metadata(const std::map<std::string, std::string>& meta) {
  auto d = meta.find("decode");
  if (d == meta.end() || d->second == "soft_argmax") return HeatmapDecode::SoftArgmax;
  FF_CHECK(d->second == "quarter_pixel", "landmark checkpoint: unknown decode '", d->second, "'");
  return HeatmapDecode::QuarterPixel;
}

}  // namespace ff
