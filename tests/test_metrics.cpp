// tests/test_metrics.cpp — train/metrics against independent numpy implementations, and edge cases.
//
// Golden data: tests/data/metrics/*.safetensors, written by tools/make_metric_goldens.py (numpy
// only). Checks:
//   - landmarks: per-image NME, mean NME, failure rate, CED AUC, per-point NME and pixel error
//     (40 images of 5 points with one perfect image; one image of 2 points) to 1e-9; the CED
//     polyline's area equals the AUC; a hand-made CED curve; bad input raises.
//   - top-1 accuracy with ties in the row maxima (first maximum wins) against numpy's argmax.
//   - verification, five score sets (random, heavy ties, 30 different pairs only, 1010 different
//     pairs, separable): the ROC point by point, AUC against Mann-Whitney, TAR at FAR 1e-1, 1e-2,
//     1e-3, 0 with achieved FAR, threshold and the resolution flag, and 10-fold accuracy (per-fold
//     accuracy and threshold, mean, std) on numpy's fold assignment, all to 1e-9.
//   - hand-made TAR at FAR cases; all same / all different pairs (ROC raises, k-fold accuracy is 1
//     with the threshold at -inf / +inf); all scores tied; NaN and infinite scores raise.
//   - make_folds: deterministic for a seed, a partition with balanced sizes and class mix.
//   - build_pairs: every same pair, distinct valid different pairs of equal count, deterministic,
//     max_same subsets, uniform sampling (frequencies over many seeds), degenerate label sets.
//   - cosine_scores by hand; bad embeddings raise.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <string>

#include "engine/safetensors.h"
#include "train/metrics.h"

