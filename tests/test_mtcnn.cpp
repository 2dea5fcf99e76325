// tests/test_mtcnn.cpp — facenet-pytorch's MTCNN on the engine (models/mtcnn.h, face/mtcnn.h)
// against facenet-pytorch 2.6.0 itself: the three networks on random inputs, the area resizing,
// and the whole cascade on 25 real photos of ../shared/data/celeba_wild_val (same number of faces,
// each box at IoU >= 0.95 with facenet's, the five points within 1 px, probabilities within 1e-3).
// Reference data: tools/make_mtcnn_reference.py (tests/data/models/mtcnn_nets.safetensors,
// tests/data/mtcnn_reference.json). The trained weights are not in the repository:
// scripts/mtcnn_weights.sh writes build/mtcnn.safetensors (scripts/test.sh runs it first;
// FF_MTCNN_WEIGHTS names another file); without them the tests that need them skip.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/safetensors.h"
#include "face/detect.h"
#include "face/mtcnn.h"
#include "models/mtcnn.h"
#include "tests/test_util.h"

namespace ff::test {
namespace {

namespace fs = std::filesystem;

std::string weights_path() {
  const char* e = std::getenv("FF_MTCNN_WEIGHTS");
  return e && *e ? std::string(e) : std::string(FF_SOURCE_DIR) + "/build/mtcnn.safetensors";
}
const std::string kPhotos = std::string(FF_SOURCE_DIR) + "/../shared/data/celeba_wild_val/img_celeba";

#define FF_SKIP_WITHOUT_MTCNN_WEIGHTS()                                                                \
  do {                                                                                                 \
    if (!fs::is_regular_file(weights_path()))                                                          \
      GTEST_SKIP() << "needs " << weights_path()                                                       \
                   << ": facenet-pytorch's MTCNN weights (bash scripts/mtcnn_weights.sh writes them)"; \
  } while (0)

double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  Tensor x = a.to(DType::F64), y = b.to(DType::F64);
  double m = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double d = std::fabs(x.data<double>()[i] - y.data<double>()[i]);
    m = std::isnan(d) ? INFINITY : std::max(m, d);
  }
  return m;
}

TEST(Mtcnn, NetsMatchFacenetOnRandomInputs) {
  FF_SKIP_WITHOUT_MTCNN_WEIGHTS();
  auto nets = load_mtcnn(weights_path());
  SafeTensors g = read_safetensors(std::string(FF_SOURCE_DIR) + "/tests/data/models/mtcnn_nets.safetensors");
  // facenet's outputs: P-Net and R-Net (reg, prob), O-Net (reg, landmarks, prob).
  MtcnnOutput p = nets->pnet->forward_all(g.at("pnet/in"));
  MtcnnOutput r = nets->rnet->forward_all(g.at("rnet/in"));
  MtcnnOutput o = nets->onet->forward_all(g.at("onet/in"));
  const std::pair<const char*, std::pair<Tensor, Tensor>> pairs[] = {
      {"pnet reg", {p.reg, g.at("pnet/out0")}},  {"pnet prob", {p.prob, g.at("pnet/out1")}},
      {"rnet reg", {r.reg, g.at("rnet/out0")}},  {"rnet prob", {r.prob, g.at("rnet/out1")}},
      {"onet reg", {o.reg, g.at("onet/out0")}},  {"onet landmarks", {o.landmarks, g.at("onet/out1")}},
      {"onet prob", {o.prob, g.at("onet/out2")}}};
  for (const auto& [what, t] : pairs) {
    const double d = max_abs_diff(t.first, t.second);
    std::printf("  %-15s max |ours - facenet| = %.3g\n", what, d);
    EXPECT_LE(d, 1e-4) << what;
  }
}

// F.interpolate(mode="area") of uint8 pixels (as float), normalised as the cascade does: the same
// float32 arithmetic (integer sums, / kh / kw), so equal to the last bit.
TEST(Mtcnn, AreaResizeEqualsPyTorch) {
  SafeTensors g = read_safetensors(std::string(FF_SOURCE_DIR) + "/tests/data/models/mtcnn_nets.safetensors");
  const Tensor& in = g.at("area/in");  // uint8 [1, 3, 37, 53]
  const int64_t H = in.size(2), W = in.size(3);
  Image img(static_cast<int>(W), static_cast<int>(H), 3);
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) img.at(x, y, c) = in.data<uint8_t>()[(c * H + y) * W + x];
  for (int k = 0; k < 6; ++k) {
    const Tensor& ref = g.at("area/out" + std::to_string(k));
    const int oh = static_cast<int>(ref.size(2)), ow = static_cast<int>(ref.size(3));
    std::vector<float> ours(3 * oh * ow);
    mtcnn_area_resize(img, 0, 0, static_cast<int>(W), static_cast<int>(H), oh, ow, ours.data());
    int bad = 0;
    for (int64_t i = 0; i < ref.numel(); ++i) {
      const float want = (ref.data<float>()[i] - 127.5f) * 0.0078125f;
      if (ours[i] != want && ++bad <= 3)
        ADD_FAILURE() << oh << "x" << ow << " element " << i << ": " << ours[i] << " vs " << want;
    }
    EXPECT_EQ(bad, 0) << oh << "x" << ow;
  }
  // A crop: the region's pixels only.
  std::vector<float> a(3 * 24 * 24), b(3 * 24 * 24);
  mtcnn_area_resize(img, 5, 7, 30, 36, 24, 24, a.data());
  Image crop(25, 29, 3);
  for (int y = 0; y < 29; ++y)
    for (int x = 0; x < 25; ++x)
      for (int c = 0; c < 3; ++c) crop.at(x, y, c) = img.at(5 + x, 7 + y, c);
  mtcnn_area_resize(crop, 0, 0, 25, 29, 24, 24, b.data());
  EXPECT_EQ(a, b);
}

