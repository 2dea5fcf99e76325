// tests/test_landmarks.cpp — the landmark network's training and evaluation (face/landmarks.h):
// sample framing (the landmarks land where the crop puts them, and on the marks drawn at them),
// the flip's left/right swap, heatmap <-> photo mapping, a tiny end-to-end run on a generated
// synthetic set (loss falls, every file of the run folder exists), bit-identical resume (at an
// epoch's end and mid-epoch), the NaN guard, and eval-landmarks against a direct computation.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops_geometry.h"
#include "engine/random.h"
#include "engine/safetensors.h"
#include "models/factory.h"
#include "face/landmark_report.h"
#include "face/landmarks.h"
#include "data/synth.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace ff;
using ff::test::patch_list_field;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() / ("ff_test_lmk_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string str(const std::string& sub = "") const { return sub.empty() ? path.string() : (path / sub).string(); }
};

// Column `col` of a CSV file (header skipped), as numbers.
std::vector<double> csv_column(const std::string& path, const std::string& col) {
  std::ifstream f(path);
  std::string line, cell;
  std::getline(f, line);
  std::stringstream hs(line);
  int index = -1, i = 0;
  while (std::getline(hs, cell, ',')) {
    if (cell == col) index = i;
    ++i;
  }
  EXPECT_GE(index, 0) << path << " has no column " << col;
  std::vector<double> out;
  while (std::getline(f, line)) {
    std::stringstream ls(line);
    for (int k = 0; k <= index && std::getline(ls, cell, ','); ++k) {
    }
    out.push_back(std::stod(cell));
  }
  return out;
}

// A grey photo with a one-pixel white mark at each landmark (rounded) and its record.
struct MarkedPhoto {
  Image photo;
  FaceRecord face;
};
MarkedPhoto marked_photo() {
  MarkedPhoto m;
  m.photo = Image(200, 160, 3, 60);
  m.face.file = "marked.png";
  m.face.box = FaceBox{70, 40, 60, 72};  // x_1, y_1, w, h
  m.face.landmarks = Landmarks5{{{85, 62}, {114, 60}, {100, 80}, {88, 98}, {111, 99}}};
  for (const Point2& p : *m.face.landmarks)
    for (int c = 0; c < 3; ++c) m.photo.at(static_cast<int>(p.x), static_cast<int>(p.y), c) = 255;
  return m;
}

// The un-normalised red channel of a sample (ImageNet normalisation undone) at crop pixel (x, y).
double red_at(const Sample& s, int64_t S, int64_t x, int64_t y) {
  return s.image.data<float>()[y * S + x] * 0.229 + 0.485;
}

// The brightest crop pixel within `r` of (x, y).
std::pair<int64_t, int64_t> brightest_near(const Sample& s, int64_t S, double x, double y, int r) {
  std::pair<int64_t, int64_t> best{-1, -1};
  double bv = -1;
  for (int64_t yy = std::lround(y) - r; yy <= std::lround(y) + r; ++yy)
    for (int64_t xx = std::lround(x) - r; xx <= std::lround(x) + r; ++xx) {
      if (xx < 0 || yy < 0 || xx >= S || yy >= S) continue;
      double v = red_at(s, S, xx, yy);
      if (v > bv) bv = v, best = {xx, yy};
    }
  return best;
}

// Where the crop puts photo point (x, y), computed by hand from the framing rule (landmarks.h).
std::pair<double, double> crop_of(const FaceRecord& f, const LandmarkFraming& fr, double x, double y) {
  const FaceBox& b = *f.box;
  const double side = fr.crop_scale * std::max(b.width, b.height);
  const double s = fr.input_size / side;
  const double cx = b.x + b.width / 2.0 - 0.5, cy = b.y + b.height / 2.0 - 0.5;
  return {(x - cx) * s + fr.input_size / 2.0 - 0.5, (y - cy) * s + fr.input_size / 2.0 - 0.5};
}

