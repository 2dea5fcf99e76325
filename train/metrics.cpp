// train/metrics.cpp — landmark, classification and verification metrics, fold assignment and
// verification pairs (formulas and contracts in train/metrics.h).
#include "train/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_set>
#include <utility>

#include "engine/random.h"

namespace ff {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

void check_finite(const std::vector<double>& v, const char* who, const char* what) {
  for (size_t i = 0; i < v.size(); ++i)
    FF_CHECK(std::isfinite(v[i]), who, ": ", what, "[", i, "] is ", v[i], " (NaN or infinite values are not allowed)");
}

bool is_float(DType d) { return d == DType::F32 || d == DType::F64; }

// Checks a scores / same pair of vectors and counts the two kinds.
void check_pairs(const std::vector<double>& scores, const std::vector<uint8_t>& same, const char* who,
                 int64_t* n_same, int64_t* n_diff) {
  FF_CHECK(!scores.empty(), who, ": no scores");
  FF_CHECK(scores.size() == same.size(), who, ": ", scores.size(), " scores but ", same.size(), " same/different flags");
  check_finite(scores, who, "scores");
  int64_t ns = 0;
  for (size_t i = 0; i < same.size(); ++i) {
    FF_CHECK(same[i] <= 1, who, ": same[", i, "] is ", int(same[i]), ", expected 0 or 1");
    ns += same[i];
  }
  *n_same = ns;
  *n_diff = static_cast<int64_t>(same.size()) - ns;
}

void require_both(int64_t n_same, int64_t n_diff, const char* who) {
  FF_CHECK(n_same > 0 && n_diff > 0, who, ": needs both same and different pairs (got ", n_same, " same, ", n_diff,
           " different); TAR or FAR is undefined otherwise");
}

// ROC from validated inputs.
std::vector<RocPoint> roc_impl(const std::vector<double>& scores, const std::vector<uint8_t>& same, int64_t n_same,
                               int64_t n_diff) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  std::vector<RocPoint> roc;
  roc.push_back({0.0, 0.0, kInf});
  int64_t tp = 0, fp = 0;
  for (size_t i = 0; i < order.size();) {
    double s = scores[order[i]];
    for (; i < order.size() && scores[order[i]] == s; ++i) (same[order[i]] ? tp : fp) += 1;  // a group of ties
    roc.push_back({static_cast<double>(fp) / n_diff, static_cast<double>(tp) / n_same, s});
  }
  return roc;
}

}  // namespace

// ================================================================ landmarks

LandmarkMetrics landmark_metrics(const std::vector<double>& pred, const std::vector<double>& gt, int64_t n_points,
                                 double threshold, const std::vector<std::string>& names) {
  const char* who = "landmark_metrics";
  FF_CHECK(n_points >= 2, who, ": needs at least 2 points per image (0 and 1 are the eyes), got ", n_points);
  FF_CHECK(std::isfinite(threshold) && threshold > 0, who, ": threshold must be positive, got ", threshold);
  FF_CHECK(pred.size() == gt.size(), who, ": pred has ", pred.size(), " values, gt ", gt.size());
  FF_CHECK(!gt.empty() && gt.size() % (2 * n_points) == 0, who, ": ", gt.size(),
           " values are not a non-empty whole number of images of ", n_points, " points (x, y)");
  check_finite(pred, who, "pred");
  check_finite(gt, who, "gt");
  LandmarkMetrics m;
  m.n_points = n_points;
  m.n_images = static_cast<int64_t>(gt.size()) / (2 * n_points);
  m.threshold = threshold;
  m.nme.resize(m.n_images);
  m.point_nme.assign(n_points, 0.0);
  m.point_error.assign(n_points, 0.0);
  double sum_nme = 0, area = 0;
  int64_t failures = 0;
  for (int64_t i = 0; i < m.n_images; ++i) {
    const double* g = gt.data() + i * n_points * 2;
    const double* p = pred.data() + i * n_points * 2;
    double iod = std::hypot(g[0] - g[2], g[1] - g[3]);
    FF_CHECK(iod > 0, who, ": image ", i,
             static_cast<size_t>(i) < names.size() ? " (" + names[static_cast<size_t>(i)] + ")" : std::string(),
             " has a zero inter-ocular distance (ground-truth points 0 and 1 coincide)");
    double s = 0;
    for (int64_t k = 0; k < n_points; ++k) {
      double e = std::hypot(p[2 * k] - g[2 * k], p[2 * k + 1] - g[2 * k + 1]);
      m.point_error[k] += e;
      m.point_nme[k] += e / iod;
      s += e / iod;
    }
    m.nme[i] = s / n_points;
    sum_nme += m.nme[i];
    if (m.nme[i] > threshold) ++failures;
    area += std::max(0.0, threshold - m.nme[i]);
  }
  const double n = static_cast<double>(m.n_images);
  m.mean_nme = sum_nme / n;
  m.failure_rate = failures / n;
  m.auc = area / (n * threshold);
  for (int64_t k = 0; k < n_points; ++k) {
    m.point_error[k] /= n;
    m.point_nme[k] /= n;
  }
  return m;
}

