// face/mtcnn.cpp — see mtcnn.h. Box arithmetic is float32 where facenet's tensors are float32,
// each operation rounded on its own as PyTorch's element-wise kernels do (no FMA contraction:
// the build does not enable it).
#include "face/mtcnn.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

#include "engine/autograd.h"
#include "engine/error.h"

namespace ff {

namespace {

// One candidate: facenet's box row (x1, y1, x2, y2, score) and its regression (4 values).
struct Cand {
  float b[4];
  float score;
  float reg[4];
};

// torchvision.ops.nms (CPU, float32): indices kept, highest score first.
std::vector<int> nms_union(const std::vector<Cand>& c, const std::vector<int>& idx, double thr) {
  std::vector<int> order(idx);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return c[a].score > c[b].score; });
  std::vector<char> gone(order.size(), 0);
  std::vector<int> keep;
  for (size_t oi = 0; oi < order.size(); ++oi) {
    if (gone[oi]) continue;
    const Cand& i = c[order[oi]];
    keep.push_back(order[oi]);
    const float ia = (i.b[2] - i.b[0]) * (i.b[3] - i.b[1]);
    for (size_t oj = oi + 1; oj < order.size(); ++oj) {
      if (gone[oj]) continue;
      const Cand& j = c[order[oj]];
      const float xx1 = std::max(i.b[0], j.b[0]), yy1 = std::max(i.b[1], j.b[1]);
      const float xx2 = std::min(i.b[2], j.b[2]), yy2 = std::min(i.b[3], j.b[3]);
      const float w = std::max(0.f, xx2 - xx1), h = std::max(0.f, yy2 - yy1);
      const float inter = w * h;
      const float ja = (j.b[2] - j.b[0]) * (j.b[3] - j.b[1]);
      const float ovr = inter / (ia + ja - inter);
      if (static_cast<double>(ovr) > thr) gone[oj] = 1;
    }
  }
  return keep;
}

// facenet's nms_numpy(..., "Min") on float32 arrays: np.argsort ascending, take the last, keep the
// rest whose overlap over the smaller area (+1 pixel convention) is <= thr.
std::vector<int> nms_min(const std::vector<Cand>& c, const std::vector<int>& idx, float thr) {
  std::vector<int> I(idx.size());
  std::iota(I.begin(), I.end(), 0);
  std::stable_sort(I.begin(), I.end(), [&](int a, int b) { return c[idx[a]].score < c[idx[b]].score; });
  std::vector<int> keep;
  while (!I.empty()) {
    const int ii = I.back();
    const Cand& i = c[idx[ii]];
    keep.push_back(idx[ii]);
    const float ia = (i.b[2] - i.b[0] + 1) * (i.b[3] - i.b[1] + 1);
    std::vector<int> rest;
    for (size_t k = 0; k + 1 < I.size(); ++k) {
      const Cand& j = c[idx[I[k]]];
      const float xx1 = std::max(i.b[0], j.b[0]), yy1 = std::max(i.b[1], j.b[1]);
      const float xx2 = std::min(i.b[2], j.b[2]), yy2 = std::min(i.b[3], j.b[3]);
      const float w = std::max(0.f, xx2 - xx1 + 1), h = std::max(0.f, yy2 - yy1 + 1);
      const float inter = w * h;
      const float ja = (j.b[2] - j.b[0] + 1) * (j.b[3] - j.b[1] + 1);
      const float o = inter / std::min(ia, ja);
      if (o <= thr) rest.push_back(I[k]);
    }
    I.swap(rest);
  }
  return keep;
}

// rerec: squares about the centre with the longer side, in place.
void rerec(Cand& c) {
  const float h = c.b[3] - c.b[1], w = c.b[2] - c.b[0];
  const float l = std::max(w, h);
  c.b[0] = c.b[0] + w * 0.5f - l * 0.5f;
  c.b[1] = c.b[1] + h * 0.5f - l * 0.5f;
  c.b[2] = c.b[0] + l;
  c.b[3] = c.b[1] + l;
}

// bbreg: calibration with the +1 convention.
void bbreg(Cand& c, const float* reg) {
  const float w = c.b[2] - c.b[0] + 1, h = c.b[3] - c.b[1] + 1;
  const float b1 = c.b[0] + reg[0] * w, b2 = c.b[1] + reg[1] * h;
  const float b3 = c.b[2] + reg[2] * w, b4 = c.b[3] + reg[3] * h;
  c.b[0] = b1;
  c.b[1] = b2;
  c.b[2] = b3;
  c.b[3] = b4;
}