TEST(LandmarkSample, CropFramingPutsLandmarksOnTheirMarks) {
  MarkedPhoto m = marked_photo();
  LandmarkFraming fr;
  fr.input_size = 128;
  const int64_t S = 128;
  Rng rng(3);
  Sample s = make_landmark_sample(m.photo, m.face, fr, nullptr, rng);
  EXPECT_EQ(rng.offset(), 0u) << "no augmentation: no draw";
  ASSERT_EQ(s.image.shape(), (Shape{3, S, S}));
  ASSERT_EQ(s.points.shape(), (Shape{5, 2}));
  // The box centre lands on the crop centre, the enlarged square's edges on the crop's edges.
  auto c = crop_of(m.face, fr, 70 + 30 - 0.5, 40 + 36 - 0.5);
  EXPECT_NEAR(c.first, S / 2.0 - 0.5, 1e-9);
  EXPECT_NEAR(c.second, S / 2.0 - 0.5, 1e-9);
  const Affine2 M = face_crop_matrix(*m.face.box, fr);
  const double side = 1.35 * 72;
  EXPECT_NEAR(M.m[0][0] * (99.5 - side / 2) + M.m[0][2], -0.5, 1e-9);     // left edge of the square
  EXPECT_NEAR(M.m[1][1] * (75.5 + side / 2) + M.m[1][2], S - 0.5, 1e-9);  // bottom edge
  std::vector<float> q = s.points.to_vector<float>();
  for (int k = 0; k < 5; ++k) {
    auto p = crop_of(m.face, fr, (*m.face.landmarks)[k].x, (*m.face.landmarks)[k].y);
    // heatmap pixels: q = (p + 0.5) / 4 - 0.5
    EXPECT_NEAR(q[2 * k], (p.first + 0.5) / 4 - 0.5, 1e-4) << "point " << k;
    EXPECT_NEAR(q[2 * k + 1], (p.second + 0.5) / 4 - 0.5, 1e-4) << "point " << k;
    // The mark drawn at the landmark is the brightest spot near where the crop puts it.
    auto b = brightest_near(s, S, p.first, p.second, 3);
    EXPECT_LE(std::abs(b.first - p.first), 1.0) << "point " << k;
    EXPECT_LE(std::abs(b.second - p.second), 1.0) << "point " << k;
    EXPECT_GT(red_at(s, S, b.first, b.second), 0.35) << "point " << k << ": the mark is visible";
  }
  // Normalised with ImageNet's mean and std: the grey 60 background becomes (60/255 - mean) / std.
  EXPECT_NEAR(red_at(s, S, 5, 5), 60 / 255.0, 1e-5);
  EXPECT_NEAR(s.image.data<float>()[2 * S * S + 5 * S + 5], (60 / 255.0 - 0.406) / 0.225, 1e-5);
}

TEST(LandmarkSample, FlipSwapsLeftAndRight) {
  MarkedPhoto m = marked_photo();
  LandmarkFraming fr;
  fr.input_size = 64;
  const int64_t S = 64;
  AugmentConfig flip_only;
  flip_only.flip_probability = 1.0;
  flip_only.max_rotation_deg = 0;
  flip_only.min_scale = flip_only.max_scale = 1.0;
  flip_only.max_shift = 0;
  flip_only.brightness = flip_only.contrast = flip_only.saturation = 0;
  Rng rng(5), plain_rng(5);
  Sample f = make_landmark_sample(m.photo, m.face, fr, &flip_only, rng);
  EXPECT_GT(rng.offset(), 0u) << "augmentation draws from the generator";
  Sample p = make_landmark_sample(m.photo, m.face, fr, nullptr, plain_rng);
  std::vector<float> qf = f.points.to_vector<float>(), qp = p.points.to_vector<float>();
  const int partner[5] = {1, 0, 2, 4, 3};
  const double H = 16;
  for (int k = 0; k < 5; ++k) {
    // Slot k of the flipped sample holds the mirror image of point partner[k] of the plain one:
    // x -> S - 1 - x in crop pixels, i.e. x -> H - 1 - x in heatmap pixels.
    EXPECT_NEAR(qf[2 * k], H - 1 - qp[2 * partner[k]], 1e-4) << "slot " << k;
    EXPECT_NEAR(qf[2 * k + 1], qp[2 * partner[k] + 1], 1e-4) << "slot " << k;
  }
  // The left-eye slot (0) is on the image's left after the flip, as CelebA's labels require.
  EXPECT_LT(qf[0], qf[2]);
  EXPECT_LT(qf[6], qf[8]);
  // The image is the plain crop mirrored: the same uint8 warp through a mirrored matrix, so a
  // pixel may round to the neighbouring level (1/255 before normalisation), never further.
  const double kStd[3] = {0.229, 0.224, 0.225};
  int64_t bad = 0, exact = 0;
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t y = 0; y < S; ++y)
      for (int64_t x = 0; x < S; ++x) {
        const double d = std::fabs(f.image.data<float>()[(c * S + y) * S + x] -
                                   p.image.data<float>()[(c * S + y) * S + (S - 1 - x)]);
        bad += d > (1.0 / 255) / kStd[c] + 1e-5;
        exact += d < 1e-5;
      }
  EXPECT_EQ(bad, 0);
  EXPECT_GT(exact, 3 * S * S * 99 / 100) << "almost every pixel is the mirrored one exactly";
}

