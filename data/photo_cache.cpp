// data/photo_cache.cpp — see photo_cache.h.
#include "data/photo_cache.h"

#include <cmath>
#include <cstdio>

namespace ff {

Affine2 DecodedPhoto::from_full() const {
  const double s = 1.0 / denom, t = 0.5 / denom - 0.5;
  Affine2 a;
  a.m[0][0] = s;
  a.m[0][2] = t;
  a.m[1][1] = s;
  a.m[1][2] = t;
  return a;
}

Landmarks5 DecodedPhoto::landmarks(const Landmarks5& full) const {
  const Affine2 a = from_full();
  Landmarks5 out;
  for (size_t i = 0; i < full.size(); ++i) out[i] = apply_affine(a, full[i]);
  return out;
}

FaceBox DecodedPhoto::box(const FaceBox& full) const {
  // The corner moves as a point (so the centre, which framing uses, does too); sides scale.
  const Point2 c = apply_affine(from_full(), Point2{full.x, full.y});
  const float s = 1.0f / static_cast<float>(denom);
  return FaceBox{static_cast<float>(c.x), static_cast<float>(c.y), full.width * s, full.height * s};
}

PhotoCache::PhotoCache(int64_t budget_bytes) {
  FF_CHECK(budget_bytes >= 0, "PhotoCache: negative budget ", budget_bytes);
  st_.budget_bytes = budget_bytes;
}

std::shared_ptr<const DecodedPhoto> PhotoCache::get(const std::string& path, int denom) {
  const std::string key = std::to_string(denom) + ":" + path;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = photos_.find(key);
    if (it != photos_.end()) {
      ++st_.hits;
      return it->second;
    }
    ++st_.misses;
  }
  auto p = std::make_shared<DecodedPhoto>();
  p->image = load_image_scaled(path, denom, 3, &p->denom);
  const auto bytes = static_cast<int64_t>(p->image.pixels.size());
  std::lock_guard<std::mutex> lock(mu_);
  auto it = photos_.find(key);
  if (it != photos_.end()) return it->second;  // another worker decoded it meanwhile
  if (st_.kept_bytes + bytes <= st_.budget_bytes) {
    photos_.emplace(key, p);
    ++st_.kept;
    st_.kept_bytes += bytes;
  } else {
    ++st_.not_kept;
  }
  return p;
}

PhotoCache::Stats PhotoCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return st_;
}

std::string PhotoCache::Stats::str() const {
  char buf[160];
  const int64_t gets = hits + misses;
  std::snprintf(buf, sizeof buf, "photo cache: %lld photos, %.0f MB of %.0f MB; %.1f%% of %lld reads from memory",
                static_cast<long long>(kept), kept_bytes / 1048576.0, budget_bytes / 1048576.0,
                gets ? 100.0 * hits / gets : 0.0, static_cast<long long>(gets));
  return buf;
}

int frame_denominator(const Affine2& frame, double zoom) {
  const double scale = std::sqrt(std::fabs(frame.m[0][0] * frame.m[1][1] - frame.m[0][1] * frame.m[1][0]));
  if (!(scale > 0) || !(zoom > 0) || !std::isfinite(scale)) return 1;
  return dct_denominator(1.0 / (scale * zoom));
}

}  // namespace ff