LandmarkMetrics landmark_metrics(const Tensor& pred, const Tensor& gt, double threshold) {
  FF_CHECK(pred.defined() && gt.defined(), "landmark_metrics: undefined tensor");
  FF_CHECK(gt.dim() == 3 && gt.size(2) == 2 && is_float(gt.dtype()), "landmark_metrics: gt must be float [N, P, 2], got ",
           gt.str());
  FF_CHECK(pred.shape() == gt.shape() && is_float(pred.dtype()), "landmark_metrics: pred ", pred.str(),
           " must be float with gt's shape ", gt.str());
  return landmark_metrics(pred.to_vector<double>(), gt.to_vector<double>(), gt.size(1), threshold);
}

Curve ced_curve(const std::vector<double>& errors, double max_error) {
  FF_CHECK(!errors.empty(), "ced_curve: no errors");
  FF_CHECK(std::isfinite(max_error) && max_error > 0, "ced_curve: max_error must be positive, got ", max_error);
  check_finite(errors, "ced_curve", "errors");
  std::vector<double> e = errors;
  std::sort(e.begin(), e.end());
  FF_CHECK(e.front() >= 0, "ced_curve: errors must be >= 0, got ", e.front());
  const double n = static_cast<double>(e.size());
  Curve c;
  c.x.push_back(0.0);
  c.y.push_back(0.0);
  double level = 0;
  for (size_t i = 0; i < e.size() && e[i] <= max_error;) {
    double v = e[i];
    while (i < e.size() && e[i] == v) ++i;
    c.x.push_back(v);
    c.y.push_back(level);
    level = i / n;
    c.x.push_back(v);
    c.y.push_back(level);
  }
  c.x.push_back(max_error);
  c.y.push_back(level);
  return c;
}

// ================================================================ classification

double top1_accuracy(const Tensor& logits, const std::vector<int64_t>& labels) {
  FF_CHECK(logits.defined() && logits.dim() == 2 && is_float(logits.dtype()) && logits.size(0) > 0 &&
               logits.size(1) > 0,
           "top1_accuracy: logits must be a non-empty float [N, C], got ", logits.defined() ? logits.str() : "undefined");
  const int64_t n = logits.size(0), c = logits.size(1);
  FF_CHECK(static_cast<int64_t>(labels.size()) == n, "top1_accuracy: ", labels.size(), " labels for logits ",
           logits.str());
  std::vector<double> v = logits.to_vector<double>();
  check_finite(v, "top1_accuracy", "logits");
  std::vector<int64_t> predicted(n);
  for (int64_t i = 0; i < n; ++i) {
    FF_CHECK(labels[i] >= 0 && labels[i] < c, "top1_accuracy: label ", labels[i], " of row ", i, " is outside [0, ", c,
             ") for logits ", logits.str());
    const double* row = v.data() + i * c;
    predicted[i] = std::max_element(row, row + c) - row;  // the first largest
  }
  return top1_accuracy(predicted, labels);
}

double top1_accuracy(const std::vector<int64_t>& predicted, const std::vector<int64_t>& labels) {
  FF_CHECK(!labels.empty(), "top1_accuracy: no labels");
  FF_CHECK(predicted.size() == labels.size(), "top1_accuracy: ", predicted.size(), " predictions for ", labels.size(),
           " labels");
  int64_t hit = 0;
  for (size_t i = 0; i < labels.size(); ++i) hit += predicted[i] == labels[i];
  return static_cast<double>(hit) / labels.size();
}

// ================================================================ verification

std::vector<RocPoint> roc_curve(const std::vector<double>& scores, const std::vector<uint8_t>& same) {
  int64_t ns, nd;
  check_pairs(scores, same, "roc_curve", &ns, &nd);
  require_both(ns, nd, "roc_curve");
  return roc_impl(scores, same, ns, nd);
}

