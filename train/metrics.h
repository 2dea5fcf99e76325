// train/metrics.h — evaluation metrics: landmark error (NME, failure rate, CED and its AUC),
// classification accuracy, face verification (ROC, ROC AUC, TAR at a FAR, LFW-style k-fold
// accuracy) and the pairs an open-set verification is measured on.
//
// Every function here is pure (no state, no I/O), works in float64 on the host, and throws ff::Error
// naming the function and the offending input on bad arguments: mismatched sizes, empty input,
// NaN or infinite values, labels out of range, a zero inter-ocular distance. The reference
// implementations the tests compare against are independent numpy code in
// tools/make_metric_goldens.py.
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace ff {

// ================================================================ landmarks
//
// For image i with P points, ground truth g_ip and prediction p_ip (pixels):
//   d_i       = || g_i0 - g_i1 ||                     inter-ocular distance (points 0 and 1 are the
//                                                     eyes in CelebA's and insightface's order)
//   e_ip      = || p_ip - g_ip || / d_i              normalised error of one point
//   NME_i     = (1/P) sum_p e_ip
//   mean NME  = (1/N) sum_i NME_i
//   failure   = #{i : NME_i > t} / N                 (t = failure threshold, 0.10 by default)
//   CED(e)    = #{i : NME_i <= e} / N                cumulative error distribution, a step function
//   AUC       = (1/t) integral_0^t CED(e) de = (1/(N t)) sum_i max(0, t - NME_i)
//               (the exact area under the step function, in [0, 1]; 1 means every NME is 0)
//   point_nme[p]   = (1/N) sum_i e_ip
//   point_error[p] = (1/N) sum_i || p_ip - g_ip ||   (pixels)
struct LandmarkMetrics {
  int64_t n_images = 0, n_points = 0;
  double threshold = 0.10;          // t
  std::vector<double> nme;          // [N] NME_i
  double mean_nme = 0;
  double failure_rate = 0;
  double auc = 0;
  std::vector<double> point_nme;    // [P]
  std::vector<double> point_error;  // [P] pixels
};

// pred, gt: N * P * 2 values (x, y of point p of image i at [(i * P + p) * 2]). names: the N
// images' names for messages (optional: an image whose two eye points coincide is named).
LandmarkMetrics landmark_metrics(const std::vector<double>& pred, const std::vector<double>& gt, int64_t n_points,
                                 double threshold = 0.10, const std::vector<std::string>& names = {});
// pred, gt: float32 or float64 [N, P, 2] (any device; copied to the host), P >= 2.
LandmarkMetrics landmark_metrics(const Tensor& pred, const Tensor& gt, double threshold = 0.10);

// The CED curve of per-image errors as a polyline for plotting: it starts at (0, 0), rises by 1/N
// at each distinct error (a vertical step: two points with the same x) and ends at (max_error,
// CED(max_error)). Errors above max_error only lower the final level. errors: finite, >= 0.
struct Curve {
  std::vector<double> x, y;
};
Curve ced_curve(const std::vector<double>& errors, double max_error = 0.10);

// ================================================================ classification
// Top-1 accuracy: the fraction of rows whose largest logit is at the label (on ties the first
// largest counts, as numpy's and torch's argmax). logits: float32/float64 [N, C] (any device);
// labels: N values in [0, C).
double top1_accuracy(const Tensor& logits, const std::vector<int64_t>& labels);
// The same from predicted classes: fraction of i with predicted[i] == labels[i].
double top1_accuracy(const std::vector<int64_t>& predicted, const std::vector<int64_t>& labels);

// ================================================================ verification
//
// Input: one score per pair (higher = more alike, e.g. cosine similarity) and whether the pair
// shows the same identity. A threshold T accepts a pair when score >= T:
//   TAR(T) = #{same pairs with score >= T} / #same        (true accept rate)
//   FAR(T) = #{different pairs with score >= T} / #different  (false accept rate)

// One operating point.
struct RocPoint {
  double far = 0, tar = 0, threshold = 0;
};

// The ROC: its first point is (0, 0) at threshold +inf (nothing accepted); then one point per
// distinct score, thresholds descending, each threshold the score itself; the last point, at the
// smallest score, is (1, 1). Tied scores make one point (a diagonal step). Needs at least one same
// and one different pair (FAR or TAR is undefined otherwise), else throws.
std::vector<RocPoint> roc_curve(const std::vector<double>& scores, const std::vector<uint8_t>& same);

// Area under the ROC by the trapezoid rule over roc_curve's points. This equals the probability
// that a random same pair scores above a random different pair, ties counting one half
// (Mann-Whitney U / (#same * #different)). Throws as roc_curve.
double roc_auc(const std::vector<double>& scores, const std::vector<uint8_t>& same);

// TAR at a target FAR, without interpolation (the conservative choice): among the thresholds that
// can actually be applied (the ROC's points), those with FAR <= target; of these the one with the
// largest TAR, and among equal TARs the smallest FAR (the highest threshold). The result is an
// operating point one can reproduce with `threshold`, and a lower bound on an interpolated ROC.
// With few different pairs the smallest non-zero FAR is 1/#different; when that exceeds the
// target, only FAR = 0 qualifies, `resolved` is false, and the TAR is the fraction of same pairs
// scoring above every different pair (threshold +inf, TAR 0, when a different pair scores highest).
struct TarAtFar {
  double target_far = 0;
  double tar = 0;        // achieved TAR
  double far = 0;        // achieved FAR (<= target_far)
  double threshold = 0;  // accept when score >= threshold; +inf accepts nothing
  int64_t n_same = 0, n_different = 0;
  bool resolved = false;  // n_different * target_far >= 1: the target is above the FAR resolution
};
TarAtFar tar_at_far(const std::vector<RocPoint>& roc, double target_far, int64_t n_same, int64_t n_different);
TarAtFar tar_at_far(const std::vector<double>& scores, const std::vector<uint8_t>& same, double target_far);

// Fold assignment for k-fold evaluation, deterministic for `seed`: the same pairs and the
// different pairs are each shuffled (Fisher-Yates with ff::Rng(seed)) and dealt round-robin to the
// folds, so every fold holds n/k pairs (+-1) and the same mix of same and different pairs (as
// LFW's ten folds of 300 + 300). Returns fold[i] in [0, k) for every pair. Needs n >= k.
std::vector<int> make_folds(const std::vector<uint8_t>& same, int k = 10, uint64_t seed = 0);

// LFW-style k-fold accuracy. For each fold f: the threshold is chosen on the other folds to
// maximise their accuracy, then the accuracy of that threshold is measured on fold f.
// Accuracy(T) = (#same with score >= T + #different with score < T) / n.
// Threshold candidates, with u_1 < ... < u_m the distinct training scores: -inf (accept all), the
// midpoints (u_j + u_{j+1}) / 2 (the largest margin between two training scores), +inf (accept
// none); on equal training accuracy the lowest candidate wins (numpy's argmax over ascending
// candidates). Mean and std (population, ddof = 0, as insightface's LFW evaluation) over folds.
struct KFoldAccuracy {
  std::vector<double> fold_accuracy;   // [k]
  std::vector<double> fold_threshold;  // [k]
  double mean = 0, std = 0;
  double mean_threshold = 0;           // may be +-inf in degenerate cases (a fold set of one class)
};
// folds: one entry in [0, k) per pair, every fold non-empty and with a non-empty complement.
KFoldAccuracy kfold_accuracy(const std::vector<double>& scores, const std::vector<uint8_t>& same,
                             const std::vector<int>& folds, int k);
// With make_folds(same, k, seed).
KFoldAccuracy kfold_accuracy(const std::vector<double>& scores, const std::vector<uint8_t>& same, int k = 10,
                             uint64_t seed = 0);

// Everything an evaluation report shows, in one call (needs both kinds of pairs).
struct VerificationMetrics {
  int64_t n_same = 0, n_different = 0;
  std::vector<RocPoint> roc;
  double auc = 0;
  TarAtFar tar_far_1e2, tar_far_1e3;  // TAR at FAR 1e-2 and 1e-3
  KFoldAccuracy kfold;                // 10 folds
};
VerificationMetrics verification_metrics(const std::vector<double>& scores, const std::vector<uint8_t>& same,
                                         uint64_t fold_seed = 0);

// ================================================================ pairs for open-set verification
//
// All same-identity pairs (i < j, labels[i] == labels[j]) — or, when there are more than
// max_same (> 0), a uniformly random subset of max_same of them — and as many distinct
// different-identity pairs (i < j, labels differ), drawn uniformly without replacement (all of
// them when fewer exist). Deterministic for `seed`. Order: same pairs sorted by (a, b), then
// different pairs sorted by (a, b).
struct Pairs {
  std::vector<int64_t> a, b;  // indices into the labels / embeddings, a < b
  std::vector<uint8_t> same;  // 1 when labels[a] == labels[b]
  size_t size() const { return a.size(); }
};
Pairs build_pairs(const std::vector<int64_t>& labels, uint64_t seed = 0, int64_t max_same = 0);

// Cosine similarity of each pair: <e_a, e_b> / (|e_a| |e_b|). embeddings: float32/float64 [N, D]
// (any device; copied to the host); a zero embedding throws.
std::vector<double> cosine_scores(const Tensor& embeddings, const Pairs& pairs);

}  // namespace ff
