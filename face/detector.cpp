// face/detector.cpp — targets, decoding and inference of faceforge's detector (face/detector.h).
#include "face/detector.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/parse.h"
#include "data/face_sample.h"

namespace ff {

namespace {
constexpr int kStride = FaceDetectorNet::kStride;
}  // namespace

Tensor render_detector_targets(const std::vector<FaceDetection>& faces, int64_t height, int64_t width,
                               const std::vector<FaceDetection>& ignored) {
  FF_CHECK(height > 0 && width > 0 && height % kStride == 0 && width % kStride == 0,
           "render_detector_targets: the sample's sides must be positive multiples of ", kStride, ", got ", width,
           "x", height);
  const int64_t H = height / kStride, W = width / kStride, plane = H * W;
  Tensor t = Tensor::zeros({kTargetChannels, H, W});
  float* d = t.data<float>();
  auto at = [&](int c, int64_t i, int64_t j) -> float& { return d[c * plane + i * W + j]; };
  for (const auto& f : ignored) {
    const int64_t j0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(f.box.x / kStride)));
    const int64_t i0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(f.box.y / kStride)));
    const int64_t j1 = std::min<int64_t>(W - 1, static_cast<int64_t>(std::floor((f.box.x + f.box.width) / kStride)));
    const int64_t i1 = std::min<int64_t>(H - 1, static_cast<int64_t>(std::floor((f.box.y + f.box.height) / kStride)));
    for (int64_t i = i0; i <= i1; ++i)
      for (int64_t j = j0; j <= j1; ++j) at(kTargetHeatmap, i, j) = 0.9999f;
  }
  // Larger faces last, so they keep a shared cell's regression targets.
  std::vector<const FaceDetection*> order;
  for (const auto& f : faces)
    if (f.box.width > 0 && f.box.height > 0) order.push_back(&f);
  std::sort(order.begin(), order.end(), [](const FaceDetection* a, const FaceDetection* b) {
    return a->box.width * a->box.height < b->box.width * b->box.height;
  });
  for (const FaceDetection* f : order) {
    const double w = f->box.width, h = f->box.height;
    const double cx = (f->box.x + w / 2) / kStride, cy = (f->box.y + h / 2) / kStride;
    const int64_t j = static_cast<int64_t>(std::floor(cx)), i = static_cast<int64_t>(std::floor(cy));
    if (i < 0 || i >= H || j < 0 || j >= W) continue;  // centre outside the sample
    const double sigma = std::max(0.6, 0.54 * std::sqrt(w * h) / kStride / 6.0);
    const int64_t r = static_cast<int64_t>(std::ceil(3 * sigma));
    for (int64_t y = std::max<int64_t>(0, i - r); y <= std::min(H - 1, i + r); ++y)
      for (int64_t x = std::max<int64_t>(0, j - r); x <= std::min(W - 1, j + r); ++x) {
        // Distance from the centre cell's centre, so the centre cell is exactly 1.
        const double dx = x - j, dy = y - i;
        const float g = static_cast<float>(std::exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)));
        float& v = at(kTargetHeatmap, y, x);
        v = std::max(v, g);
      }
    at(kTargetHeatmap, i, j) = 1.0f;
    at(kTargetSize, i, j) = static_cast<float>(std::log(w / kStride));
    at(kTargetSize + 1, i, j) = static_cast<float>(std::log(h / kStride));
    at(kTargetOffset, i, j) = static_cast<float>(cx - j);
    at(kTargetOffset + 1, i, j) = static_cast<float>(cy - i);
    at(kTargetBoxMask, i, j) = 1.0f;
    if (f->has_landmarks) {
      const double ccx = cx * kStride, ccy = cy * kStride;
      for (int k = 0; k < 5; ++k) {
        at(kTargetLandmarks + 2 * k, i, j) = static_cast<float>((f->landmarks[k].x - ccx) / w);
        at(kTargetLandmarks + 2 * k + 1, i, j) = static_cast<float>((f->landmarks[k].y - ccy) / h);
      }
      at(kTargetLandmarkMask, i, j) = 1.0f;
    } else {
      for (int k = 0; k < 10; ++k) at(kTargetLandmarks + k, i, j) = 0.0f;
      at(kTargetLandmarkMask, i, j) = 0.0f;
    }
  }
  return t;
}