TEST(LandmarkSample, HeatmapPointsMapBackToThePhoto) {
  MarkedPhoto m = marked_photo();
  for (int64_t S : {64, 128, 256}) {
    LandmarkFraming fr;
    fr.input_size = S;
    Rng rng;
    Sample s = make_landmark_sample(m.photo, m.face, fr, nullptr, rng);
    const int64_t H = fr.heatmap_size();
    Tensor hm = render_heatmaps(s.points.reshape({1, 5, 2}), H, H, fr.sigma());
    for (HeatmapDecode d : {HeatmapDecode::QuarterPixel, HeatmapDecode::SoftArgmax}) {
      std::vector<float> q = decode_heatmaps(hm, d, fr.decode_radius()).to_vector<float>();
      Landmarks5 back = heatmap_to_photo(q.data(), *m.face.box, fr);
      // Soft-argmax recovers a rendered Gaussian almost exactly; the quarter-pixel step is off by
      // up to a quarter heatmap pixel per axis (4 crop pixels per heatmap pixel).
      const double crop_px = 1.35 * 72 / S;  // photo pixels per crop pixel
      const double tol = d == HeatmapDecode::SoftArgmax ? 0.1 * crop_px * 4 : 0.26 * 4 * crop_px;
      for (int k = 0; k < 5; ++k) {
        EXPECT_NEAR(back[k].x, (*m.face.landmarks)[k].x, tol) << "S " << S << " point " << k;
        EXPECT_NEAR(back[k].y, (*m.face.landmarks)[k].y, tol) << "S " << S << " point " << k;
      }
    }
  }
}

TEST(LandmarkSample, SigmaScalesWithTheHeatmap) {
  LandmarkFraming fr;
  fr.input_size = 256;
  EXPECT_EQ(fr.heatmap_size(), 64);
  EXPECT_DOUBLE_EQ(fr.sigma(), 2.0);  // the reference: sigma 2 at 64x64
  fr.input_size = 128;
  EXPECT_DOUBLE_EQ(fr.sigma(), 1.0);
  EXPECT_GE(fr.decode_radius(), 2);
}

// heatmap_loss = sum over stacks of mean(w (o - t)^2), w = 1 + F t; its gradient is
// 2 w (o - t) / n per element. Checked against a direct float64 computation.
TEST(HeatmapLoss, WeightedMseOverStacks) {
  Rng rng(5);
  const std::vector<int64_t> shape = {2, 5, 6, 6};
  Tensor target = Tensor::empty(shape), o1 = Tensor::empty(shape), o2 = Tensor::empty(shape);
  uniform_(target, 0, 1, rng);
  uniform_(o1, -0.5, 1.5, rng);
  uniform_(o2, -0.5, 1.5, rng);
  const std::vector<float> t = target.to_vector<float>();
  for (double fg : {0.0, 10.0, 50.0}) {
    Tensor a = o1.clone(), b = o2.clone();
    a.requires_grad_();
    b.requires_grad_();
    Tensor loss = heatmap_loss({a, b}, target, fg);
    loss.backward();
    double expect = 0;
    const double n = static_cast<double>(t.size());
    for (const Tensor* o : {&a, &b}) {
      const std::vector<float> ov = o->to_vector<float>(), g = o->grad().to_vector<float>();
      for (size_t i = 0; i < t.size(); ++i) {
        const double w = 1 + fg * t[i], d = static_cast<double>(ov[i]) - t[i];
        expect += w * d * d / n;
        ASSERT_NEAR(g[i], 2 * w * d / n, 1e-6 * (1 + fg)) << "fg " << fg << " element " << i;
      }
    }
    EXPECT_NEAR(loss.item(), expect, 1e-5 * expect) << "fg " << fg;
    if (fg == 0) {  // the notebooks' loss: plain MSE summed over the stacks
      NoGradGuard ng;
      EXPECT_NEAR(loss.item(), add(mse_loss(o1, target), mse_loss(o2, target)).item(), 1e-6);
    }
  }
  EXPECT_THROW(heatmap_loss({o1}, target, -1.0), Error);
  EXPECT_THROW(heatmap_loss({}, target, 1.0), Error);
}

