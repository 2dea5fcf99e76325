// tests/test_embed.cpp — training and evaluating the face-embedding network (face/embed.h):
// alignment to the template (matrices and actual warps, plain and flipped), split and hold-out
// determinism and disjointness, a tiny end-to-end train + eval run on a synthetic dataset, exact
// resume, and the NaN stop. Synthetic datasets are written with data/synth.h in temp folders.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "engine/safetensors.h"
#include "models/factory.h"
#include "models/hourglass.h"
#include "data/face_sample.h"
#include "face/embed.h"
#include "face/landmarks.h"
#include "face/pipeline.h"
#include "data/synth.h"
#include "tests/test_util.h"

namespace ff::test {
namespace {

namespace fs = std::filesystem;

// A temporary folder removed at the end of the test.
using TempDir = ::ff::test::TempDir;

std::array<double, 2> apply(const Affine2& m, const Point2& p) {
  const Point2 q = apply_affine(m, p);
  return {q.x, q.y};
}
double det(const Affine2& m) { return m.m[0][0] * m.m[1][1] - m.m[0][1] * m.m[1][0]; }

// The template at `size` carried into a photo by a similarity (scale, angle, shift): landmarks the
// alignment should map back onto the template exactly.
Landmarks5 photo_landmarks(int64_t size, double s, double a, double tx, double ty) {
  Landmarks5 lm;
  auto t = embed_template(size);
  for (int k = 0; k < 5; ++k) {
    lm[k].x = s * (std::cos(a) * t[k][0] - std::sin(a) * t[k][1]) + tx;
    lm[k].y = s * (std::sin(a) * t[k][0] + std::cos(a) * t[k][1]) + ty;
  }
  return lm;
}

// ---------------------------------------------------------------- alignment

TEST(EmbedAlign, TemplateIsInsightfaceScaled) {
  auto t112 = embed_template(112), t64 = embed_template(64);
  EXPECT_NEAR(t112[0][0], 38.2946, 1e-9);
  EXPECT_NEAR(t112[4][1], 92.2041, 1e-9);
  for (int k = 0; k < 5; ++k) {
    EXPECT_NEAR(t64[k][0], t112[k][0] * 64 / 112, 1e-9);
    EXPECT_NEAR(t64[k][1], t112[k][1] * 64 / 112, 1e-9);
  }
}

TEST(EmbedAlign, LandmarksMapOntoTheTemplate) {
  for (int64_t size : {64, 112}) {
    auto lm = photo_landmarks(size, 1.7, 0.3, 25.0, -4.0);
    auto m = alignment_matrix(lm, size, false);
    auto t = embed_template(size);
    for (int k = 0; k < 5; ++k) {
      auto p = apply(m, lm[k]);
      EXPECT_NEAR(p[0], t[k][0], 1e-9) << "size " << size << " point " << k;
      EXPECT_NEAR(p[1], t[k][1], 1e-9) << "size " << size << " point " << k;
    }
    EXPECT_GT(det(m), 0) << "plain alignment must not reflect";
  }
}

// The flipped alignment is a reflection that puts the photo's RIGHT eye (and right mouth corner) on
// the template's left ones, and fits the template better than mirroring the plain crop.
TEST(EmbedAlign, FlipIsAnExactMirrorAlignment) {
  const int64_t size = 64;
  auto lm = photo_landmarks(size, 2.1, -0.2, 10.0, 30.0);
  lm[2].x += 1.5;  // a nose off the template's shape, so the fit is not trivially exact
  auto t = embed_template(size);
  auto plain = alignment_matrix(lm, size, false), flip = alignment_matrix(lm, size, true);
  EXPECT_LT(det(flip), 0) << "flip must reflect";
  const int swapped[5] = {1, 0, 2, 4, 3};
  double fit_exact = 0, fit_naive = 0;
  for (int k = 0; k < 5; ++k) {
    const int src = swapped[k];
    auto e = apply(flip, lm[src]);
    auto p = apply(plain, lm[src]);
    auto n = std::array<double, 2>{static_cast<double>(size - 1) - p[0], p[1]};  // naive mirror of the crop
    fit_exact += std::pow(e[0] - t[k][0], 2) + std::pow(e[1] - t[k][1], 2);
    fit_naive += std::pow(n[0] - t[k][0], 2) + std::pow(n[1] - t[k][1], 2);
    EXPECT_LT(std::hypot(e[0] - t[k][0], e[1] - t[k][1]), 1.0) << "point " << k;
  }
  EXPECT_LT(fit_exact, fit_naive);
}

// Finds the intensity centroid of `img` in a window around (x, y).
std::array<double, 2> centroid(const Image& img, double x, double y, int r) {
  double sw = 0, sx = 0, sy = 0;
  for (int j = static_cast<int>(std::lround(y)) - r; j <= static_cast<int>(std::lround(y)) + r; ++j)
    for (int i = static_cast<int>(std::lround(x)) - r; i <= static_cast<int>(std::lround(x)) + r; ++i) {
      if (i < 0 || j < 0 || i >= img.width || j >= img.height) continue;
      double w = img.at(i, j, 0) + img.at(i, j, 1) + img.at(i, j, 2);
      sw += w, sx += w * i, sy += w * j;
    }
  return {sx / sw, sy / sw};
}

// A photo with a Gaussian dot on each landmark: after the warp, each dot sits on its template point.
TEST(EmbedAlign, WarpedDotsLandOnTheTemplatePoints) {
  const int64_t size = 64;
  const double s = 1.8;
  auto lm = photo_landmarks(size, s, 0.35, 40.0, 12.0);
  Image photo(170, 160, 3, 0);
  for (int y = 0; y < photo.height; ++y)
    for (int x = 0; x < photo.width; ++x) {
      double v = 0;
      for (int k = 0; k < 5; ++k)
        v += std::exp(-(std::pow(x - lm[k].x, 2) + std::pow(y - lm[k].y, 2)) / (2 * s * s));
      for (int c = 0; c < 3; ++c) photo.at(x, y, c) = static_cast<uint8_t>(std::lround(std::min(1.0, v) * 255));
    }
  auto t = embed_template(size);
  Image aligned = warp_image(photo, alignment_matrix(lm, size, false), size, size);
  // normalised and back: the same picture
  Image round = denormalize_to_image(make_eval_face(photo, lm, size, false));
  for (int k = 0; k < 5; ++k) {
    auto c = centroid(aligned, t[k][0], t[k][1], 3);
    EXPECT_NEAR(c[0], t[k][0], 0.2) << "point " << k;
    EXPECT_NEAR(c[1], t[k][1], 0.2) << "point " << k;
    auto c2 = centroid(round, t[k][0], t[k][1], 3);
    EXPECT_NEAR(c2[0], c[0], 0.05);
  }
  // Flipped: the dot of the photo's right eye lands where the flip matrix sends it, next to the
  // template's LEFT eye.
  auto fm = alignment_matrix(lm, size, true);
  Image flipped = warp_image(photo, fm, size, size);
  auto want = apply(fm, lm[1]);
  EXPECT_LT(std::hypot(want[0] - t[0][0], want[1] - t[0][1]), 1.0);
  auto c = centroid(flipped, want[0], want[1], 3);
  EXPECT_NEAR(c[0], want[0], 0.2);
  EXPECT_NEAR(c[1], want[1], 0.2);
}

TEST(EmbedAlign, RejectsNonFiniteLandmarks) {
  auto lm = photo_landmarks(64, 1, 0, 0, 0);
  lm[1].y = std::nan("");
  EXPECT_THROW(alignment_matrix(lm, 64, false), Error);
  // Where the photo is known, the error names it (before the photo is read).
  FaceRecord r;
  r.file = "000009.jpg";
  r.path = "/data/img_celeba/000009.jpg";
  r.landmarks = lm;
  Landmarks5 out;
  for (auto call : {std::function<void()>([&] { alignment_matrix(lm, 64, true, r.path); }),
                    std::function<void()>([&] { aligned_photo(r, 64, 1.0, nullptr, &out); })}) {
    try {
      call();
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(
          std::string(e.what()).find("alignment of /data/img_celeba/000009.jpg: a landmark coordinate is not finite"),
          std::string::npos)
          << e.what();
    }
  }
}

// ---------------------------------------------------------------- splits

// `n_ids` identities (numbers 100, 103, ...), identity i with 1 + i % 9 images; partition 1 for
// about every fifth image; identity 100 + 3 * (n_ids - 1) only in partition 1.
FaceSet fake_set(int n_ids) {
  FaceSet s;
  s.root = "fake";
  int file = 0;
  for (int i = 0; i < n_ids; ++i) {
    int id = 100 + 3 * i;
    s.identities.push_back(id);
    for (int k = 0; k < 1 + i % 9; ++k) {
      FaceRecord r;
      r.file = std::to_string(file++) + ".jpg";
      r.identity = id;
      r.partition = (i == n_ids - 1 || k % 5 == 4) ? 1 : 0;
      r.landmarks = Landmarks5{};
      s.faces.push_back(r);
    }
  }
  return s;
}

void expect_valid_split(const FaceSet& set, const EmbedSplit& sp) {
  std::set<size_t> tr(sp.train.begin(), sp.train.end()), va(sp.val.begin(), sp.val.end()),
      ho(sp.holdout.begin(), sp.holdout.end());
  EXPECT_EQ(tr.size(), sp.train.size());
  for (size_t r : sp.val) EXPECT_FALSE(tr.count(r)) << "record " << r << " in train and val";
  for (size_t r : sp.holdout) EXPECT_FALSE(tr.count(r) || va.count(r)) << "held-out record " << r << " also used";
  std::set<int> trained(sp.train_identities.begin(), sp.train_identities.end());
  for (int id : sp.holdout_identities) EXPECT_FALSE(trained.count(id)) << "identity " << id << " trained and held out";
  for (size_t r : sp.train) {
    ASSERT_GE(sp.label[r], 0);
    EXPECT_EQ(sp.train_identities[static_cast<size_t>(sp.label[r])], set.faces[r].identity);
  }
  for (size_t r : sp.val) EXPECT_TRUE(trained.count(set.faces[r].identity));
  for (size_t r : sp.holdout) {
    EXPECT_EQ(sp.label[r], -1);
    EXPECT_TRUE(std::binary_search(sp.holdout_identities.begin(), sp.holdout_identities.end(), set.faces[r].identity));
  }
  for (int id : sp.holdout_identities) {  // every held-out identity gives same-identity pairs
    int n = 0;
    for (size_t r : sp.holdout) n += set.faces[r].identity == id;
    EXPECT_GE(n, 2) << "held-out identity " << id;
  }
}

TEST(EmbedSplit, DeterministicDisjointAndHeldOutEntirely) {
  FaceSet set = fake_set(40);
  for (SplitKind kind : {SplitKind::CelebA, SplitKind::Identity8020}) {
    EmbedSplit a = make_embed_split(set, kind, 6, 11), b = make_embed_split(set, kind, 6, 11);
    EXPECT_EQ(a.train, b.train);
    EXPECT_EQ(a.val, b.val);
    EXPECT_EQ(a.holdout, b.holdout);
    EXPECT_EQ(a.holdout_identities, b.holdout_identities);
    expect_valid_split(set, a);
    EmbedSplit c = make_embed_split(set, kind, 6, 12);
    expect_valid_split(set, c);
    EXPECT_NE(a.holdout_identities, c.holdout_identities) << "the seed chooses the held-out identities";
  }
  // The seed alone chooses the held-out identities, whatever the split kind; the CelebA split adds
  // the identity that has no partition-0 image.
  EmbedSplit p = make_embed_split(set, SplitKind::Identity8020, 6, 11);
  EmbedSplit q = make_embed_split(set, SplitKind::CelebA, 6, 11);
  EXPECT_EQ(p.holdout_identities.size(), 6u);
  for (int id : p.holdout_identities)
    EXPECT_TRUE(std::binary_search(q.holdout_identities.begin(), q.holdout_identities.end(), id)) << id;
}

TEST(EmbedSplit, CelebAPartitionsAndUntrainableIdentities) {
  FaceSet set = fake_set(20);
  EmbedSplit s = make_embed_split(set, SplitKind::CelebA, 3, 5);
  expect_valid_split(set, s);
  for (size_t r : s.train) EXPECT_EQ(set.faces[r].partition, 0);
  for (size_t r : s.val) EXPECT_EQ(set.faces[r].partition, 1);
  // The last identity has only validation images: it cannot be trained, so it is held out (it may
  // also be one of the three the seed chose).
  const int last = set.identities.back();
  EXPECT_TRUE(std::binary_search(s.holdout_identities.begin(), s.holdout_identities.end(), last));
  EXPECT_GE(s.holdout_identities.size(), 3u);
  EXPECT_LE(s.holdout_identities.size(), 4u);
  EXPECT_EQ(s.train_identities.size() + s.holdout_identities.size(), 20u);
}

TEST(EmbedSplit, Identity8020Fractions) {
  FaceSet set = fake_set(30);
  EmbedSplit s = make_embed_split(set, SplitKind::Identity8020, 0, 3);
  EXPECT_TRUE(s.holdout_identities.empty());
  std::map<int, int> tr, va;
  for (size_t r : s.train) tr[set.faces[r].identity]++;
  for (size_t r : s.val) va[set.faces[r].identity]++;
  for (int id : s.train_identities) {
    int n = tr[id] + va[id];
    EXPECT_EQ(va[id], n >= 2 ? std::max(1, n / 5) : 0) << "identity " << id << " with " << n << " images";
  }
  expect_valid_split(set, s);
}

TEST(EmbedSplit, DefaultHoldoutAndErrors) {
  FaceSet set = fake_set(40);
  EmbedSplit s = make_embed_split(set, SplitKind::Identity8020, -1, 1);
  EXPECT_EQ(s.holdout_identities.size(), 6u);  // 15% of 40
  EXPECT_THROW(make_embed_split(set, SplitKind::Identity8020, 39, 1), Error);  // only 35 have >= 2 images
  EXPECT_THROW(parse_split_kind("random"), Error);
}

// ---------------------------------------------------------------- training and evaluation

EmbedTrainOptions tiny_options(const std::string& data, const std::string& out) {
  EmbedTrainOptions o;
  o.data = data;
  o.out = out;
  o.config = "small";
  o.fit.epochs = 2;
  o.fit.progress = false;
  o.batch = 8;
  o.lr = 0.05;
  o.seed = 3;
  o.workers = 2;
  o.holdout = 2;
  o.split = "identity8020";
  o.report_faces = 4;
  return o;
}

// The synthetic dataset of the training tests: 8 identities x 6 images of 64 px.
const std::string& tiny_data() {
  static TempDir dir;
  static bool written = false;
  if (!written) {
    SynthConfig c;
    c.identities = 8;
    c.per_identity = 6;
    c.size = 64;
    c.seed = 7;
    write_synth_dataset(dir.str("data"), c);
    written = true;
  }
  static std::string path = dir.str("data");
  return path;
}

std::vector<std::pair<std::string, Tensor>> weights_of(const std::string& path) {
  return read_safetensors(path).tensors;
}

TEST(EmbedTrain, TinyEndToEndTrainAndEval) {
  TempDir run;
  EmbedTrainOptions o = tiny_options(tiny_data(), run.str("run"));
  o.fit.epochs = 6;
  o.batch = 8;
  o.holdout = 3;
  EmbedTrainResult r = train_embed(o);
  ASSERT_EQ(r.epochs.size(), 6u);
  EXPECT_EQ(r.num_classes, 5);
  EXPECT_EQ(r.holdout_identities, 3);
  const int64_t per_epoch = r.train_images / o.batch;
  ASSERT_EQ(static_cast<int64_t>(r.losses.size()), 6 * per_epoch);
  std::printf("tiny run: train loss by epoch");
  for (const FitEpoch& e : r.epochs) std::printf(" %.3f", e.train_loss);
  std::printf("; val accuracy (flip) %.2f; %.1f img/s\n", r.val_acc.back().flip, r.epochs.back().images_per_s);
  EXPECT_LT(r.epochs.back().train_loss, 0.8 * r.epochs.front().train_loss) << "the loss must fall";
  ASSERT_EQ(r.val_acc.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    const ClosedSetAccuracy& a = r.val_acc[i];
    EXPECT_GE(a.plain, 0.0);
    EXPECT_LE(a.plain, 1.0);
    EXPECT_GE(a.flip, 0.0);
    EXPECT_LE(a.flip, 1.0);
    EXPECT_EQ(r.epochs[i].metric, a.flip) << "the flip-TTA accuracy picks the best checkpoint";
  }
  for (const char* f : {"log.csv", "epochs.csv", "last.safetensors", "last.state.safetensors", "best.safetensors",
                        "report/aligned_faces.png", "report/loss.svg",
                        "report/accuracy.svg", "report/index.html"})
    EXPECT_TRUE(fs::is_regular_file(run.path / "run" / f)) << f;
  {
    std::ifstream log(run.str("run/log.csv"));
    std::string line;
    int rows = -1;
    while (std::getline(log, line)) ++rows;
    EXPECT_EQ(rows, 6 * per_epoch);
  }
  // The checkpoint is a model file load_model reads: network and head.
  LoadedModel lm = load_model(run.str("run/best.safetensors"));
  EXPECT_EQ(lm.kind, "embedding");
  EXPECT_EQ(lm.get_head().kind(), "arcface");
  EXPECT_EQ(lm.get_head().classes(), 5);

  EmbedEvalOptions eo;
  eo.data = tiny_data();
  eo.model = run.str("run/best.safetensors");
  eo.out = run.str("eval");
  eo.quiet = true;
  EmbedEvalResult e = eval_embed(eo);
  std::printf("%s", e.table.c_str());
  EXPECT_EQ(e.num_classes, 5);
  EXPECT_EQ(e.holdout_identities, 3);
  EXPECT_EQ(e.holdout_images, 18);
  EXPECT_EQ(e.positive_pairs, 3 * 15);  // all same-identity pairs: 3 x C(6, 2)
  EXPECT_EQ(e.negative_pairs, e.positive_pairs);
  for (double v : {e.closed_acc, e.closed_acc_flip, e.auc, e.tar_at_far_1e2, e.tar_at_far_1e3, e.acc10_mean,
                   e.acc_at_06}) {
    EXPECT_GE(v, 0.0);
    EXPECT_LE(v, 1.0);
  }
  EXPECT_GE(e.acc10_std, 0.0);
  EXPECT_GT(e.auc, 0.5) << "embeddings of a trained net should separate unseen identities better than chance";
  // The closed-set accuracy matches the one the run measured for its best epoch.
  double best = 0;
  for (const ClosedSetAccuracy& a : r.val_acc) best = std::max(best, a.flip);
  EXPECT_EQ(r.best_metric, best);
  EXPECT_NEAR(e.closed_acc_flip, best, 1e-9);
  for (const char* f : {"metrics.csv", "roc.csv", "roc.svg"})
    EXPECT_TRUE(fs::is_regular_file(run.path / "eval" / f)) << f;
}

TEST(EmbedTrain, ResumeContinuesExactly) {
  TempDir dir;
  // Uninterrupted: two epochs.
  EmbedTrainOptions o = tiny_options(tiny_data(), dir.str("straight"));
  o.head = "softmax";
  o.workers = 0;
  EmbedTrainResult straight = train_embed(o);
  const int64_t per_epoch = straight.train_images / o.batch;
  ASSERT_EQ(static_cast<int64_t>(straight.losses.size()), 2 * per_epoch);
  // Interrupted after the first epoch, then resumed (with another worker count), and interrupted in
  // the middle of an epoch, then resumed.
  for (int64_t stop : {per_epoch, per_epoch / 2 + 1}) {
    EmbedTrainOptions a = tiny_options(tiny_data(), dir.str("interrupted" + std::to_string(stop)));
    a.head = "softmax";
    a.fit.stop_after_steps = stop;
    EmbedTrainResult first = train_embed(a);
    ASSERT_TRUE(first.stopped_early);
    ASSERT_EQ(static_cast<int64_t>(first.losses.size()), stop);
    EmbedTrainOptions b = a;
    b.fit.stop_after_steps = -1;
    b.resume = true;
    b.workers = 1;
    EmbedTrainResult second = train_embed(b);
    EXPECT_EQ(second.first_step, stop);
    std::vector<double> joined = first.losses;
    joined.insert(joined.end(), second.losses.begin(), second.losses.end());
    ASSERT_EQ(joined.size(), straight.losses.size());
    for (size_t i = 0; i < joined.size(); ++i) EXPECT_EQ(joined[i], straight.losses[i]) << "step " << i << ", stop " << stop;
    auto w1 = weights_of(dir.str("straight/last.safetensors")), w2 = weights_of(b.out + "/last.safetensors");
    ASSERT_EQ(w1.size(), w2.size());
    for (size_t i = 0; i < w1.size(); ++i) {
      ASSERT_EQ(w1[i].first, w2[i].first);
      EXPECT_EQ(w1[i].second.to_vector<double>(), w2[i].second.to_vector<double>()) << w1[i].first;
    }
    // The log holds every step once.
    std::ifstream log(b.out + "/log.csv");
    std::string line;
    int rows = -1;
    while (std::getline(log, line)) ++rows;
    EXPECT_EQ(rows, 2 * per_epoch);
  }
}

TEST(EmbedTrain, ResumeRefusesChangedOptionsAndFreshRunRefusesOldFolder) {
  TempDir dir;
  EmbedTrainOptions o = tiny_options(tiny_data(), dir.str("run"));
  o.fit.epochs = 1;
  o.fit.stop_after_steps = 1;
  train_embed(o);
  EmbedTrainOptions again = o;
  again.fit.stop_after_steps = -1;
  EXPECT_THROW(train_embed(again), Error);  // no --resume: the run is never overwritten
  again.resume = true;
  again.lr = 0.5;
  try {
    train_embed(again);
    ADD_FAILURE() << "a changed lr on resume must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lr"), std::string::npos) << e.what();
  }
  EmbedTrainOptions saved = saved_train_options(dir.str("run"));
  EXPECT_EQ(saved.lr, o.lr);
  EXPECT_EQ(saved.head, o.head);
  EXPECT_EQ(saved.holdout, o.holdout);
}

