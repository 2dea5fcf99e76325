// face/embed_align.cpp — the geometry side of face/embed.h: splits, alignment to the 5-point
// template, and the training and evaluation samples (data/face_sample.h on the alignment frame).
#include "face/embed.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "engine/random.h"
#include "data/augment.h"
#include "data/face_sample.h"
#include "data/geometry.h"

namespace ff {

namespace {

template <typename T>
void shuffle(std::vector<T>& v, Rng& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[static_cast<size_t>(rng.randint(static_cast<int64_t>(i)))]);
}

constexpr uint64_t kHoldoutTag = 0x484F4C444F5554ull;  // "HOLDOUT"
constexpr uint64_t kSplitTag = 0x38303230ull;           // "8020"

}  // namespace

// ---------------------------------------------------------------- splits

SplitKind parse_split_kind(const std::string& s) {
  if (s == "celeba") return SplitKind::CelebA;
  if (s == "identity8020") return SplitKind::Identity8020;
  FF_FAIL("unknown split '", s, "' (expected celeba or identity8020)");
}

const char* split_kind_name(SplitKind k) { return k == SplitKind::CelebA ? "celeba" : "identity8020"; }

EmbedSplit make_embed_split(const FaceSet& set, SplitKind kind, int holdout, uint64_t seed) {
  std::map<int, std::vector<size_t>> by_id;  // identity -> its records, in record order
  for (size_t i = 0; i < set.faces.size(); ++i) by_id[set.faces[i].identity].push_back(i);
  const int n_ids = static_cast<int>(by_id.size());
  std::vector<int> eligible;  // identities with >= 2 images: they give same-identity pairs
  for (auto& [id, v] : by_id)
    if (v.size() >= 2) eligible.push_back(id);
  if (holdout < 0) holdout = n_ids >= 10 ? static_cast<int>(std::lround(0.15 * n_ids)) : 0;
  FF_CHECK(holdout <= static_cast<int>(eligible.size()), "split: cannot hold out ", holdout, " identities; only ",
           eligible.size(), " of the ", n_ids, " identities have two or more images");
  FF_CHECK(n_ids - holdout >= 2, "split: holding out ", holdout, " of ", n_ids,
           " identities leaves fewer than two to train on");

  Rng rng(derive_seed(seed, {kHoldoutTag, 0}));
  shuffle(eligible, rng);
  std::vector<int> held(eligible.begin(), eligible.begin() + holdout);
  std::sort(held.begin(), held.end());

  std::vector<int> untrainable;  // identities without a training image
  EmbedSplit s;
  s.label.assign(set.faces.size(), -1);
  for (auto& [id, recs] : by_id) {
    if (std::binary_search(held.begin(), held.end(), id)) continue;
    std::vector<size_t> tr, va;
    if (kind == SplitKind::CelebA) {
      for (size_t r : recs) (set.faces[r].partition == 0 ? tr : va).push_back(r);
    } else {
      std::vector<size_t> order = recs;
      Rng r8020(derive_seed(seed, {kSplitTag, static_cast<uint64_t>(id)}));
      shuffle(order, r8020);
      size_t nval = order.size() / 5;
      if (nval == 0 && order.size() >= 2) nval = 1;
      va.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(nval));
      tr.assign(order.begin() + static_cast<std::ptrdiff_t>(nval), order.end());
    }
    if (tr.empty()) {  // nothing to train on: an open-set identity (CelebA's own partitions)
      if (recs.size() >= 2) untrainable.push_back(id);
      continue;
    }
    s.train_identities.push_back(id);
    s.train.insert(s.train.end(), tr.begin(), tr.end());
    s.val.insert(s.val.end(), va.begin(), va.end());
  }
  held.insert(held.end(), untrainable.begin(), untrainable.end());
  std::sort(held.begin(), held.end());
  s.holdout_identities = held;
  FF_CHECK(s.train_identities.size() >= 2, "split: only ", s.train_identities.size(),
           " identities have training images; need at least two");
  for (size_t i = 0; i < s.train_identities.size(); ++i)
    for (size_t r : by_id[s.train_identities[i]]) s.label[r] = static_cast<int>(i);
  for (int id : held)
    for (size_t r : by_id[id]) s.holdout.push_back(r);
  std::sort(s.train.begin(), s.train.end());
  std::sort(s.val.begin(), s.val.end());
  std::sort(s.holdout.begin(), s.holdout.end());
  return s;
}

// ---------------------------------------------------------------- alignment

std::vector<std::array<double, 2>> embed_template(int64_t size) {
  FF_CHECK(size >= 8, "embed_template: size must be >= 8, got ", size);
  std::vector<std::array<double, 2>> out;
  for (const Point2& p : scale_template(arcface_template_112(), 112.0, static_cast<double>(size)))
    out.push_back({p.x, p.y});
  return out;
}

Affine2 alignment_matrix(const Landmarks5& lm, int64_t size, bool flip, const std::string& image) {
  for (const Point2& p : lm)
    FF_CHECK(std::isfinite(p.x) && std::isfinite(p.y), "alignment", image.empty() ? "" : " of ", image,
             ": a landmark coordinate is not finite (", p.x, ", ", p.y, ")");
  const std::vector<Point2> src(lm.begin(), lm.end()),
      dst = scale_template(arcface_template_112(), 112.0, static_cast<double>(size));
  if (!flip) return similarity_lstsq(src, dst);
  // Mirror the photo (x -> -x); its left/right landmarks trade places; align that exactly.
  const Affine2 mirror{{{-1.0, 0.0, 0.0}, {0.0, 1.0, 0.0}}};
  std::vector<Point2> m = apply_affine(mirror, src);
  std::swap(m[0], m[1]);
  std::swap(m[3], m[4]);
  return compose(similarity_lstsq(m, dst), mirror);
}

AugmentConfig embed_augment() {
  AugmentConfig c;
  c.max_rotation_deg = 10.0;
  c.min_scale = 0.9;
  c.max_scale = 1.1;
  c.max_shift = 0.05;
  c.brightness = c.contrast = c.saturation = 0.2;
  return c;
}

Tensor make_train_face(const Image& photo, const Landmarks5& landmarks, int64_t size, const EmbedAugment& aug,
                       Rng& rng) {
  const Affine2 plain = alignment_matrix(landmarks, size, false), mirrored = alignment_matrix(landmarks, size, true);
  return warp_face_sample(photo, plain, nullptr, size, aug.enabled ? &aug.config : nullptr, rng, &mirrored).image;
}

Tensor make_eval_face(const Image& photo, const Landmarks5& landmarks, int64_t size, bool flip) {
  Rng unused;  // no augmentation: no draw
  return warp_face_sample(photo, alignment_matrix(landmarks, size, flip), nullptr, size, nullptr, unused).image;
}

}  // namespace ff