TEST(LandmarkSample, BadInputThrows) {
  MarkedPhoto m = marked_photo();
  LandmarkFraming fr;
  Rng rng;
  FaceRecord empty_box = m.face;
  empty_box.box->width = 0;
  empty_box.path = "/data/img_celeba/000007.jpg";
  try {  // the error names the photo
    make_landmark_sample(m.photo, empty_box, fr, nullptr, rng);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("face crop of /data/img_celeba/000007.jpg: the box"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("has no area"), std::string::npos) << e.what();
  }
  // mean_nme names a face whose two eyes coincide (its error would be divided by zero).
  FaceSet one;
  one.faces.push_back(m.face);
  one.faces[0].path = "/data/img_celeba/000008.jpg";
  (*one.faces[0].landmarks)[kRightEye] = (*one.faces[0].landmarks)[kLeftEye];
  try {
    mean_nme({*m.face.landmarks}, one, {0});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mean_nme: /data/img_celeba/000008.jpg: its two eye landmarks coincide"),
              std::string::npos)
        << e.what();
  }
  FaceRecord no_box = m.face;
  no_box.box.reset();
  EXPECT_THROW(make_landmark_sample(m.photo, no_box, fr, nullptr, rng), Error);
  EXPECT_THROW(make_landmark_sample(Image(50, 40, 1), m.face, fr, nullptr, rng), Error);
  EXPECT_THROW(load_faces("/nonexistent/folder", FaceFilter::BoxAndLandmarks), Error);
}

// ---------------------------------------------------------------- training runs
// A generated set of 8 identities x 5 images at 64 px (32 training, 8 validation faces) and a tiny
// network, shared by the tests below.
class LandmarkRun : public ::testing::Test {
 protected:
  static TempDir* data_;
  static void SetUpTestSuite() {
    data_ = new TempDir();
    SynthConfig c;
    c.identities = 8;
    c.per_identity = 5;
    c.size = 64;
    c.seed = 11;
    write_synth_dataset(data_->str(), c);
  }
  static void TearDownTestSuite() {
    delete data_;
    data_ = nullptr;
  }
  static LandmarkTrainOptions options(const std::string& out, int64_t epochs) {
    LandmarkTrainOptions o;
    o.data = data_->str();
    o.out = out;
    o.config = "stem=8,mid=16,channels=16,stacks=2,landmarks=5,input=64";
    o.fit.epochs = epochs;
    o.fit.progress = false;
    o.batch = 8;
    o.lr = 5e-4;
    o.seed = 7;
    o.workers = 2;
    o.report_samples = 4;
    return o;
  }
};
TempDir* LandmarkRun::data_ = nullptr;