TEST(EmbedTrain, NanLossStopsAndKeepsTheLastGoodCheckpoint) {
  TempDir dir;
  // An undisturbed run interrupted after its first epoch: what the good checkpoint holds.
  EmbedTrainOptions one = tiny_options(tiny_data(), dir.str("one"));
  EmbedSplit split =
      make_embed_split(load_faces(tiny_data(), FaceFilter::Landmarks), SplitKind::Identity8020, one.holdout, one.seed);
  const int64_t steps1 = static_cast<int64_t>(split.train.size()) / one.batch;
  one.fit.stop_after_steps = steps1;
  train_embed(one);
  // The same run with a NaN at the second step of epoch 2 (steps count from 1, as in log.csv).
  EmbedTrainOptions o = tiny_options(tiny_data(), dir.str("run"));
  o.fit.nan_at_step = steps1 + 2;
  try {
    train_embed(o);
    ADD_FAILURE() << "a NaN loss must stop the run";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("at step " + std::to_string(steps1 + 2)), std::string::npos) << msg;
    EXPECT_NE(msg.find("nan"), std::string::npos) << msg;
  }
  SafeTensors last = read_safetensors(dir.str("run/last.safetensors"));
  EXPECT_EQ(last.metadata.at("step"), std::to_string(steps1)) << "the checkpoint of epoch 1 stays";
  // ... finite, and the same checkpoint the undisturbed run wrote at that point.
  auto w1 = weights_of(dir.str("one/last.safetensors"));
  ASSERT_EQ(w1.size(), last.tensors.size());
  for (size_t i = 0; i < w1.size(); ++i) {
    std::vector<double> v = last.tensors[i].second.to_vector<double>();
    for (double x : v) ASSERT_TRUE(std::isfinite(x)) << last.tensors[i].first;
    EXPECT_EQ(w1[i].second.to_vector<double>(), v) << w1[i].first;
  }
}