double roc_auc(const std::vector<double>& scores, const std::vector<uint8_t>& same) {
  int64_t ns, nd;
  check_pairs(scores, same, "roc_auc", &ns, &nd);
  require_both(ns, nd, "roc_auc");
  // The trapezoids in counts: sum over tie groups of (fp_k - fp_{k-1}) (tp_k + tp_{k-1}) is an
  // integer (twice the Mann-Whitney U), exact in int64 below ~2e9 pairs of each kind, divided
  // once at the end.
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  int64_t twice_u = 0, tp = 0, fp = 0;
  for (size_t i = 0; i < order.size();) {
    int64_t tp0 = tp, fp0 = fp;
    double s = scores[order[i]];
    for (; i < order.size() && scores[order[i]] == s; ++i) (same[order[i]] ? tp : fp) += 1;
    twice_u += (fp - fp0) * (tp + tp0);
  }
  return static_cast<double>(twice_u) / (2.0 * static_cast<double>(ns) * static_cast<double>(nd));
}

TarAtFar tar_at_far(const std::vector<RocPoint>& roc, double target_far, int64_t n_same, int64_t n_different) {
  FF_CHECK(target_far >= 0 && target_far <= 1, "tar_at_far: target FAR must be in [0, 1], got ", target_far);
  FF_CHECK(!roc.empty() && roc.front().far == 0 && roc.front().tar == 0, "tar_at_far: not a ROC (from roc_curve)");
  require_both(n_same, n_different, "tar_at_far");
  TarAtFar r;
  r.target_far = target_far;
  r.n_same = n_same;
  r.n_different = n_different;
  r.resolved = static_cast<double>(n_different) * target_far >= 1.0;
  r.tar = roc.front().tar, r.far = roc.front().far, r.threshold = roc.front().threshold;
  for (const RocPoint& p : roc) {
    if (!(p.far <= target_far)) continue;
    if (p.tar > r.tar || (p.tar == r.tar && p.far < r.far)) r.tar = p.tar, r.far = p.far, r.threshold = p.threshold;
  }
  return r;
}

TarAtFar tar_at_far(const std::vector<double>& scores, const std::vector<uint8_t>& same, double target_far) {
  int64_t ns, nd;
  check_pairs(scores, same, "tar_at_far", &ns, &nd);
  require_both(ns, nd, "tar_at_far");
  return tar_at_far(roc_impl(scores, same, ns, nd), target_far, ns, nd);
}

std::vector<int> make_folds(const std::vector<uint8_t>& same, int k, uint64_t seed) {
  FF_CHECK(k >= 2, "make_folds: needs at least 2 folds, got ", k);
  FF_CHECK(static_cast<int64_t>(same.size()) >= k, "make_folds: ", same.size(), " pairs cannot fill ", k, " folds");
  std::vector<size_t> idx[2];
  for (size_t i = 0; i < same.size(); ++i) {
    FF_CHECK(same[i] <= 1, "make_folds: same[", i, "] is ", int(same[i]), ", expected 0 or 1");
    idx[same[i]].push_back(i);
  }
  Rng rng(seed);
  std::vector<int> fold(same.size(), -1);
  int next = 0;  // continues from the same pairs into the different pairs, so sizes differ by <= 1
  for (int kind : {1, 0}) {
    std::vector<size_t>& v = idx[kind];
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.randint(static_cast<int64_t>(i))]);
    for (size_t i : v) {
      fold[i] = next;
      next = (next + 1) % k;
    }
  }
  return fold;
}