TEST_F(LandmarkRun, TinyRunLearnsAndWritesItsFiles) {
  TempDir run;
  LandmarkTrainOptions o = options(run.str("run"), 3);
  LandmarkTrainResult r = train_landmarks(o);
  ASSERT_EQ(r.losses.size(), 12u);  // 32 training faces / batch 8 = 4 steps per epoch, read every step on the CPU
  ASSERT_EQ(r.epochs.size(), 3u);
  EXPECT_EQ(r.steps, 12);
  for (double l : r.losses) EXPECT_TRUE(std::isfinite(l));
  // The loss falls: the last epoch's mean is clearly below the first epoch's. (Measured 0.29 ->
  // 0.21. The heatmaps start near zero (head_init_scale), and under the foreground-weighted loss
  // the all-zero output is no cheap floor, so 12 steps of a tiny net lower it only this much.)
  double first = (r.losses[0] + r.losses[1] + r.losses[2] + r.losses[3]) / 4;
  double last = (r.losses[8] + r.losses[9] + r.losses[10] + r.losses[11]) / 4;
  EXPECT_LT(last, 0.8 * first) << "losses " << ::testing::PrintToString(r.losses);
  for (const char* f : {"log.csv", "val.csv", "last.safetensors", "last.state.safetensors", "best.safetensors",
                        "report/loss.svg", "report/val_nme.svg", "report/samples.png",
                        "report/index.html"})
    EXPECT_TRUE(fs::is_regular_file(run.path / "run" / f) && fs::file_size(run.path / "run" / f) > 0) << f;
  // log.csv: one row per step with the losses returned; val.csv: one row per epoch.
  std::vector<double> logged = csv_column(run.str("run/log.csv"), "loss");
  ASSERT_EQ(logged.size(), 12u);
  for (size_t i = 0; i < 12; ++i) EXPECT_FLOAT_EQ(logged[i], r.losses[i]);
  std::vector<double> val = csv_column(run.str("run/val.csv"), "val_nme");
  ASSERT_EQ(val.size(), 3u);
  EXPECT_FLOAT_EQ(val[2], r.epochs[2].metric);
  EXPECT_EQ(csv_column(run.str("run/val.csv"), "val_nme_quarter_pixel").size(), 3u);
  // The best checkpoint rebuilds through load_model with the framing it was trained with.
  LoadedModel lm = load_model(run.str("run/best.safetensors"));
  EXPECT_EQ(lm.kind, "hourglass");
  EXPECT_EQ(lm.hourglass().config().input_size, 64);
  EXPECT_EQ(framing_from_metadata(lm.meta).input_size, 64);
  EXPECT_DOUBLE_EQ(framing_from_metadata(lm.meta).crop_scale, 1.35);
  EXPECT_EQ(std::min({r.epochs[0].metric, r.epochs[1].metric, r.epochs[2].metric}), r.best_metric);
  const double epoch1 = (r.losses[0] + r.losses[1] + r.losses[2] + r.losses[3]) / 4;
  EXPECT_NEAR(csv_column(run.str("run/val.csv"), "train_loss")[0], epoch1, 1e-7 * epoch1)
      << "the epoch's mean loss is the mean of its step losses";
  // A second run into the same folder is refused; --resume on an empty one too.
  EXPECT_THROW(train_landmarks(o), Error);
  LandmarkTrainOptions fresh = options(run.str("empty"), 1);
  fresh.resume = true;
  EXPECT_THROW(train_landmarks(fresh), Error);
  // Resuming with another configuration is refused.
  LandmarkTrainOptions other = options(run.str("run"), 4);
  other.resume = true;
  other.config = "small";
  EXPECT_THROW(train_landmarks(other), Error);
}

