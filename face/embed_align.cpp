// face/embed_align.cpp — the geometry side of face/embed.h: splits, alignment to the 5-point template,
// training and evaluation samples (one warp each), ImageNet normalisation.
#include "face/embed.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "engine/ops_geometry.h"
#include "engine/random.h"
#include "data/augment.h"
#include "data/geometry.h"

namespace ff {

namespace {


template <typename T>
void shuffle(std::vector<T>& v, Rng& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[static_cast<size_t>(rng.randint(static_cast<int64_t>(i)))]);
}

Affine2 to_affine(const std::array<double, 6>& a) { return Affine2{{{a[0], a[1], a[2]}, {a[3], a[4], a[5]}}}; }
std::array<double, 6> from_affine(const Affine2& a) {
  return {a.m[0][0], a.m[0][1], a.m[0][2], a.m[1][0], a.m[1][1], a.m[1][2]};
}

// The mirror x -> size - 1 - x of a size-wide crop (about its centre line, as data/augment.cpp).
Affine2 mirror_crop(int64_t size) { return Affine2{{{-1.0, 0.0, static_cast<double>(size - 1)}, {0.0, 1.0, 0.0}}}; }

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
  for (size_t i = 0; i < set.records.size(); ++i) by_id[set.records[i].identity].push_back(i);
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
  s.label.assign(set.records.size(), -1);
  for (auto& [id, recs] : by_id) {
    if (std::binary_search(held.begin(), held.end(), id)) continue;
    std::vector<size_t> tr, va;
    if (kind == SplitKind::CelebA) {
      for (size_t r : recs) (set.records[r].partition == 0 ? tr : va).push_back(r);
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

std::array<double, 6> alignment_matrix(const std::array<double, 10>& lm, int64_t size, bool flip) {
  for (double v : lm) FF_CHECK(std::isfinite(v), "alignment: a landmark coordinate is not finite");
  std::vector<Point2> src(5), dst = scale_template(arcface_template_112(), 112.0, static_cast<double>(size));
  for (int k = 0; k < 5; ++k) src[k] = {lm[2 * k], lm[2 * k + 1]};
  if (!flip) return from_affine(similarity_lstsq(src, dst));
  // Mirror the photo (x -> -x); its left/right landmarks trade places; align that exactly.
  const Affine2 mirror{{{-1.0, 0.0, 0.0}, {0.0, 1.0, 0.0}}};
  std::vector<Point2> m = apply_affine(mirror, src);
  std::swap(m[0], m[1]);
  std::swap(m[3], m[4]);
  return from_affine(compose(similarity_lstsq(m, dst), mirror));
}

Tensor warp_face(const Image& img, const std::array<double, 6>& matrix, int64_t size) {
  FF_CHECK(img.channels == 3, "warp_face: needs an RGB image, got ", img.str());
  Tensor chw = image_to_tensor_chw(img).reshape({1, 3, img.height, img.width});
  Tensor out = warp_affine(chw, affine_tensor({to_affine(matrix)}), size, size, ImageLayout::CHW,
                           BorderMode::Constant, 0.0);
  return out.reshape({3, size, size});
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

Tensor make_train_face(const Image& img, const std::array<double, 10>& landmarks, int64_t size,
                       const EmbedAugment& aug, Rng& rng) {
  if (!aug.enabled) return make_eval_face(img, landmarks, size, false);
  const AugmentConfig& cfg = aug.config;
  // random_affine on a size x size -> size x size crop: its resize is the identity, so its matrix
  // is (rotation, scale, shift about the centre) o (mirror about the centre line, when flipped).
  RandomAffine r = random_affine(cfg, size, size, size, size, rng);
  ColorFactors colour = random_color(cfg, rng);
  Affine2 align = to_affine(alignment_matrix(landmarks, size, r.flipped));
  // When flipped, align already mirrors exactly, so undo random_affine's own mirror (an involution).
  Affine2 m = r.flipped ? compose(r.matrix, compose(mirror_crop(size), align)) : compose(r.matrix, align);
  Tensor face = warp_face(img, from_affine(m), size).reshape({1, 3, size, size});
  if (cfg.brightness > 0 || cfg.contrast > 0 || cfg.saturation > 0) color_jitter_(face, ImageLayout::CHW, {colour});
  normalize_imagenet_(face);
  return face.reshape({3, size, size});
}

Tensor make_eval_face(const Image& img, const std::array<double, 10>& landmarks, int64_t size, bool flip) {
  Tensor face = warp_face(img, alignment_matrix(landmarks, size, flip), size);
  normalize_imagenet_(face);
  return face;
}

namespace {
constexpr float kMean[3] = {0.485f, 0.456f, 0.406f};
constexpr float kStd[3] = {0.229f, 0.224f, 0.225f};
}  // namespace

void normalize_imagenet_(Tensor& images) {
  FF_CHECK(images.device().is_cpu() && images.dtype() == DType::F32 && images.dim() >= 3 && images.size(-3) == 3,
           "normalize_imagenet_: needs float32 [..., 3, H, W] on the CPU, got ", images.str());
  const int64_t hw = images.size(-1) * images.size(-2), n = images.numel() / (3 * hw);
  float* p = images.data<float>();
  for (int64_t i = 0; i < n; ++i)
    for (int c = 0; c < 3; ++c) {
      float* q = p + (i * 3 + c) * hw;
      for (int64_t j = 0; j < hw; ++j) q[j] = (q[j] - kMean[c]) / kStd[c];
    }
}

Image denormalize_to_image(const Tensor& chw) {
  FF_CHECK(chw.dim() == 3 && chw.size(0) == 3, "denormalize_to_image: needs [3, H, W], got ", chw.str());
  Tensor t = chw.cpu().to(DType::F32).clone();
  const int64_t hw = t.size(1) * t.size(2);
  float* p = t.data<float>();
  for (int c = 0; c < 3; ++c)
    for (int64_t j = 0; j < hw; ++j) p[c * hw + j] = p[c * hw + j] * kStd[c] + kMean[c];
  return image_from_tensor_chw(t);
}

}  // namespace ff