std::vector<FaceDetection> decode_detector_output(const DetectorOutput& out, double scale, int photo_width,
                                                  int photo_height, const DetectOptions& options) {
  for (const Tensor* t : {&out.heatmap, &out.size, &out.offset, &out.landmarks})
    FF_CHECK(t->defined() && t->dtype() == DType::F32 && t->device().is_cpu() && t->dim() == 4 && t->size(0) == 1,
             "decode_detector_output: outputs must be CPU float32 [1, C, H, W], got ",
             t->defined() ? t->str() : std::string("undefined"));
  const int64_t H = out.heatmap.size(2), W = out.heatmap.size(3), plane = H * W;
  FF_CHECK(out.heatmap.size(1) == 1 && out.size.size(1) == 2 && out.offset.size(1) == 2 &&
               out.landmarks.size(1) == 10 && out.size.size(2) == H && out.size.size(3) == W &&
               out.offset.size(2) == H && out.offset.size(3) == W && out.landmarks.size(2) == H &&
               out.landmarks.size(3) == W,
           "decode_detector_output: the heads' shapes disagree");
  const float* hm = out.heatmap.data<float>();
  const float* sz = out.size.data<float>();
  const float* of = out.offset.data<float>();
  const float* lm = out.landmarks.data<float>();
  // A logit threshold instead of a sigmoid per cell: sigmoid is monotonic.
  const double thr = std::clamp(options.score_threshold < 0 ? 0.5 : options.score_threshold, 1e-6, 1 - 1e-6);
  const float logit_thr = static_cast<float>(std::log(thr / (1 - thr)));
  std::vector<FaceDetection> cand;
  for (int64_t i = 0; i < H; ++i)
    for (int64_t j = 0; j < W; ++j) {
      const float v = hm[i * W + j];
      if (!(v >= logit_thr)) continue;  // NaN is never a face
      bool peak = true;
      for (int64_t y = std::max<int64_t>(0, i - 1); y <= std::min(H - 1, i + 1) && peak; ++y)
        for (int64_t x = std::max<int64_t>(0, j - 1); x <= std::min(W - 1, j + 1); ++x)
          if (hm[y * W + x] > v) {
            peak = false;
            break;
          }
      if (!peak) continue;
      const int64_t c = i * W + j;
      const double w = std::exp(std::clamp<double>(sz[c], -10, 10)) * kStride;
      const double h = std::exp(std::clamp<double>(sz[plane + c], -10, 10)) * kStride;
      const double cx = (j + of[c]) * kStride, cy = (i + of[plane + c]) * kStride;
      if (!std::isfinite(w) || !std::isfinite(h) || !std::isfinite(cx) || !std::isfinite(cy)) continue;
      FaceDetection f;
      f.score = 1.0 / (1.0 + std::exp(-static_cast<double>(v)));
      // Input pixel v -> photo pixel (v + 0.5) scale - 0.5 (detector_input's resize).
      auto photo = [scale](double v) { return (v + 0.5) * scale - 0.5; };
      f.box = FaceBox{static_cast<float>(photo(cx - w / 2)), static_cast<float>(photo(cy - h / 2)),
                      static_cast<float>(w * scale), static_cast<float>(h * scale)};
      f.has_landmarks = true;
      for (int k = 0; k < 5; ++k)
        f.landmarks[k] = Point2{photo(cx + lm[(2 * k) * plane + c] * w), photo(cy + lm[(2 * k + 1) * plane + c] * h)};
      const double side = std::sqrt(double(f.box.width) * f.box.height);
      if (side < options.min_face * 0.5) continue;  // far below what was asked for
      cand.push_back(f);
    }
  // Clip boxes to the photo (landmarks stay where predicted).
  for (auto& f : cand) {
    double x0 = std::max<double>(f.box.x, -0.5), y0 = std::max<double>(f.box.y, -0.5);
    double x1 = std::min<double>(f.box.x + f.box.width, photo_width - 0.5);
    double y1 = std::min<double>(f.box.y + f.box.height, photo_height - 0.5);
    f.box = FaceBox{float(x0), float(y0), float(std::max(0.0, x1 - x0)), float(std::max(0.0, y1 - y0))};
  }
  std::vector<int64_t> keep = nms(cand, options.nms_iou);
  std::vector<FaceDetection> faces;
  for (int64_t k : keep) {
    if (static_cast<int>(faces.size()) >= options.max_faces) break;
    if (cand[k].box.width <= 0 || cand[k].box.height <= 0) continue;
    faces.push_back(cand[k]);
  }
  return faces;
}