namespace ff::test {
namespace {

constexpr double kTol = 1e-9;
const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

SafeTensors golden(const std::string& name) {
  return read_safetensors(std::string(FF_SOURCE_DIR) + "/tests/data/metrics/" + name + ".safetensors");
}
std::vector<double> f64(const SafeTensors& g, const std::string& name) { return g.at(name).to_vector<double>(); }
double scalar(const SafeTensors& g, const std::string& name) { return f64(g, name).at(0); }

// |a - e| <= tol (1 + |e|); infinities must match exactly; NaN never passes.
void expect_near_rel(double a, double e, const std::string& what) {
  if (std::isinf(e)) {
    EXPECT_EQ(a, e) << what;
    return;
  }
  EXPECT_TRUE(std::fabs(a - e) <= kTol * (1 + std::fabs(e))) << what << ": " << a << " vs expected " << e;
}
void expect_vec(const std::vector<double>& a, const std::vector<double>& e, const std::string& what) {
  ASSERT_EQ(a.size(), e.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) expect_near_rel(a[i], e[i], what + "[" + std::to_string(i) + "]");
}

// ---------------------------------------------------------------- landmarks

void check_landmarks(const SafeTensors& g, const LandmarkMetrics& m) {
  expect_vec(m.nme, f64(g, "nme"), "nme");
  expect_near_rel(m.mean_nme, scalar(g, "mean_nme"), "mean_nme");
  expect_near_rel(m.failure_rate, scalar(g, "failure_rate"), "failure_rate");
  expect_near_rel(m.auc, scalar(g, "auc"), "auc");
  expect_vec(m.point_nme, f64(g, "point_nme"), "point_nme");
  expect_vec(m.point_error, f64(g, "point_error"), "point_error");
}

TEST(Metrics, LandmarksMatchNumpy) {
  SafeTensors g = golden("landmarks");
  LandmarkMetrics m = landmark_metrics(g.at("pred"), g.at("gt"), scalar(g, "threshold"));
  EXPECT_EQ(m.n_images, 40);
  EXPECT_EQ(m.n_points, 5);
  EXPECT_EQ(m.nme[0], 0.0);  // the perfect image
  EXPECT_GT(m.failure_rate, 0.0);
  EXPECT_LT(m.failure_rate, 1.0);
  check_landmarks(g, m);
  // float32 tensors go through the same path (the values are converted, so compare loosely).
  LandmarkMetrics m32 = landmark_metrics(g.at("pred").to(DType::F32), g.at("gt").to(DType::F32));
  EXPECT_NEAR(m32.mean_nme, m.mean_nme, 1e-5);

  SafeTensors g1 = golden("landmarks_one");
  check_landmarks(g1, landmark_metrics(f64(g1, "pred"), f64(g1, "gt"), 2, scalar(g1, "threshold")));
}

// The area under ced_curve's polyline (trapezoids; its vertical steps have no area) is the AUC.
TEST(Metrics, CedCurveAreaIsAuc) {
  SafeTensors g = golden("landmarks");
  LandmarkMetrics m = landmark_metrics(g.at("pred"), g.at("gt"));
  Curve c = ced_curve(m.nme, m.threshold);
  double area = 0;
  for (size_t i = 1; i < c.x.size(); ++i) area += (c.x[i] - c.x[i - 1]) * (c.y[i] + c.y[i - 1]) / 2;
  EXPECT_NEAR(area / m.threshold, m.auc, 1e-12);
  EXPECT_DOUBLE_EQ(c.y.back(), 1.0 - m.failure_rate);
}

TEST(Metrics, CedCurveByHand) {
  Curve c = ced_curve({0.05, 0.2, 0.02, 0.05}, 0.1);
  std::vector<double> x = {0, 0.02, 0.02, 0.05, 0.05, 0.1}, y = {0, 0, 0.25, 0.25, 0.75, 0.75};
  EXPECT_EQ(c.x, x);
  EXPECT_EQ(c.y, y);
  Curve z = ced_curve({0.0, 0.0}, 0.1);  // errors at 0 rise at the origin
  EXPECT_EQ(z.x, (std::vector<double>{0, 0, 0, 0.1}));
  EXPECT_EQ(z.y, (std::vector<double>{0, 0, 1, 1}));
  EXPECT_THROW(ced_curve({}, 0.1), Error);
  EXPECT_THROW(ced_curve({-0.1}, 0.1), Error);
  EXPECT_THROW(ced_curve({kNaN}, 0.1), Error);
  EXPECT_THROW(ced_curve({0.1}, 0.0), Error);
}

TEST(Metrics, LandmarkBadInputRaises) {
  std::vector<double> gt = {10, 10, 20, 10}, pred = {11, 10, 20, 12};
  LandmarkMetrics m = landmark_metrics(pred, gt, 2);
  EXPECT_DOUBLE_EQ(m.nme[0], (0.1 + 0.2) / 2);  // errors 1 and 2 pixels over an inter-ocular distance of 10
  EXPECT_DOUBLE_EQ(m.failure_rate, 1.0);
  EXPECT_DOUBLE_EQ(m.auc, 0.0);
  EXPECT_THROW(landmark_metrics(pred, {10, 10, 10, 10}, 2), Error);               // zero inter-ocular distance
  EXPECT_THROW(landmark_metrics({11, kNaN, 20, 12}, gt, 2), Error);                 // NaN prediction
  EXPECT_THROW(landmark_metrics({11, 10, 20}, gt, 2), Error);                       // size mismatch
  EXPECT_THROW(landmark_metrics({1, 2}, {1, 2}, 1), Error);                         // one point: no eyes
  EXPECT_THROW(landmark_metrics({1, 2, 3, 4, 5, 6}, {1, 2, 3, 4, 5, 6}, 2), Error);  // not whole images
  EXPECT_THROW(landmark_metrics(std::vector<double>{}, std::vector<double>{}, 2), Error);
  EXPECT_THROW(landmark_metrics(pred, gt, 2, 0.0), Error);
  Tensor t = Tensor::zeros({2, 5, 2});
  EXPECT_THROW(landmark_metrics(t, Tensor::zeros({2, 5, 3})), Error);
  EXPECT_THROW(landmark_metrics(Tensor::zeros({2, 5, 2}, DType::I64), t), Error);
}

// ---------------------------------------------------------------- classification

TEST(Metrics, Top1MatchesNumpy) {
  SafeTensors g = golden("top1");
  std::vector<int64_t> labels = g.at("labels").to_vector<int64_t>();
  expect_near_rel(top1_accuracy(g.at("logits"), labels), scalar(g, "accuracy"), "top1");
  expect_near_rel(top1_accuracy(g.at("logits").to(DType::F32), labels), scalar(g, "accuracy"), "top1 float32");
}

TEST(Metrics, Top1ByHandAndBadInput) {
  Tensor logits = Tensor::from_vector<double>({1, 3, 3, /**/ 5, 0, 0, /**/ 0, 0, 1}, {3, 3});
  EXPECT_DOUBLE_EQ(top1_accuracy(logits, {1, 0, 1}), 2.0 / 3);  // row 0: tie, the first (1) wins
  EXPECT_DOUBLE_EQ(top1_accuracy(logits, {2, 1, 0}), 0.0);
  EXPECT_THROW(top1_accuracy(logits, {0, 1}), Error);     // label count
  EXPECT_THROW(top1_accuracy(logits, {0, 1, 3}), Error);  // out of range
  EXPECT_THROW(top1_accuracy(logits, {0, -1, 2}), Error);
  Tensor bad = Tensor::from_vector<double>({kNaN, 1}, {1, 2});
  EXPECT_THROW(top1_accuracy(bad, {0}), Error);
  EXPECT_THROW(top1_accuracy(Tensor::zeros({3}), {0, 0, 0}), Error);
  EXPECT_THROW(top1_accuracy(std::vector<int64_t>{}, std::vector<int64_t>{}), Error);
}

// ---------------------------------------------------------------- verification

std::vector<uint8_t> flags(const SafeTensors& g) {
  std::vector<int64_t> v = g.at("same").to_vector<int64_t>();
  return std::vector<uint8_t>(v.begin(), v.end());
}

class VerificationGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(VerificationGolden, MatchesNumpy) {
  SafeTensors g = golden(GetParam());
  std::vector<double> scores = f64(g, "scores");
  std::vector<uint8_t> same = flags(g);

