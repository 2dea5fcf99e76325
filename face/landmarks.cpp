// face/landmarks.cpp — framing, samples, prediction and checkpoint metadata of the landmark
// network (see landmarks.h); the training loop is face/landmark_train.cpp.
#include "face/landmarks.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "data/face_sample.h"
#include "engine/autograd.h"
#include "engine/ops_geometry.h"
#include "engine/parse.h"

namespace ff {

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

Affine2 face_crop_matrix(const FaceBox& box, const LandmarkFraming& framing, const std::string& image) {
  FF_CHECK(box.width > 0 && box.height > 0, "face crop", image.empty() ? "" : " of ", image, ": the box (", box.x, ", ",
           box.y, ", ", box.width, " x ", box.height, ") has no area");
  FF_CHECK(framing.input_size > 0 && framing.crop_scale > 0, "face crop: bad framing (input ", framing.input_size,
           ", crop scale ", framing.crop_scale, ")");
  const double S = static_cast<double>(framing.input_size);
  const double side = framing.crop_scale * std::max(box.width, box.height);
  const double cx = box.x + box.width / 2.0 - 0.5, cy = box.y + box.height / 2.0 - 0.5;
  const double s = S / side;
  return Affine2{{{s, 0.0, S / 2 - 0.5 - s * cx}, {0.0, s, S / 2 - 0.5 - s * cy}}};
}

Sample make_landmark_sample(const Image& photo, const FaceRecord& face, const LandmarkFraming& framing,
                            const AugmentConfig* augment, Rng& rng) {
  FF_CHECK(face.box.has_value(), "landmark sample ", face.file, ": the record has no face box");
  FF_CHECK(photo.channels == 3 && !photo.empty(), "landmark sample ", face.file, ": expected an RGB image, got ",
           photo.str());
  const int64_t S = framing.input_size;
  FaceSample f =
      warp_face_sample(photo, face_crop_matrix(*face.box, framing, face.path.empty() ? face.file : face.path),
                       face.landmarks ? &*face.landmarks : nullptr, S, augment, rng);
  Sample s;
  s.image = f.image;
  if (f.points) {
    // Crop pixels -> heatmap pixels, pixel-centre exact: heatmap pixel i covers crop pixels
    // [4i - 0.5, 4i + 3.5].
    const double stride = static_cast<double>(S) / static_cast<double>(framing.heatmap_size());
    std::vector<float> pts(10);
    for (int k = 0; k < 5; ++k) {
      pts[2 * k] = static_cast<float>(((*f.points)[k].x + 0.5) / stride - 0.5);
      pts[2 * k + 1] = static_cast<float>(((*f.points)[k].y + 0.5) / stride - 0.5);
    }
    s.points = Tensor::from_vector(pts, {5, 2});
  }
  return s;
}

Landmarks5 heatmap_to_photo(const float* heatmap_xy, const FaceBox& box, const LandmarkFraming& framing) {
  const Affine2 inv = invert(face_crop_matrix(box, framing));
  const double stride = static_cast<double>(framing.input_size) / static_cast<double>(framing.heatmap_size());
  Landmarks5 out;
  for (int k = 0; k < 5; ++k)
    out[k] = apply_affine(inv, Point2{stride * (heatmap_xy[2 * k] + 0.5) - 0.5, stride * (heatmap_xy[2 * k + 1] + 0.5) - 0.5});
  return out;
}

std::vector<Landmarks5> predict_landmarks(StackedHourglass& net, const std::vector<const Image*>& photos,
                                          const std::vector<FaceBox>& boxes, const LandmarkFraming& framing,
                                          HeatmapDecode decode, Device device, int64_t batch) {
  FF_CHECK(photos.size() == boxes.size(), "predict_landmarks: ", photos.size(), " photos but ", boxes.size(), " boxes");
  FF_CHECK(batch > 0, "predict_landmarks: batch must be positive, got ", batch);
  FF_CHECK(net.config().landmarks == 5, "predict_landmarks: the network predicts ", net.config().landmarks,
           " landmarks, expected 5");
  net.eval();
  NoGradGuard no_grad;
  const int64_t S = framing.input_size, n = static_cast<int64_t>(photos.size());
  std::vector<Landmarks5> out;
  out.reserve(photos.size());
  Rng unused;  // no augmentation: no draw
  for (int64_t b0 = 0; b0 < n; b0 += batch) {
    const int64_t bn = std::min(batch, n - b0);
    Tensor x = Tensor::empty({bn, 3, S, S});
    for (int64_t i = 0; i < bn; ++i) {
      FaceSample s = warp_face_sample(*photos[b0 + i], face_crop_matrix(boxes[b0 + i], framing), nullptr, S, nullptr,
                                      unused);
      std::copy(s.image.data<float>(), s.image.data<float>() + 3 * S * S, x.data<float>() + i * 3 * S * S);
    }
    Tensor hm = net.forward(x.to(device));
    std::vector<float> q = decode_heatmaps(hm, decode, framing.decode_radius()).to_vector<float>();
    for (int64_t i = 0; i < bn; ++i) out.push_back(heatmap_to_photo(q.data() + i * 10, boxes[b0 + i], framing));
  }
  return out;
}

DatasetPredictions predict_dataset(StackedHourglass& net, const FaceSet& set, const std::vector<size_t>& idx,
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
      const FaceRecord& f = set.faces[idx[i]];
      return make_landmark_sample(load_image(f.path, 3), f, framing, nullptr, rng);
    }, lo);
    loader.start_epoch(0);
    Batch b;
    while (loader.next(&b)) {
      Tensor hm = net.forward(b.images.to(device));
      std::vector<float> q = decode_heatmaps(hm, HeatmapDecode::QuarterPixel).to_vector<float>();
      std::vector<float> s = decode_heatmaps(hm, HeatmapDecode::SoftArgmax, framing.decode_radius()).to_vector<float>();
      for (int64_t i = 0; i < b.size(); ++i) {
        const FaceBox& box = *set.faces[idx[b.indices[i]]].box;
        out.quarter_pixel.push_back(heatmap_to_photo(q.data() + 10 * i, box, framing));
        out.soft_argmax.push_back(heatmap_to_photo(s.data() + 10 * i, box, framing));
      }
    }
  }
  net.train(was_training);
  return out;
}