Tensor detector_input(const Image& photo, int max_side, double* scale) {
  FF_CHECK(photo.width > 0 && photo.height > 0 && photo.channels == 3, "detector: the photo must be RGB and not empty, got ",
           photo.str());
  FF_CHECK(max_side >= 32, "detector: max_side must be >= 32, got ", max_side);
  const int longer = std::max(photo.width, photo.height);
  const double s = longer > max_side ? double(longer) / max_side : 1.0;
  const int w = std::max(1, static_cast<int>(std::lround(photo.width / s)));
  const int h = std::max(1, static_cast<int>(std::lround(photo.height / s)));
  const int A = FaceDetectorNet::kAlign;
  const int pw = (w + A - 1) / A * A, ph = (h + A - 1) / A * A;
  Image resized = photo;
  if (s != 1.0) {
    // Output pixel centre (u, v) samples the photo at ((u + 0.5) s - 0.5, (v + 0.5) s - 0.5).
    Affine2 m;
    m.m[0][0] = 1 / s, m.m[0][2] = 0.5 / s - 0.5;
    m.m[1][1] = 1 / s, m.m[1][2] = 0.5 / s - 0.5;
    resized = warp_image(photo, m, w, h);
  }
  Tensor x = image_to_tensor_chw(resized);  // [3, h, w] in [0, 1]
  normalize_imagenet_(x);
  Tensor padded = Tensor::zeros({1, 3, ph, pw});
  const float* src = x.data<float>();
  float* dst = padded.data<float>();
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < h; ++y)
      std::memcpy(dst + (static_cast<size_t>(c) * ph + y) * pw, src + (static_cast<size_t>(c) * h + y) * w,
                  sizeof(float) * w);
  *scale = s;
  return padded;
}

OurFaceDetector::OurFaceDetector(const std::string& path, const DetectOptions& opts) : path_(path) {
  options = opts;
  loaded_ = load_model(path);
  FF_CHECK(loaded_.kind == "detector", path, " holds a ", loaded_.kind, " model, not a face detector");
  loaded_.eval();
  // Trained on crops of config.input pixels with faces up to the whole crop: a photo is shown at
  // twice that, so faces up to half the photo's longer side look like faces it learnt (detect()'s
  // second pass at half the side takes the larger ones).
  max_side = opts.input_side > 0 ? opts.input_side : 2 * static_cast<int>(loaded_.detector().config().input_size);
  if (options.score_threshold < 0) {
    auto it = loaded_.meta.find("score_threshold");
    options.score_threshold =
        it != loaded_.meta.end() ? parse_number(it->second, path + ": metadata 'score_threshold'") : 0.5;
    FF_CHECK(options.score_threshold > 0 && options.score_threshold < 1, path, ": metadata score_threshold ",
             options.score_threshold, " is not in (0, 1)");
  }
}

std::vector<FaceDetection> OurFaceDetector::detect_at(const Image& photo, int side) {
  double scale = 1;
  Tensor x = detector_input(photo, side, &scale);
  NoGradGuard no_grad;
  DetectorOutput out = loaded_.detector().forward_all(x);
  return decode_detector_output(out, scale, photo.width, photo.height, options);
}

std::vector<FaceDetection> OurFaceDetector::detect(const Image& photo) {
  std::vector<FaceDetection> faces = detect_at(photo, max_side);
  const int crop = static_cast<int>(loaded_.detector().config().input_size);
  const int longer = std::max(photo.width, photo.height);
  if (!pyramid || longer <= max_side / 2 || max_side / 2 < FaceDetectorNet::kAlign) return faces;
  // The second level: the photo at half the side, for faces too large for the first (over half
  // the training crop there, i.e. over the crop itself at the first level).
  const double scale2 = static_cast<double>(longer) / (max_side / 2);
  for (const FaceDetection& f : detect_at(photo, max_side / 2))
    if (std::sqrt(double(f.box.width) * f.box.height) / scale2 >= crop / 2.0) faces.push_back(f);
  std::vector<FaceDetection> merged;
  for (int64_t k : nms(faces, options.nms_iou)) {
    if (static_cast<int>(merged.size()) >= options.max_faces) break;
    merged.push_back(faces[k]);
  }
  return merged;
}

std::unique_ptr<FaceDetector> load_our_detector(const std::string& path, const DetectOptions& options) {
  return std::make_unique<OurFaceDetector>(path, options);
}

}  // namespace ff