// --landmarks-model: the faces are aligned by a landmark network's predictions (here a barely
// trained one, so they differ visibly from the files' landmarks), training and evaluation agree on
// them, and the run records the network.
TEST(EmbedTrain, AlignsByATrainedLandmarkNetwork) {
  TempDir dir;
  LandmarkTrainOptions lo;
  lo.data = tiny_data();
  lo.out = dir.str("lmk");
  lo.fit.epochs = 1;
  lo.fit.progress = false;
  lo.batch = 8;
  train_landmarks(lo);
  const std::string lmk = dir.str("lmk/best.safetensors");

  FaceSet truth = load_faces(tiny_data(), FaceFilter::Landmarks), set = truth;
  LandmarkSource src = use_predicted_landmarks(set, lmk, Device::cpu(), 8, 2);
  ASSERT_EQ(set.faces.size(), truth.faces.size());  // synth writes a box for every image
  EXPECT_EQ(src.used, truth.faces.size());
  EXPECT_EQ(src.dropped_no_box, 0u);
  EXPECT_GT(src.mean_nme, 0.0);
  // The landmarks are the network's: predict_dataset with the checkpoint's framing and decoder.
  LandmarkModel m = load_landmark_model(lmk);
  FaceSet data = load_faces(tiny_data(), FaceFilter::BoxAndLandmarks);
  std::vector<size_t> idx(data.faces.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  DatasetPredictions p = predict_dataset(*m.net, data, idx, m.framing, Device::cpu(), 8, 0);
  double moved = 0;
  for (size_t i = 0; i < set.faces.size(); ++i) {
    ASSERT_EQ(set.faces[i].file, data.faces[i].file);
    for (int k = 0; k < 5; ++k) {
      const Point2 got = (*set.faces[i].landmarks)[k], want = p.of(m.decode)[i][k], file = (*truth.faces[i].landmarks)[k];
      EXPECT_EQ(got.x, want.x) << set.faces[i].file;
      EXPECT_EQ(got.y, want.y) << set.faces[i].file;
      moved = std::max({moved, std::fabs(got.x - file.x), std::fabs(got.y - file.y)});
    }
  }
  EXPECT_GT(moved, 1.0) << "a barely trained network's landmarks should differ from the files'";

  EmbedTrainOptions o = tiny_options(tiny_data(), dir.str("run"));
  o.fit.epochs = 1;
  o.landmarks_model = lmk;
  train_embed(o);
  EXPECT_EQ(saved_train_options(o.out).landmarks_model, lmk);
  EmbedEvalOptions eo;
  eo.data = tiny_data();
  eo.model = o.out + "/best.safetensors";
  EmbedEvalResult with_model = eval_embed(eo);
  EXPECT_EQ(with_model.landmarks.model, lmk) << "eval aligns as training did";
  EXPECT_NE(with_model.table.find("predicted by"), std::string::npos) << with_model.table;
  eo.ground_truth_landmarks = true;
  EXPECT_TRUE(eval_embed(eo).landmarks.model.empty());

  // An embedding checkpoint is not a landmark network.
  o.out = dir.str("run2");
  o.landmarks_model = eo.model;
  try {
    train_embed(o);
    ADD_FAILURE() << "an embedding model as --landmarks-model must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a landmark model"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir.path / "run2" / "last.safetensors"));
}