  std::vector<RocPoint> roc = roc_curve(scores, same);
  std::vector<double> ref = f64(g, "roc");
  ASSERT_EQ(roc.size() * 3, ref.size());
  for (size_t i = 0; i < roc.size(); ++i) {
    std::string at = "roc point " + std::to_string(i);
    expect_near_rel(roc[i].far, ref[i * 3], at + " far");
    expect_near_rel(roc[i].tar, ref[i * 3 + 1], at + " tar");
    expect_near_rel(roc[i].threshold, ref[i * 3 + 2], at + " threshold");
  }
  expect_near_rel(roc_auc(scores, same), scalar(g, "auc"), "auc");

  std::vector<double> targets = f64(g, "targets"), taf = f64(g, "tar_at_far");
  for (size_t t = 0; t < targets.size(); ++t) {
    TarAtFar r = tar_at_far(scores, same, targets[t]);
    std::string at = "TAR at FAR " + std::to_string(targets[t]);
    expect_near_rel(r.tar, taf[t * 4], at + " tar");
    expect_near_rel(r.far, taf[t * 4 + 1], at + " far");
    expect_near_rel(r.threshold, taf[t * 4 + 2], at + " threshold");
    EXPECT_EQ(r.resolved, taf[t * 4 + 3] == 1.0) << at;
    EXPECT_LE(r.far, targets[t]) << at;
  }

  std::vector<int64_t> f = g.at("folds").to_vector<int64_t>();
  KFoldAccuracy k = kfold_accuracy(scores, same, std::vector<int>(f.begin(), f.end()), 10);
  expect_vec(k.fold_accuracy, f64(g, "fold_accuracy"), "fold accuracy");
  expect_vec(k.fold_threshold, f64(g, "fold_threshold"), "fold threshold");
  std::vector<double> ms = f64(g, "kfold_mean_std");
  expect_near_rel(k.mean, ms[0], "k-fold mean");
  expect_near_rel(k.std, ms[1], "k-fold std");