// pad(): the box truncated to int32, x and y at least 1, ex at most W, ey at most H. The crop is
// rows [y - 1, ey), columns [x - 1, ex); false when empty (facenet's `ey > y - 1 and ex > x - 1`).
bool crop_of(const Cand& c, int W, int H, int* x0, int* y0, int* x1, int* y1) {
  // trunc() then .int(): a float beyond int32 would be undefined; boxes of a photo never are.
  auto ti = [](float v) {
    const float t = std::trunc(v);
    return t > 2e9f ? 2000000000 : (t < -2e9f ? -2000000000 : static_cast<int>(t));
  };
  int x = ti(c.b[0]), y = ti(c.b[1]), ex = ti(c.b[2]), ey = ti(c.b[3]);
  x = std::max(x, 1);
  y = std::max(y, 1);
  ex = std::min(ex, W);
  ey = std::min(ey, H);
  *x0 = x - 1;
  *y0 = y - 1;
  *x1 = ex;
  *y1 = ey;
  return ey > y - 1 && ex > x - 1;
}

// Crops of the candidates `idx` resized to side x side and run through net (batches of 512, as
// facenet's fixed_batch_process). Candidates whose crop is empty are dropped from idx.
template <typename Net>
std::vector<MtcnnOutput> run_crops(Net& net, const Image& photo, const std::vector<Cand>& c, std::vector<int>& idx,
                                   int side) {
  std::vector<int> ok;
  std::vector<std::array<int, 4>> boxes;
  for (int i : idx) {
    std::array<int, 4> r;
    if (crop_of(c[i], photo.width, photo.height, &r[0], &r[1], &r[2], &r[3])) {
      ok.push_back(i);
      boxes.push_back(r);
    }
  }
  idx.swap(ok);
  std::vector<MtcnnOutput> outs;
  const int64_t n = static_cast<int64_t>(idx.size());
  for (int64_t s = 0; s < n; s += 512) {
    const int64_t m = std::min<int64_t>(512, n - s);
    Tensor x = Tensor::empty({m, 3, side, side});
    float* p = x.data<float>();
    for (int64_t k = 0; k < m; ++k) {
      const auto& r = boxes[s + k];
      mtcnn_area_resize(photo, r[0], r[1], r[2], r[3], side, side, p + k * 3 * side * side);
    }
    outs.push_back(net.forward_all(x));
  }
  return outs;
}

}  // namespace

void mtcnn_area_resize(const Image& photo, int x0, int y0, int x1, int y1, int oh, int ow, float* out) {
  FF_CHECK(photo.channels == 3, "mtcnn: expects an RGB photo, got ", photo.str());
  FF_CHECK(0 <= x0 && x0 < x1 && x1 <= photo.width && 0 <= y0 && y0 < y1 && y1 <= photo.height && oh > 0 && ow > 0,
           "mtcnn_area_resize: region [", x0, ", ", x1, ") x [", y0, ", ", y1, ") outside ", photo.str());
  const int64_t ih = y1 - y0, iw = x1 - x0;
  const uint8_t* px = photo.data();
  const int64_t W = photo.width;
  std::vector<int64_t> r0(oh), r1(oh), c0(ow), c1(ow);
  // PyTorch's start_index / end_index: floor(i * in / out) and ceil((i + 1) * in / out).
  for (int64_t i = 0; i < oh; ++i) {
    r0[i] = (i / oh) * ih + ((i % oh) * ih) / oh;
    r1[i] = 1 + ((i + 1) * ih - 1) / oh;
  }
  for (int64_t j = 0; j < ow; ++j) {
    c0[j] = (j / ow) * iw + ((j % ow) * iw) / ow;
    c1[j] = 1 + ((j + 1) * iw - 1) / ow;
  }
  for (int64_t i = 0; i < oh; ++i)
    for (int64_t j = 0; j < ow; ++j) {
      float sum[3] = {0.f, 0.f, 0.f};
      for (int64_t y = r0[i]; y < r1[i]; ++y) {
        const uint8_t* row = px + ((y0 + y) * W + x0) * 3;
        for (int64_t x = c0[j]; x < c1[j]; ++x)
          for (int ch = 0; ch < 3; ++ch) sum[ch] += static_cast<float>(row[x * 3 + ch]);
      }
      const float kh = static_cast<float>(r1[i] - r0[i]), kw = static_cast<float>(c1[j] - c0[j]);
      for (int ch = 0; ch < 3; ++ch) {
        const float v = sum[ch] / kh / kw;
        out[(ch * oh + i) * ow + j] = (v - 127.5f) * 0.0078125f;
      }
    }
}