// Faces whose points or box fall outside their photo are left out before training, counted on
// stderr and listed in RUN/skipped.csv (file:line of the offending row).
TEST_F(LandmarkRun, FacesOutsideTheirPhotoAreSkippedAndReported) {
  TempDir run;
  fs::copy(data_->path, run.path / "data", fs::copy_options::recursive);
  const std::string lm = run.str("data/list_landmarks_celeba.txt"), bb = run.str("data/list_bbox_celeba.txt");
  patch_list_field(lm, 3, 9, "5000");  // the first row's right mouth corner at (5000, -4000)
  const std::string a = patch_list_field(lm, 3, 10, "-4000");
  const std::string b = patch_list_field(bb, 4, 1, "100000");  // the second row's box far outside
  LandmarkTrainOptions o = options(run.str("run"), 1);
  o.data = run.str("data");
  ::testing::internal::CaptureStderr();
  LandmarkTrainResult r = train_landmarks(o);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("train-landmarks: skipped 2 of 40 faces: 1 points outside the photo (first: " + lm + ":3 '" + a +
                     "'), 1 box outside the photo (first: " + bb + ":4 '" + b + "')\n"),
            std::string::npos)
      << err;
  EXPECT_GT(r.steps, 0);
  std::ifstream f(run.str("run/skipped.csv"));
  const std::string csv((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(csv.rfind("file,line,image,reason\n", 0), 0u) << csv;
  EXPECT_NE(csv.find("\n" + lm + ",3," + a + ",points outside the photo\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\n" + bb + ",4," + b + ",box outside the photo\n"), std::string::npos) << csv;
}

// Two epochs straight == one epoch, then --resume for the second: the same losses, bit for bit,
// the same validation NME and the same final weights. The resumed call asks for another
// foreground weight: the run keeps the one it was started with.
TEST_F(LandmarkRun, ResumeAtEpochEndIsExact) {
  TempDir run;
  LandmarkTrainResult straight = train_landmarks(options(run.str("a"), 2));
  LandmarkTrainResult part1 = train_landmarks(options(run.str("b"), 1));
  LandmarkTrainOptions o = options(run.str("b"), 2);
  o.resume = true;
  o.fg_weight = 0;
  LandmarkTrainResult part2 = train_landmarks(o);
  std::vector<double> joined = part1.losses;
  joined.insert(joined.end(), part2.losses.begin(), part2.losses.end());
  ASSERT_EQ(joined.size(), straight.losses.size());
  for (size_t i = 0; i < joined.size(); ++i) EXPECT_EQ(joined[i], straight.losses[i]) << "step " << i + 1;
  ASSERT_EQ(part2.epochs.size(), 1u);
  EXPECT_EQ(part2.epochs[0].metric, straight.epochs[1].metric);
  SafeTensors wa = read_safetensors(run.str("a/last.safetensors")), wb = read_safetensors(run.str("b/last.safetensors"));
  ASSERT_EQ(wa.tensors.size(), wb.tensors.size());
  for (size_t i = 0; i < wa.tensors.size(); ++i) {
    std::vector<double> x = wa.tensors[i].second.to_vector<double>(), y = wb.tensors[i].second.to_vector<double>();
    EXPECT_EQ(x, y) << wa.tensors[i].first;
  }
  // The resumed log holds the whole run.
  EXPECT_EQ(csv_column(run.str("b/log.csv"), "loss"), csv_column(run.str("a/log.csv"), "loss"));
  EXPECT_EQ(csv_column(run.str("b/val.csv"), "val_nme"), csv_column(run.str("a/val.csv"), "val_nme"));
}

// A NaN loss stops the run naming the step, and leaves the last good checkpoint intact; resuming
// from that mid-epoch checkpoint continues exactly as an uninterrupted run. (The hook poisons the
// step's inputs, as train/fit.h does for every task; it used to poison this task's targets.)
TEST_F(LandmarkRun, NanStopsTheRunAndMidEpochResumeIsExact) {
  TempDir run;
  LandmarkTrainResult straight = train_landmarks(options(run.str("a"), 2));
  LandmarkTrainOptions o = options(run.str("b"), 2);
  o.fit.save_every = 2;
  o.fit.nan_at_step = 7;  // epoch 2, its third batch; the last checkpoint is from step 6
  try {
    train_landmarks(o);
    FAIL() << "a NaN loss must stop the run";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("step 7"), std::string::npos) << msg;
    EXPECT_NE(msg.find("nan"), std::string::npos) << msg;
  }
  SafeTensors last = read_safetensors(run.str("b/last.safetensors"));
  EXPECT_EQ(last.metadata.at("step"), "6");
  for (auto& [name, t] : last.tensors)
    for (double v : t.to_vector<double>()) ASSERT_TRUE(std::isfinite(v)) << name;
  EXPECT_EQ(csv_column(run.str("b/log.csv"), "loss").size(), 6u);
  o.fit.nan_at_step = -1;
  o.resume = true;
  LandmarkTrainResult rest = train_landmarks(o);
  ASSERT_EQ(rest.losses.size(), 2u);  // steps 7 and 8
  EXPECT_EQ(rest.losses[0], straight.losses[6]);
  EXPECT_EQ(rest.losses[1], straight.losses[7]);
  EXPECT_EQ(rest.epochs.back().metric, straight.epochs.back().metric);
  EXPECT_EQ(csv_column(run.str("b/log.csv"), "loss"), csv_column(run.str("a/log.csv"), "loss"));
}

