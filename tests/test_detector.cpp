// tests/test_detector.cpp — faceforge's detector: configuration strings, the network's shapes,
// and targets -> decoding round trips (what training teaches is what inference reads).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "face/detector.h"
#include "data/synth.h"
#include "engine/safetensors.h"
#include "models/factory.h"
#include "test_util.h"

#include <filesystem>
#include <fstream>

namespace ff {
namespace {
using namespace ff::test;

TEST(Detector, ConfigRoundTrip) {
  DetectorConfig c = DetectorConfig::small();
  EXPECT_EQ(DetectorConfig::parse(c.str()).str(), c.str());
  DetectorConfig d = DetectorConfig::parse("widths=8:8:16:16:32,extra=0:0:1:0:1,fpn=16,input=96");
  EXPECT_EQ(d.widths[4], 32);
  EXPECT_EQ(d.fpn, 16);
  EXPECT_THROW(DetectorConfig::parse("widths=8:8:16,extra=0:0:1:0:1"), Error);
  EXPECT_THROW(DetectorConfig::parse("input=100"), Error);
  EXPECT_THROW(DetectorConfig::named("large"), Error);
}

TEST(Detector, ShapesAtAnyMultipleOf32) {
  Rng rng(3);
  FaceDetectorNet net(DetectorConfig::small(), rng);
  net.eval();
  NoGradGuard ng;
  DetectorOutput o = net.forward_all(Tensor::zeros({2, 3, 96, 160}));
  EXPECT_EQ(o.heatmap.shape(), (Shape{2, 1, 24, 40}));
  EXPECT_EQ(o.size.shape(), (Shape{2, 2, 24, 40}));
  EXPECT_EQ(o.offset.shape(), (Shape{2, 2, 24, 40}));
  EXPECT_EQ(o.landmarks.shape(), (Shape{2, 10, 24, 40}));
  // The heatmap starts at the 1% prior.
  EXPECT_NEAR(1 / (1 + std::exp(-o.heatmap.to_vector<float>()[0])), 0.01, 0.01);
  expect_throw_with([&] { net.forward_all(Tensor::zeros({1, 3, 100, 96})); }, {"FaceDetectorNet", "multiples of 32"});
}

TEST(Detector, SaveLoadAsModelFile) {
  Rng rng(4);
  FaceDetectorNet net(DetectorConfig::small(), rng);
  TempDir dir;
  std::string p = (dir.path / "d.safetensors").string();
  save_model(p, net);
  LoadedModel lm = load_model(p);
  EXPECT_EQ(lm.kind, "detector");
  EXPECT_EQ(lm.detector().config().str(), net.config().str());
}

// Perfect network outputs made from the targets decode to the faces that made them.
DetectorOutput outputs_from_targets(const Tensor& t) {
  const int64_t H = t.size(1), W = t.size(2), plane = H * W;
  const float* d = t.data<float>();
  auto part = [&](int c0, int n, bool logit) {
    Tensor o = Tensor::zeros({1, n, H, W});
    float* p = o.data<float>();
    for (int c = 0; c < n; ++c)
      for (int64_t k = 0; k < plane; ++k) {
        float v = d[(c0 + c) * plane + k];
        p[c * plane + k] = logit ? (v >= 1.0f ? 10.0f : std::log(std::max(v, 1e-6f) / (1 - std::min(v, 0.999f))) - 3)
                                 : v;
      }
    return o;
  };
  return {part(kTargetHeatmap, 1, true), part(kTargetSize, 2, false), part(kTargetOffset, 2, false),
          part(kTargetLandmarks, 10, false)};
}

TEST(Detector, TargetsDecodeToTheirFaces) {
  std::vector<FaceDetection> faces(3);
  faces[0].box = FaceBox{10.3f, 20.7f, 24.0f, 30.0f};
  faces[1].box = FaceBox{80.0f, 40.0f, 60.0f, 66.0f};
  faces[2].box = FaceBox{20.0f, 100.0f, 18.0f, 18.0f};
  for (auto& f : faces) {
    f.has_landmarks = true;
    for (int k = 0; k < 5; ++k)
      f.landmarks[k] = Point2{f.box.x + f.box.width * (0.3 + 0.1 * k), f.box.y + f.box.height * (0.4 + 0.08 * k)};
  }
  Tensor t = render_detector_targets(faces, 160, 160);
  ASSERT_EQ(t.shape(), (Shape{kTargetChannels, 40, 40}));
  DetectOptions opt;
  opt.score_threshold = 0.5;
  auto got = decode_detector_output(outputs_from_targets(t), 1.0, 160, 160, opt);
  ASSERT_EQ(got.size(), 3u);
  for (const auto& f : faces) {
    bool found = false;
    for (const auto& g : got) {
      if (box_iou(f.box, g.box) < 0.999) continue;
      found = true;
      for (int k = 0; k < 5; ++k) {
        EXPECT_NEAR(g.landmarks[k].x, f.landmarks[k].x, 1e-3);
        EXPECT_NEAR(g.landmarks[k].y, f.landmarks[k].y, 1e-3);
      }
    }
    EXPECT_TRUE(found) << f.box.x << "," << f.box.y;
  }
  // At scale 2 (the photo was halved), boxes come back in the photo's pixels.
  auto big = decode_detector_output(outputs_from_targets(t), 2.0, 320, 320, opt);
  ASSERT_EQ(big.size(), 3u);
  bool found = false;
  for (const auto& g : big)
    found |= std::abs(g.box.x - ((faces[1].box.x + 0.5) * 2 - 0.5)) < 1e-3 && std::abs(g.box.width - 120.0f) < 1e-3;
  EXPECT_TRUE(found);
}

TEST(Detector, TargetsEdgeCases) {
  // A face whose centre lies outside the sample contributes nothing; the larger of two faces in
  // one cell keeps the regressions; a face without landmarks has no landmark mask.
  std::vector<FaceDetection> faces(3);
  faces[0].box = FaceBox{-40.0f, 10.0f, 30.0f, 30.0f};
  faces[1].box = FaceBox{40.0f, 40.0f, 20.0f, 20.0f};
  faces[2].box = FaceBox{30.0f, 30.0f, 40.0f, 40.0f};
  Tensor t = render_detector_targets(faces, 96, 96);
  const int64_t W = 24, plane = 24 * 24;
  const float* d = t.data<float>();
  double mask_sum = 0, lmk_mask = 0;
  for (int64_t k = 0; k < plane; ++k) mask_sum += d[kTargetBoxMask * plane + k], lmk_mask += d[kTargetLandmarkMask * plane + k];
  EXPECT_EQ(mask_sum, 1.0);
  EXPECT_EQ(lmk_mask, 0.0);
  EXPECT_NEAR(d[kTargetSize * plane + 12 * W + 12], std::log(10.0), 1e-6);
  EXPECT_THROW(render_detector_targets(faces, 30, 32), Error);
}

TEST(Detector, DetectorInputPadsAndScales) {
  Image photo(700, 300, 3, 128);
  double s = 0;
  Tensor x = detector_input(photo, 640, &s);
  EXPECT_NEAR(s, 700.0 / 640, 1e-12);
  EXPECT_EQ(x.shape(), (Shape{1, 3, 288, 640}));
  Image small(50, 40, 3, 0);
  x = detector_input(small, 640, &s);
  EXPECT_EQ(s, 1.0);
  EXPECT_EQ(x.shape(), (Shape{1, 3, 64, 64}));
  expect_throw_with([&] { detector_input(Image(), 640, &s); }, {"detector", "RGB and not empty"});
}

}  // namespace

// The second pass at half size adds only faces larger than the training crop at the first pass.
// A network whose heads ignore the picture (zero weights): every cell scores alike and predicts a
// box of `side` input pixels, so which pass a box came from shows in its size.
TEST(Detector, SecondPassAddsOnlyFacesLargerThanTheCrop) {
  TempDir dir;
  auto detector_with_side = [&](float side) {
    Rng rng(5);
    FaceDetectorNet net(DetectorConfig::small(), rng);  // input 160: passes at 320 and 160 px
    for (auto& [name, t] : net.named_parameters()) {
      if (name.rfind("heatmap.", 0) == 0 || name.rfind("size.", 0) == 0 || name.rfind("offset.", 0) == 0)
        t->fill_(0.0);
      if (name == "heatmap.bias") t->fill_(8.0);
      if (name == "size.bias") t->fill_(std::log(side / FaceDetectorNet::kStride));
      if (name == "offset.bias") t->fill_(0.5);
    }
    const std::string p = (dir.path / ("side" + std::to_string(int(side)) + ".safetensors")).string();
    save_model(p, net);
    DetectOptions o;
    o.score_threshold = 0.5;
    o.max_faces = 1000;
    return std::make_unique<OurFaceDetector>(p, o);
  };
  Image photo(640, 480, 3, 128);
  auto sides = [](const std::vector<FaceDetection>& faces) {
    std::vector<int> s;
    for (const FaceDetection& f : faces) s.push_back(static_cast<int>(std::lround(std::max(f.box.width, f.box.height))));
    std::sort(s.begin(), s.end());
    s.erase(std::unique(s.begin(), s.end()), s.end());
    return s;
  };
  // side 100 input px: 200 photo px at the first pass (scale 2), 400 at the second (scale 4),
  // where 100 >= 160 / 2: both passes contribute.
  auto big = detector_with_side(100);
  const std::vector<int> both = sides(big->detect(photo));
  EXPECT_TRUE(std::find(both.begin(), both.end(), 200) != both.end()) << "first pass missing";
  EXPECT_TRUE(std::find(both.begin(), both.end(), 400) != both.end()) << "second pass missing";
  big->pyramid = false;
  const std::vector<int> one = sides(big->detect(photo));
  EXPECT_TRUE(std::find(one.begin(), one.end(), 400) == one.end()) << "second pass ran with pyramid off";
  // side 40: 160 photo px at the second pass, but 40 < 80 there: only the first pass's 80 px boxes.
  auto small = detector_with_side(40);
  const std::vector<int> small_sides = sides(small->detect(photo));
  ASSERT_FALSE(small_sides.empty());
  for (int s : small_sides) EXPECT_LE(s, 80) << "a small second-pass face was kept";
}

// train-detector through the one training loop: its files, the recorded score threshold, an
// exact resume after an interruption, and the NaN stop. A tiny network on tiny synthetic scenes.
TEST(DetectorTrain, RunFilesExactResumeAndNanStop) {
  TempDir dir("ff_det_train");
  SceneConfig sc;
  sc.scenes = 20;
  sc.min_width = 96;
  sc.max_width = 128;
  sc.seed = 3;
  write_synth_scenes(dir.str("scenes"), sc);
  auto options = [&](const std::string& out) {
    DetectorTrainOptions o;
    o.data = dir.str("scenes");
    o.out = dir.str(out);
    o.config = "widths=8:8:16:16:16,extra=0:0:0:0:0,fpn=8,input=64";
    o.batch = 4;
    o.workers = 0;
    o.max_val_images = 4;
    o.fit.epochs = 2;
    o.fit.progress = false;
    return o;
  };
  const DetectorTrainResult straight = train_detector(options("straight"));
  const int64_t per_epoch = straight.steps / 2;
  ASSERT_GE(per_epoch, 2);
  for (const char* f : {"log.csv", "val.csv", "best.safetensors", "last.safetensors", "report/metrics.json"})
    EXPECT_TRUE(std::filesystem::is_regular_file(dir.str("straight/") + f)) << f;
  const SafeTensors best = read_safetensors(straight.best);
  ASSERT_TRUE(best.metadata.count("score_threshold"));
  const double thr = std::stod(best.metadata.at("score_threshold"));
  EXPECT_GE(thr, 0.05);
  EXPECT_LE(thr, 0.95);
  // The file's own threshold is what its detector uses by default; an explicit one wins.
  EXPECT_DOUBLE_EQ(load_detector(straight.best)->options.score_threshold, thr);
  DetectOptions explicit_thr;
  explicit_thr.score_threshold = 0.9;
  EXPECT_DOUBLE_EQ(load_detector(straight.best, explicit_thr)->options.score_threshold, 0.9);

  // Interrupted in the middle of the second epoch, then resumed with another worker count: the
  // same weights, bit for bit.
  DetectorTrainOptions a = options("interrupted");
  a.fit.stop_after_steps = per_epoch + 1;
  train_detector(a);
  DetectorTrainOptions b = a;
  b.fit.stop_after_steps = -1;
  b.resume = true;
  b.workers = 1;
  train_detector(b);
  const auto w1 = read_safetensors(dir.str("straight/last.safetensors")).tensors;
  const auto w2 = read_safetensors(dir.str("interrupted/last.safetensors")).tensors;
  ASSERT_EQ(w1.size(), w2.size());
  for (size_t i = 0; i < w1.size(); ++i) {
    ASSERT_EQ(w1[i].first, w2[i].first);
    EXPECT_EQ(w1[i].second.to_vector<float>(), w2[i].second.to_vector<float>()) << w1[i].first;
  }
  std::ifstream log(dir.str("interrupted/log.csv"));
  std::string line;
  int rows = -1;
  while (std::getline(log, line)) ++rows;
  EXPECT_EQ(rows, straight.steps);  // every step logged once

  // A NaN loss stops the run with an error naming the step; no --resume: an old run is refused.
  DetectorTrainOptions n = options("nan");
  n.fit.nan_at_step = 2;
  try {
    train_detector(n);
    ADD_FAILURE() << "no error on a NaN loss";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("step 2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(train_detector(options("straight")), Error);
}

}  // namespace ff