std::vector<FaceDetection> mtcnn_detect(MtcnnNets& nets, const Image& photo_in, const MtcnnParams& params,
                                        MtcnnTrace* trace) {
  FF_CHECK(photo_in.width > 0 && photo_in.height > 0, "mtcnn: empty photo ", photo_in.str());
  Image converted;
  if (photo_in.channels != 3) converted = to_channels(photo_in, 3);
  const Image& photo = photo_in.channels == 3 ? photo_in : converted;
  NoGradGuard no_grad;
  const int H = photo.height, W = photo.width;
  MtcnnTrace local;
  MtcnnTrace& tr = trace ? *trace : local;
  tr = MtcnnTrace{};

  // The pyramid, in double as Python computes it.
  const double m = 12.0 / params.min_face;
  double minl = std::min(H, W) * m;
  double scale_i = m;
  while (minl >= 12) {
    tr.scales.push_back(scale_i);
    scale_i = scale_i * params.factor;
    minl = minl * params.factor;
  }

  // Stage 1: P-Net over the pyramid.
  std::vector<Cand> cand;
  std::vector<int> picked;
  for (double scale : tr.scales) {
    const int hs = static_cast<int>(H * scale + 1), ws = static_cast<int>(W * scale + 1);
    Tensor x = Tensor::empty({1, 3, hs, ws});
    mtcnn_area_resize(photo, 0, 0, W, H, hs, ws, x.data<float>());
    MtcnnOutput out = nets.pnet->forward_all(x);
    const int64_t oh = out.prob.size(2), ow = out.prob.size(3), P = oh * ow;
    const float* prob = out.prob.data<float>() + P;  // channel 1: face
    const float* reg = out.reg.data<float>();
    const float thr = static_cast<float>(params.thresholds[0]);
    const float fs = static_cast<float>(scale);
    std::vector<int> here;
    for (int64_t yy = 0; yy < oh; ++yy)
      for (int64_t xx = 0; xx < ow; ++xx) {
        const int64_t k = yy * ow + xx;
        if (!(prob[k] >= thr)) continue;
        Cand c;
        const float bx = static_cast<float>(xx), by = static_cast<float>(yy);
        c.b[0] = std::floor((2.f * bx + 1.f) / fs);
        c.b[1] = std::floor((2.f * by + 1.f) / fs);
        c.b[2] = std::floor((2.f * bx + 11.f + 1.f) / fs);
        c.b[3] = std::floor((2.f * by + 11.f + 1.f) / fs);
        c.score = prob[k];
        for (int r = 0; r < 4; ++r) c.reg[r] = reg[r * P + k];
        here.push_back(static_cast<int>(cand.size()));
        cand.push_back(c);
      }
    tr.pnet_cells.push_back(static_cast<int>(here.size()));
    std::vector<int> keep = nms_union(cand, here, 0.5);
    tr.pnet_kept.push_back(static_cast<int>(keep.size()));
    picked.insert(picked.end(), keep.begin(), keep.end());
  }
  std::vector<int> idx = nms_union(cand, picked, 0.7);
  tr.stage1 = static_cast<int>(idx.size());
  for (int i : idx) {
    Cand& c = cand[i];
    const float regw = c.b[2] - c.b[0], regh = c.b[3] - c.b[1];
    const float q1 = c.b[0] + c.reg[0] * regw, q2 = c.b[1] + c.reg[1] * regh;
    const float q3 = c.b[2] + c.reg[2] * regw, q4 = c.b[3] + c.reg[3] * regh;
    c.b[0] = q1;
    c.b[1] = q2;
    c.b[2] = q3;
    c.b[3] = q4;
    rerec(c);
  }

  // Stage 2: R-Net on 24x24 crops.
  if (!idx.empty()) {
    std::vector<MtcnnOutput> outs = run_crops(*nets.rnet, photo, cand, idx, 24);
    std::vector<int> pass;
    int64_t k = 0;
    for (const MtcnnOutput& o : outs)
      for (int64_t r = 0; r < o.prob.size(0); ++r, ++k) {
        const float s = o.prob.data<float>()[r * 2 + 1];
        if (!(s > static_cast<float>(params.thresholds[1]))) continue;
        Cand& c = cand[idx[k]];
        c.score = s;
        for (int q = 0; q < 4; ++q) c.reg[q] = o.reg.data<float>()[r * 4 + q];
        pass.push_back(idx[k]);
      }
    tr.rnet_passed = static_cast<int>(pass.size());
    idx = nms_union(cand, pass, 0.7);
    for (int i : idx) {
      float reg[4];
      std::copy(cand[i].reg, cand[i].reg + 4, reg);
      bbreg(cand[i], reg);
      rerec(cand[i]);
    }
  }
  tr.stage2 = static_cast<int>(idx.size());

  // Stage 3: O-Net on 48x48 crops, landmarks, calibration, NMS "Min".
  std::vector<FaceDetection> faces;
  if (!idx.empty()) {
    std::vector<MtcnnOutput> outs = run_crops(*nets.onet, photo, cand, idx, 48);
    std::vector<int> pass;
    std::vector<std::array<float, 10>> pts(cand.size());
    int64_t k = 0;
    const float thr = static_cast<float>(params.thresholds[2]);
    for (const MtcnnOutput& o : outs)
      for (int64_t r = 0; r < o.prob.size(0); ++r, ++k) {
        const float s = o.prob.data<float>()[r * 2 + 1];
        if (!(s > thr)) continue;
        const int i = idx[k];
        Cand& c = cand[i];
        c.score = s;
        const float wi = c.b[2] - c.b[0] + 1, hi = c.b[3] - c.b[1] + 1;
        const float* lm = o.landmarks.data<float>() + r * 10;
        for (int q = 0; q < 5; ++q) {
          pts[i][q] = wi * lm[q] + c.b[0] - 1;
          pts[i][5 + q] = hi * lm[5 + q] + c.b[1] - 1;
        }
        float reg[4];
        for (int q = 0; q < 4; ++q) reg[q] = o.reg.data<float>()[r * 4 + q];
        bbreg(c, reg);
        pass.push_back(i);
      }
    tr.onet_passed = static_cast<int>(pass.size());
    idx = nms_min(cand, pass, 0.7f);
    for (int i : idx) {
      const Cand& c = cand[i];
      FaceDetection d;
      d.box = FaceBox{c.b[0], c.b[1], c.b[2] - c.b[0], c.b[3] - c.b[1]};
      d.score = c.score;
      d.has_landmarks = true;
      for (int q = 0; q < 5; ++q) d.landmarks[q] = Point2{pts[i][q], pts[i][5 + q]};
      faces.push_back(d);
    }
  }
  tr.stage3 = static_cast<int>(faces.size());
  return faces;
}

MtcnnDetector::MtcnnDetector(const std::string& path, const DetectOptions& opts) : path_(path) {
  options = opts;
  // Not chosen by the caller (< 0): facenet's O-Net threshold, so options says what the cascade uses.
  if (options.score_threshold < 0) options.score_threshold = MtcnnParams{}.thresholds[2];
  nets_ = load_mtcnn(path);
}

MtcnnParams MtcnnDetector::params() const {
  MtcnnParams p;
  p.min_face = options.min_face;
  p.thresholds[2] = options.score_threshold;
  return p;
}

std::vector<FaceDetection> MtcnnDetector::detect(const Image& photo) {
  FF_CHECK(photo.width > 0 && photo.height > 0, "mtcnn: cannot detect faces in an empty photo ", photo.str());
  std::vector<FaceDetection> faces = mtcnn_detect(*nets_, photo, params());
  std::stable_sort(faces.begin(), faces.end(),
                   [](const FaceDetection& a, const FaceDetection& b) { return a.score > b.score; });
  if (options.max_faces >= 0 && static_cast<int>(faces.size()) > options.max_faces) faces.resize(options.max_faces);
  return faces;
}

}  // namespace ff