double iou_xyxy(const double a[4], const double b[4]) {
  const double iw = std::max(0.0, std::min(a[2], b[2]) - std::max(a[0], b[0]));
  const double ih = std::max(0.0, std::min(a[3], b[3]) - std::max(a[1], b[1]));
  const double i = iw * ih, ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - i;
  return ua > 0 ? i / ua : 0;
}

// The whole cascade on real photos, decoded as PIL decodes them (data/image.h: libjpeg-turbo).
TEST(Mtcnn, MatchesFacenetOnPhotos) {
  FF_SKIP_WITHOUT_MTCNN_WEIGHTS();
  if (!fs::is_directory(kPhotos))
    GTEST_SKIP() << "needs ../shared/data/celeba_wild_val: the photos of tests/data/mtcnn_reference.json (" << kPhotos
                 << ")";
  std::ifstream f(std::string(FF_SOURCE_DIR) + "/tests/data/mtcnn_reference.json");
  ASSERT_TRUE(f) << "tests/data/mtcnn_reference.json";
  nlohmann::json ref = nlohmann::json::parse(f);
  auto nets = load_mtcnn(weights_path());
  int photos = 0, count_equal = 0, faces = 0;
  double worst_iou = 1, worst_px = 0, worst_prob = 0;
  for (const auto& p : ref["photos"]) {
    const std::string file = p["file"];
    Image img = load_image(kPhotos + "/" + file);
    ASSERT_EQ(img.width, p["width"].get<int>()) << file;
    ASSERT_EQ(img.height, p["height"].get<int>()) << file;
    MtcnnTrace tr;
    std::vector<FaceDetection> ours = mtcnn_detect(*nets, img, MtcnnParams{}, &tr);
    const auto& theirs = p["faces"];
    ++photos;
    const bool same_count = ours.size() == theirs.size();
    count_equal += same_count;
    EXPECT_EQ(ours.size(), theirs.size())
        << file << ": faces (stage counts ours/facenet: after P-Net " << tr.stage1 << "/" << p["stage1"]
        << ", after R-Net " << tr.stage2 << "/" << p["stage2"] << ")";
    double p_iou = 1, p_px = 0, p_prob = 0;
    for (const auto& t : theirs) {
      const double tb[4] = {t["box"][0], t["box"][1], t["box"][2], t["box"][3]};
      int best = -1;
      double best_iou = -1;
      for (size_t k = 0; k < ours.size(); ++k) {
        const FaceBox& b = ours[k].box;
        const double ob[4] = {b.x, b.y, b.x + b.width, b.y + b.height};
        const double v = iou_xyxy(tb, ob);
        if (v > best_iou) best_iou = v, best = static_cast<int>(k);
      }
      ++faces;
      p_iou = std::min(p_iou, std::max(best_iou, 0.0));
      if (best < 0) continue;
      double px = 0;
      for (int q = 0; q < 5; ++q)
        px = std::max(px, std::hypot(ours[best].landmarks[q].x - t["landmarks"][q][0].get<double>(),
                                     ours[best].landmarks[q].y - t["landmarks"][q][1].get<double>()));
      p_px = std::max(p_px, px);
      p_prob = std::max(p_prob, std::fabs(ours[best].score - t["prob"].get<double>()));
    }
    std::printf(
        "  %s: faces %zu/%zu, worst box IoU %.6f, worst landmark %.4f px, worst |dprob| %.2g; after "
        "P-Net %d/%d, after R-Net %d/%d\n",
        file.c_str(), ours.size(), theirs.size(), p_iou, p_px, p_prob, tr.stage1, p["stage1"].get<int>(), tr.stage2,
        p["stage2"].get<int>());
    EXPECT_GE(p_iou, 0.95) << file;
    EXPECT_LE(p_px, 1.0) << file;
    EXPECT_LE(p_prob, 1e-3) << file;
    worst_iou = std::min(worst_iou, p_iou);
    worst_px = std::max(worst_px, p_px);
    worst_prob = std::max(worst_prob, p_prob);
  }
  std::printf(
      "  %d photos, %d faces: face counts equal on %d; worst box IoU %.6f, worst landmark %.4f px, worst "
      "|dprob| %.2g\n",
      photos, faces, count_equal, worst_iou, worst_px, worst_prob);
  EXPECT_EQ(photos, 25);
}

// `--detector FILE` with an MTCNN file: load_detector picks the cascade; facenet's O-Net
// threshold unless the caller set one.
TEST(Mtcnn, LoadDetectorOpensMtcnnFiles) {
  FF_SKIP_WITHOUT_MTCNN_WEIGHTS();
  std::unique_ptr<FaceDetector> d = load_detector(weights_path());
  EXPECT_EQ(d->name(), "mtcnn (" + weights_path() + ")");
  auto* m = dynamic_cast<MtcnnDetector*>(d.get());
  ASSERT_NE(m, nullptr);
  EXPECT_DOUBLE_EQ(m->params().thresholds[2], 0.7);  // DetectOptions' -1: the detector's own
  EXPECT_DOUBLE_EQ(d->options.score_threshold, 0.7);  // what the cascade uses, for messages
  DetectOptions o;
  o.score_threshold = 0.9;
  std::unique_ptr<FaceDetector> d2 = load_detector(weights_path(), o);
  auto* m2 = dynamic_cast<MtcnnDetector*>(d2.get());
  ASSERT_NE(m2, nullptr);
  EXPECT_DOUBLE_EQ(m2->params().thresholds[2], 0.9);
  // A photo without a face: no faces, no error.
  Image gray(64, 48, 3, 128);
  EXPECT_TRUE(d->detect(gray).empty());
}

}  // namespace
}  // namespace ff::test