// eval-landmarks' numbers equal a direct computation: predict_landmarks on the decoded photos and
// the NME formulas written out here.
TEST_F(LandmarkRun, EvalMatchesADirectComputation) {
  TempDir run;
  train_landmarks(options(run.str("r"), 1));
  LandmarkEvalOptions eo;
  eo.data = data_->str();
  eo.model = run.str("r/best.safetensors");
  eo.out = run.str("eval");
  eo.batch = 3;  // batches of another size than training's
  LandmarkEvalResult r = eval_landmarks(eo);
  ASSERT_EQ(r.metrics.n_images, 8);

  LoadedModel lm = load_model(eo.model);
  FaceSet data = load_faces(eo.data, FaceFilter::BoxAndLandmarks);
  std::vector<size_t> idx = data.partition(1);
  ASSERT_EQ(idx.size(), 8u);
  std::vector<Image> photos;
  std::vector<const Image*> ptrs;
  std::vector<FaceBox> boxes;
  for (size_t i : idx) {
    photos.push_back(load_image(data.faces[i].path, 3));
    boxes.push_back(*data.faces[i].box);
  }
  for (const Image& p : photos) ptrs.push_back(&p);
  auto pred = predict_landmarks(lm.hourglass(), ptrs, boxes, framing_from_metadata(lm.meta),
                                decode_from_metadata(lm.meta), Device::cpu(), 8);
  double sum = 0, fails = 0, auc = 0, point0 = 0;
  for (size_t i = 0; i < idx.size(); ++i) {
    const Landmarks5& g = *data.faces[idx[i]].landmarks;
    double iod = std::hypot(g[0].x - g[1].x, g[0].y - g[1].y), e = 0;
    for (int k = 0; k < 5; ++k) {
      double d = std::hypot(pred[i][k].x - g[k].x, pred[i][k].y - g[k].y) / iod;
      e += d / 5;
      if (k == 0) point0 += d / idx.size();
    }
    EXPECT_NEAR(r.metrics.nme[i], e, 1e-6) << "image " << i;
    sum += e / idx.size();
    fails += e > 0.1 ? 1.0 / idx.size() : 0;
    auc += std::max(0.0, 0.1 - e) / (0.1 * idx.size());
  }
  EXPECT_NEAR(r.metrics.mean_nme, sum, 1e-6);
  EXPECT_NEAR(r.metrics.failure_rate, fails, 1e-12);
  EXPECT_NEAR(r.metrics.auc, auc, 1e-6);
  EXPECT_NEAR(r.metrics.point_nme[0], point0, 1e-6);
  // The run's own last validation NME (the same checkpoint, the same decoder) agrees.
  EXPECT_NEAR(csv_column(run.str("r/val.csv"), "val_nme")[0], sum, 1e-6);
  // Files: the summary holds the NME; one row per image; the CED curve.
  for (const char* f : {"summary.csv", "points.csv", "images.csv", "ced.svg"})
    EXPECT_TRUE(fs::is_regular_file(run.path / "eval" / f)) << f;
  EXPECT_EQ(csv_column(run.str("eval/images.csv"), "nme").size(), 8u);
  EXPECT_NEAR(csv_column(run.str("eval/points.csv"), "nme")[0], point0, 1e-6);
}

TEST_F(LandmarkRun, EvalRejectsBadInput) {
  TempDir d;
  LandmarkEvalOptions eo;
  eo.data = data_->str();
  eo.model = d.str("missing.safetensors");
  EXPECT_THROW(eval_landmarks(eo), Error);
  // A file that is not a model.
  write_safetensors(d.str("plain.safetensors"), {{"x", Tensor::zeros({2})}}, {});
  eo.model = d.str("plain.safetensors");
  EXPECT_THROW(eval_landmarks(eo), Error);
  // A model of another kind.
  Rng rng;
  EmbeddingNet emb(EmbeddingConfig::small(), rng);
  save_model(d.str("emb.safetensors"), emb);
  eo.model = d.str("emb.safetensors");
  try {
    eval_landmarks(eo);
    FAIL() << "an embedding network is not a landmark network";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a landmark network"), std::string::npos) << e.what();
  }
}

}  // namespace