  // The one-call summary agrees with the pieces.
  VerificationMetrics v = verification_metrics(scores, same, 7);
  EXPECT_EQ(v.roc.size(), roc.size());
  EXPECT_EQ(v.auc, roc_auc(scores, same));
  EXPECT_EQ(v.tar_far_1e3.tar, tar_at_far(scores, same, 1e-3).tar);
  EXPECT_EQ(v.kfold.fold_accuracy, kfold_accuracy(scores, same, 10, 7).fold_accuracy);
}

INSTANTIATE_TEST_SUITE_P(Metrics, VerificationGolden,
                         ::testing::Values("ver_random", "ver_ties", "ver_fewneg", "ver_large", "ver_separable"));

TEST(Metrics, TarAtFarByHand) {
  //              same   diff  same  same  diff
  std::vector<double> s = {0.9, 0.8, 0.7, 0.6, 0.5};
  std::vector<uint8_t> y = {1, 0, 1, 1, 0};
  // 2 different pairs: FAR 0.4 is below the resolution (1/2), only FAR 0 qualifies.
  TarAtFar r = tar_at_far(s, y, 0.4);
  EXPECT_FALSE(r.resolved);
  EXPECT_DOUBLE_EQ(r.tar, 1.0 / 3);
  EXPECT_EQ(r.far, 0.0);
  EXPECT_EQ(r.threshold, 0.9);
  // FAR 0.5 is reachable: thresholds 0.8, 0.7 and 0.6 all have FAR 1/2; 0.6 accepts every same pair.
  r = tar_at_far(s, y, 0.5);
  EXPECT_TRUE(r.resolved);
  EXPECT_EQ(r.tar, 1.0);
  EXPECT_EQ(r.far, 0.5);
  EXPECT_EQ(r.threshold, 0.6);
  // A different pair scores highest: nothing can be accepted at FAR 0.
  r = tar_at_far({0.9, 0.5}, {0, 1}, 0.0);
  EXPECT_EQ(r.tar, 0.0);
  EXPECT_EQ(r.threshold, kInf);
  EXPECT_THROW(tar_at_far(s, y, 1.5), Error);
  EXPECT_THROW(tar_at_far(s, y, -0.1), Error);
  // ROC by hand, and its AUC: of the 6 (same, different) pairs, 4 are ordered correctly.
  std::vector<RocPoint> roc = roc_curve(s, y);
  ASSERT_EQ(roc.size(), 6u);
  EXPECT_EQ(roc[2].far, 0.5);
  EXPECT_EQ(roc[2].tar, 1.0 / 3);
  EXPECT_EQ(roc[2].threshold, 0.8);
  EXPECT_DOUBLE_EQ(roc_auc(s, y), 4.0 / 6);
}

TEST(Metrics, OneClassOnly) {
  std::vector<double> s = {0.1, 0.5, 0.3, 0.9, 0.2, 0.4, 0.8, 0.7, 0.6, 0.05, 0.33};
  std::vector<uint8_t> pos(s.size(), 1), neg(s.size(), 0);
  for (const auto& y : {pos, neg}) {
    EXPECT_THROW(roc_curve(s, y), Error);
    EXPECT_THROW(roc_auc(s, y), Error);
    EXPECT_THROW(tar_at_far(s, y, 1e-2), Error);
    EXPECT_THROW(verification_metrics(s, y), Error);
  }
  // Accuracy stays defined: accept everything (all same) or nothing (all different).
  KFoldAccuracy kp = kfold_accuracy(s, pos, 10, 3);
  EXPECT_EQ(kp.mean, 1.0);
  EXPECT_EQ(kp.std, 0.0);
  for (double t : kp.fold_threshold) EXPECT_EQ(t, -kInf);
  KFoldAccuracy kn = kfold_accuracy(s, neg, 10, 3);
  EXPECT_EQ(kn.mean, 1.0);
  for (double t : kn.fold_threshold) EXPECT_EQ(t, kInf);
}

TEST(Metrics, AllScoresTied) {
  std::vector<double> s(20, 0.5);
  std::vector<uint8_t> y(20, 0);
  for (int i = 0; i < 8; ++i) y[i] = 1;
  std::vector<RocPoint> roc = roc_curve(s, y);
  ASSERT_EQ(roc.size(), 2u);  // nothing accepted, then everything at once
  EXPECT_EQ(roc[1].far, 1.0);
  EXPECT_EQ(roc[1].tar, 1.0);
  EXPECT_EQ(roc_auc(s, y), 0.5);
  EXPECT_EQ(tar_at_far(s, y, 0.5).tar, 0.0);  // the only FAR below 1 is 0
  // With one distinct score, the best rule rejects all (12 of 20 are different).
  KFoldAccuracy k = kfold_accuracy(s, y, 10, 0);
  for (double t : k.fold_threshold) EXPECT_EQ(t, kInf);
  EXPECT_DOUBLE_EQ(k.mean, 12.0 / 20);
}

TEST(Metrics, NonFiniteScoresRaise) {
  std::vector<uint8_t> y = {1, 0, 1, 0, 1, 0, 1, 0, 1, 0};
  for (double bad : {kNaN, kInf, -kInf}) {
    std::vector<double> s = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0};
    s[4] = bad;
    EXPECT_THROW(roc_curve(s, y), Error) << bad;
    EXPECT_THROW(roc_auc(s, y), Error) << bad;
    EXPECT_THROW(tar_at_far(s, y, 0.1), Error) << bad;
    EXPECT_THROW(kfold_accuracy(s, y, 10, 0), Error) << bad;
    EXPECT_THROW(verification_metrics(s, y), Error) << bad;
  }
  std::vector<double> s = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0};
  EXPECT_THROW(roc_curve(s, {1, 0}), Error);  // size mismatch
  std::vector<uint8_t> two = y;
  two[0] = 2;
  EXPECT_THROW(roc_curve(s, two), Error);  // a flag that is not 0/1
  EXPECT_THROW(roc_curve({}, {}), Error);
  EXPECT_THROW(kfold_accuracy(s, y, std::vector<int>(10, 0), 10), Error);  // folds 1..9 empty
  EXPECT_THROW(kfold_accuracy(s, y, std::vector<int>(10, 10), 10), Error);  // fold out of range
  EXPECT_THROW(kfold_accuracy(s, y, std::vector<int>(9, 0), 10), Error);   // fold count
}