double mean_nme(const std::vector<Landmarks5>& predictions, const FaceSet& set, const std::vector<size_t>& idx) {
  FF_CHECK(predictions.size() == idx.size(), "mean_nme: ", predictions.size(), " predictions for ", idx.size(),
           " faces");
  std::vector<double> pred, truth;
  for (size_t i = 0; i < idx.size(); ++i) {
    const FaceRecord& f = set.faces[idx[i]];
    FF_CHECK(f.landmarks.has_value(), "mean_nme: ", f.file, " has no landmarks to compare with");
    const Point2 le = (*f.landmarks)[kLeftEye], re = (*f.landmarks)[kRightEye];
    FF_CHECK(std::hypot(le.x - re.x, le.y - re.y) > 0, "mean_nme: ", f.path, ": its two eye landmarks coincide at (",
             le.x, ", ", le.y, "): the inter-ocular distance that normalises the error is zero");
    for (int k = 0; k < 5; ++k) {
      const Point2 p = predictions[i][k], t = (*f.landmarks)[k];
      if (!std::isfinite(p.x) || !std::isfinite(p.y)) return std::numeric_limits<double>::quiet_NaN();
      pred.insert(pred.end(), {p.x, p.y});
      truth.insert(truth.end(), {t.x, t.y});
    }
  }
  return landmark_metrics(pred, truth, 5).mean_nme;
}

LandmarkFraming framing_from_metadata(const std::map<std::string, std::string>& meta) {
  LandmarkFraming f;
  auto cfg = meta.find("config");
  FF_CHECK(cfg != meta.end(), "landmark checkpoint: no 'config' in its metadata");
  f.input_size = HourglassConfig::parse(cfg->second).input_size;
  auto cs = meta.find("crop_scale");
  if (cs != meta.end()) f.crop_scale = parse_number(cs->second, "landmark checkpoint: metadata 'crop_scale'", 0.01, 100);
  return f;
}

HeatmapDecode decode_from_metadata(const std::map<std::string, std::string>& meta) {
  auto d = meta.find("decode");
  if (d == meta.end() || d->second == "soft_argmax") return HeatmapDecode::SoftArgmax;
  FF_CHECK(d->second == "quarter_pixel", "landmark checkpoint: unknown decode '", d->second, "'");
  return HeatmapDecode::QuarterPixel;
}

}  // namespace ff