KFoldAccuracy kfold_accuracy(const std::vector<double>& scores, const std::vector<uint8_t>& same,
                             const std::vector<int>& folds, int k) {
  const char* who = "kfold_accuracy";
  int64_t ns, nd;
  check_pairs(scores, same, who, &ns, &nd);
  FF_CHECK(k >= 2, who, ": needs at least 2 folds, got ", k);
  FF_CHECK(folds.size() == scores.size(), who, ": ", folds.size(), " fold entries for ", scores.size(), " scores");
  std::vector<int64_t> fold_size(k, 0);
  for (size_t i = 0; i < folds.size(); ++i) {
    FF_CHECK(folds[i] >= 0 && folds[i] < k, who, ": folds[", i, "] is ", folds[i], ", outside [0, ", k, ")");
    ++fold_size[folds[i]];
  }
  for (int f = 0; f < k; ++f) FF_CHECK(fold_size[f] > 0, who, ": fold ", f, " is empty");

  KFoldAccuracy r;
  std::vector<std::pair<double, uint8_t>> train;
  for (int f = 0; f < k; ++f) {
    train.clear();
    int64_t train_same = 0;
    for (size_t i = 0; i < scores.size(); ++i)
      if (folds[i] != f) train.emplace_back(scores[i], same[i]), train_same += same[i];
    std::sort(train.begin(), train.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    // Sweep the candidates in ascending order. After the groups of distinct scores u_1..u_j are
    // consumed (rejected), correct = same pairs still accepted + different pairs rejected.
    int64_t correct = train_same;  // candidate -inf: everything accepted
    int64_t best = correct;
    double best_t = -kInf;
    for (size_t i = 0; i < train.size();) {
      double u = train[i].first;
      for (; i < train.size() && train[i].first == u; ++i) correct += train[i].second ? -1 : 1;
      double t = i < train.size() ? (u + train[i].first) / 2 : kInf;
      if (correct > best) best = correct, best_t = t;
    }
    int64_t hit = 0;
    for (size_t i = 0; i < scores.size(); ++i)
      if (folds[i] == f) hit += (scores[i] >= best_t) == (same[i] == 1);
    r.fold_accuracy.push_back(static_cast<double>(hit) / fold_size[f]);
    r.fold_threshold.push_back(best_t);
  }
  r.mean = std::accumulate(r.fold_accuracy.begin(), r.fold_accuracy.end(), 0.0) / k;
  double var = 0;
  for (double a : r.fold_accuracy) var += (a - r.mean) * (a - r.mean);
  r.std = std::sqrt(var / k);
  r.mean_threshold = std::accumulate(r.fold_threshold.begin(), r.fold_threshold.end(), 0.0) / k;
  return r;
}

KFoldAccuracy kfold_accuracy(const std::vector<double>& scores, const std::vector<uint8_t>& same, int k,
                             uint64_t seed) {
  int64_t ns, nd;
  check_pairs(scores, same, "kfold_accuracy", &ns, &nd);
  return kfold_accuracy(scores, same, make_folds(same, k, seed), k);
}

VerificationMetrics verification_metrics(const std::vector<double>& scores, const std::vector<uint8_t>& same,
                                         uint64_t fold_seed) {
  VerificationMetrics m;
  check_pairs(scores, same, "verification_metrics", &m.n_same, &m.n_different);
  require_both(m.n_same, m.n_different, "verification_metrics");
  m.roc = roc_impl(scores, same, m.n_same, m.n_different);
  m.auc = roc_auc(scores, same);
  m.tar_far_1e2 = tar_at_far(m.roc, 1e-2, m.n_same, m.n_different);
  m.tar_far_1e3 = tar_at_far(m.roc, 1e-3, m.n_same, m.n_different);
  m.kfold = kfold_accuracy(scores, same, 10, fold_seed);
  return m;
}

// ================================================================ pairs

namespace {

// `count` distinct integers drawn uniformly from [0, total), ascending (all of them when count >=
// total). Floyd's algorithm: `count` draws, no rejection.
std::vector<int64_t> sample_indices(int64_t total, int64_t count, Rng& rng) {
  std::vector<int64_t> out;
  if (count >= total) {
    out.resize(total);
    std::iota(out.begin(), out.end(), int64_t{0});
    return out;
  }
  std::unordered_set<int64_t> chosen;
  chosen.reserve(static_cast<size_t>(count) * 2);
  for (int64_t j = total - count; j < total; ++j) {
    int64_t t = rng.randint(j + 1);
    chosen.insert(chosen.count(t) ? j : t);
  }
  out.assign(chosen.begin(), chosen.end());
  std::sort(out.begin(), out.end());
  return out;
}

// Decodes linear pair indices (ascending) into pairs of positions (r, s), r < s, of a sequence in
// which position r pairs with the positions [lo(r), lo(r) + cnt(r)): row r's pairs occupy the
// linear indices [prefix[r], prefix[r + 1]).
template <typename Lo>
void decode_pairs(const std::vector<int64_t>& qs, const std::vector<int64_t>& prefix, Lo lo,
                  std::vector<std::pair<int64_t, int64_t>>& out) {
  for (int64_t q : qs) {
    int64_t r = std::upper_bound(prefix.begin(), prefix.end(), q) - prefix.begin() - 1;
    out.emplace_back(r, lo(r) + (q - prefix[r]));
  }
}

}  // namespace

Pairs build_pairs(const std::vector<int64_t>& labels, uint64_t seed, int64_t max_same) {
  const char* who = "build_pairs";
  const int64_t n = static_cast<int64_t>(labels.size());
  FF_CHECK(n >= 2, who, ": needs at least 2 items, got ", n);
  FF_CHECK(max_same >= 0, who, ": max_same must be >= 0 (0 = all), got ", max_same);
  // Items sorted by identity (stable: ascending index within one); gend[r] = end of r's identity
  // block. Same pairs of position r: (r, s) for s in (r, gend[r]); different pairs: s in [gend[r], n).
  // Enumerating pairs row by row through prefix sums lets a uniform sample of linear indices be
  // decoded without listing every pair.
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return labels[a] < labels[b]; });
  std::vector<int64_t> gend(n);
  for (int64_t i = n - 1; i >= 0; --i)
    gend[i] = (i + 1 < n && labels[order[i + 1]] == labels[order[i]]) ? gend[i + 1] : i + 1;
  std::vector<int64_t> same_prefix(n + 1, 0), diff_prefix(n + 1, 0);
  for (int64_t r = 0; r < n; ++r) {
    same_prefix[r + 1] = same_prefix[r] + (gend[r] - r - 1);
    diff_prefix[r + 1] = diff_prefix[r] + (n - gend[r]);
  }
  const int64_t total_same = same_prefix[n], total_diff = diff_prefix[n];
  FF_CHECK(total_same > 0, who, ": no two of the ", n, " items share an identity, so there are no same pairs");

  Rng rng(seed);
  std::vector<std::pair<int64_t, int64_t>> same_pos, diff_pos;
  int64_t n_same = max_same == 0 ? total_same : std::min(total_same, max_same);
  decode_pairs(sample_indices(total_same, n_same, rng), same_prefix, [](int64_t r) { return r + 1; }, same_pos);
  int64_t n_diff = std::min(n_same, total_diff);
  decode_pairs(sample_indices(total_diff, n_diff, rng), diff_prefix, [&](int64_t r) { return gend[r]; }, diff_pos);

  auto to_items = [&](std::vector<std::pair<int64_t, int64_t>>& v) {
    for (auto& [r, s] : v) {
      int64_t x = order[r], y = order[s];
      r = std::min(x, y), s = std::max(x, y);
    }
    std::sort(v.begin(), v.end());
  };
  to_items(same_pos);
  to_items(diff_pos);
  Pairs p;
  for (auto& [a, b] : same_pos) p.a.push_back(a), p.b.push_back(b), p.same.push_back(1);
  for (auto& [a, b] : diff_pos) p.a.push_back(a), p.b.push_back(b), p.same.push_back(0);
  return p;
}