TEST(Metrics, FoldsAreDeterministicAndBalanced) {
  std::vector<uint8_t> y(1003, 0);
  for (size_t i = 0; i < y.size(); i += 3) y[i] = 1;  // 335 same, 668 different
  std::vector<int> a = make_folds(y, 10, 42), b = make_folds(y, 10, 42), c = make_folds(y, 10, 43);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::vector<int> size(10, 0), n_same(10, 0);
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_GE(a[i], 0);
    ASSERT_LT(a[i], 10);
    ++size[a[i]];
    n_same[a[i]] += y[i];
  }
  for (int f = 0; f < 10; ++f) {
    EXPECT_GE(size[f], 100);
    EXPECT_LE(size[f], 101);
    EXPECT_GE(n_same[f], 33);
    EXPECT_LE(n_same[f], 34);
  }
  // Not simply dealt in input order.
  int in_order = 0;
  for (size_t i = 0; i + 1 < a.size(); ++i) in_order += a[i + 1] == (a[i] + 1) % 10;
  EXPECT_LT(in_order, 300);
  EXPECT_THROW(make_folds(std::vector<uint8_t>(5, 1), 10, 0), Error);
  EXPECT_THROW(make_folds(y, 1, 0), Error);
}

// ---------------------------------------------------------------- pairs