// train-embed leaves out faces whose landmarks fall outside their photo (counted on stderr, listed
// in RUN/skipped.csv) and refuses a dataset with missing images before it creates the run.
TEST(EmbedTrain, SkipsFacesOutsideTheirPhotoAndChecksImagesFirst) {
  TempDir dir;
  fs::copy(tiny_data(), dir.path / "data", fs::copy_options::recursive);
  const std::string lm = dir.str("data/list_landmarks_celeba.txt");
  const std::string a = patch_list_field(lm, 5, 1, "-70");  // the third row's left eye left of the photo
  EmbedTrainOptions o = tiny_options(dir.str("data"), dir.str("run"));
  o.fit.epochs = 1;
  ::testing::internal::CaptureStderr();
  train_embed(o);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(
      err.find("train-embed: skipped 1 of 48 faces: 1 points outside the photo (first: " + lm + ":5 '" + a + "')\n"),
      std::string::npos)
      << err;
  std::ifstream f(dir.str("run/skipped.csv"));
  const std::string csv((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(csv, "file,line,image,reason\n" + lm + ",5," + a + ",points outside the photo\n");

  fs::remove(dir.path / "data" / "img_celeba" / a);  // a skipped face's photo is still listed: missing
  o.out = dir.str("run2");
  try {
    train_embed(o);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("1 of 48 images"), std::string::npos) << msg;
    EXPECT_NE(msg.find(a), std::string::npos) << msg;
    EXPECT_NE(msg.find("missing"), std::string::npos) << msg;
  }
  EXPECT_FALSE(fs::exists(dir.path / "run2")) << "the check comes before the run folder is made";
}

TEST(EmbedTrain, ClearErrors) {
  TempDir dir;
  EmbedTrainOptions o = tiny_options(dir.str("no_such_folder"), dir.str("run"));
  try {
    train_embed(o);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }
  o.data = tiny_data();
  o.head = "cosface";
  EXPECT_THROW(train_embed(o), Error);
  o.head = "arcface";
  o.config = "huge";
  EXPECT_THROW(train_embed(o), Error);
  o.config = "small";
  o.batch = 1000;  // more than the training images
  EXPECT_THROW(train_embed(o), Error);

  // eval-embed: a missing model, and a model of another kind.
  EmbedEvalOptions eo;
  eo.data = tiny_data();
  eo.model = dir.str("none.safetensors");
  EXPECT_THROW(eval_embed(eo), Error);
  Rng rng(0);
  StackedHourglass hg(HourglassConfig::small(), rng);
  save_model(dir.str("hg.safetensors"), hg);
  eo.model = dir.str("hg.safetensors");
  try {
    eval_embed(eo);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("hourglass"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ff::test