std::vector<double> cosine_scores(const Tensor& embeddings, const Pairs& pairs) {
  FF_CHECK(embeddings.defined() && embeddings.dim() == 2 && is_float(embeddings.dtype()) && embeddings.size(1) > 0,
           "cosine_scores: embeddings must be float [N, D], got ",
           embeddings.defined() ? embeddings.str() : "undefined");
  FF_CHECK(pairs.a.size() == pairs.b.size() && pairs.a.size() == pairs.same.size(),
           "cosine_scores: inconsistent pairs (", pairs.a.size(), ", ", pairs.b.size(), ", ", pairs.same.size(), ")");
  const int64_t n = embeddings.size(0), d = embeddings.size(1);
  std::vector<double> e = embeddings.to_vector<double>();
  check_finite(e, "cosine_scores", "embeddings");
  std::vector<double> norm(n);
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t k = 0; k < d; ++k) s += e[i * d + k] * e[i * d + k];
    norm[i] = std::sqrt(s);
  }
  std::vector<double> out(pairs.size());
  for (size_t p = 0; p < pairs.size(); ++p) {
    int64_t a = pairs.a[p], b = pairs.b[p];
    FF_CHECK(a >= 0 && a < n && b >= 0 && b < n, "cosine_scores: pair ", p, " (", a, ", ", b,
             ") is outside the embeddings ", embeddings.str());
    FF_CHECK(norm[a] > 0 && norm[b] > 0, "cosine_scores: embedding ", norm[a] > 0 ? b : a, " is zero");
    double s = 0;
    for (int64_t k = 0; k < d; ++k) s += e[a * d + k] * e[b * d + k];
    out[p] = s / (norm[a] * norm[b]);
  }
  return out;
}

}  // namespace ff