TEST(Metrics, BuildPairsAllSameAndEqualDifferent) {
  std::vector<int64_t> labels = {3, 0, 3, 1, 0, 3, 7, 3, 1, 0};  // 4 x "3", 3 x "0", 2 x "1", 1 x "7"
  Pairs p = build_pairs(labels, 5);
  const size_t n_same = 6 + 3 + 1;
  ASSERT_EQ(p.size(), 2 * n_same);
  std::set<std::pair<int64_t, int64_t>> seen;
  for (size_t i = 0; i < p.size(); ++i) {
    EXPECT_LT(p.a[i], p.b[i]);
    EXPECT_EQ(p.same[i], labels[p.a[i]] == labels[p.b[i]]);
    EXPECT_EQ(p.same[i], i < n_same);  // same pairs first
    EXPECT_TRUE(seen.insert({p.a[i], p.b[i]}).second) << "duplicate pair";
  }
  for (size_t i = 0; i < labels.size(); ++i)  // every same pair is there
    for (size_t j = i + 1; j < labels.size(); ++j)
      if (labels[i] == labels[j]) {
        EXPECT_TRUE(seen.count({int64_t(i), int64_t(j)})) << i << "," << j;
      }
  Pairs q = build_pairs(labels, 5), r = build_pairs(labels, 6);
  EXPECT_EQ(p.a, q.a);
  EXPECT_EQ(p.b, q.b);
  EXPECT_TRUE(p.a != r.a || p.b != r.b);

  Pairs capped = build_pairs(labels, 5, 4);
  ASSERT_EQ(capped.size(), 8u);
  for (size_t i = 0; i < capped.size(); ++i) EXPECT_EQ(capped.same[i], labels[capped.a[i]] == labels[capped.b[i]]);
  EXPECT_EQ(std::count(capped.same.begin(), capped.same.end(), 1), 4);
}

// Over many seeds every different pair (and every same pair, when capped) is drawn about equally
// often: the sampling is uniform, not biased towards some identities.
TEST(Metrics, BuildPairsSamplesUniformly) {
  std::vector<int64_t> labels = {0, 0, 0, 1, 1, 2};  // same: 3 + 1; different: 15 - 4 = 11
  std::map<std::pair<int64_t, int64_t>, int> diff_count, same_count;
  const int runs = 6000;
  for (int s = 0; s < runs; ++s) {
    Pairs p = build_pairs(labels, s, 2);  // 2 of the 4 same pairs, 2 of the 11 different
    ASSERT_EQ(p.size(), 4u);
    for (size_t i = 0; i < p.size(); ++i) (p.same[i] ? same_count : diff_count)[{p.a[i], p.b[i]}] += 1;
  }
  ASSERT_EQ(diff_count.size(), 11u);
  ASSERT_EQ(same_count.size(), 4u);
  for (auto& [pair, c] : diff_count) EXPECT_NEAR(c / double(runs), 2.0 / 11, 0.025) << pair.first << "," << pair.second;
  for (auto& [pair, c] : same_count) EXPECT_NEAR(c / double(runs), 2.0 / 4, 0.035) << pair.first << "," << pair.second;
}

TEST(Metrics, BuildPairsDegenerate) {
  EXPECT_THROW(build_pairs({1, 2, 3}, 0), Error);  // no identity twice
  EXPECT_THROW(build_pairs({1}, 0), Error);
  EXPECT_THROW(build_pairs({1, 1}, 0, -1), Error);
  Pairs one = build_pairs({4, 4, 4}, 0);  // one identity: no different pair exists
  EXPECT_EQ(one.size(), 3u);
  Pairs few = build_pairs({0, 0, 0, 0, 1}, 0);  // 6 same, only 4 different: all of them
  EXPECT_EQ(std::count(few.same.begin(), few.same.end(), 0), 4);
}

TEST(Metrics, CosineScores) {
  Tensor e = Tensor::from_vector<float>({1, 0, /**/ 2, 0, /**/ 0, 3, /**/ 1, 1}, {4, 2});
  Pairs p;
  p.a = {0, 0, 0}, p.b = {1, 2, 3}, p.same = {1, 0, 0};
  std::vector<double> s = cosine_scores(e, p);
  EXPECT_DOUBLE_EQ(s[0], 1.0);
  EXPECT_DOUBLE_EQ(s[1], 0.0);
  EXPECT_NEAR(s[2], std::sqrt(0.5), 1e-15);
  Pairs out = p;
  out.b[1] = 4;
  EXPECT_THROW(cosine_scores(e, out), Error);
  Tensor z = Tensor::zeros({4, 2});
  EXPECT_THROW(cosine_scores(z, p), Error);
  EXPECT_THROW(cosine_scores(Tensor::zeros({4}), p), Error);
}

}  // namespace
}  // namespace ff::test
