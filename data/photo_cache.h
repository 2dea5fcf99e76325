// data/photo_cache.h — decoded photos kept across epochs, within a memory budget: a training run
// reads the same photos every epoch, and decoding a JPEG costs more than the warp that uses it.
//
// Each entry is one photo at one DCT-domain reduction (data/image.h decode_image_scaled): a sample
// that needs fewer pixels than the photo has asks for 1/2, 1/4 or 1/8 of it, and the cache keeps
// that smaller image. When the budget is full, photos not yet kept are decoded for each use and
// not kept: nothing is evicted, so a dataset larger than the budget still hits on the part that
// fits (an LRU would miss on every access of an epoch-ordered sweep larger than itself).
// Thread-safe: the loader's workers share one cache; decoding runs outside the lock.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "data/celeba.h"
#include "data/geometry.h"
#include "data/image.h"

namespace ff {

// A photo as decoded: `image` is the full photo reduced by `denom` (1: full size).
struct DecodedPhoto {
  Image image;
  int denom = 1;
  // Full-size photo pixels -> decoded pixels: p -> (p + 0.5) / denom - 0.5.
  Affine2 from_full() const;
  Landmarks5 landmarks(const Landmarks5& full) const;  // landmarks moved into the decoded pixels
  FaceBox box(const FaceBox& full) const;             // likewise a box
};

class PhotoCache {
 public:
  // budget_bytes: pixels kept at most (0: keep nothing, decode every time).
  explicit PhotoCache(int64_t budget_bytes);
  // The RGB photo at `path` reduced by `denom` (1, 2, 4 or 8; non-JPEG files come back full size,
  // denom 1). Throws what load_image throws.
  std::shared_ptr<const DecodedPhoto> get(const std::string& path, int denom = 1);

  struct Stats {
    int64_t hits = 0, misses = 0;  // gets served from memory / decoded
    int64_t kept = 0, kept_bytes = 0;
    int64_t not_kept = 0;          // decodes the budget had no room for
    int64_t budget_bytes = 0;
    std::string str() const;       // "cache: 2704 photos, 512 MB of 1024 MB; 94.1% hits"
  };
  Stats stats() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const DecodedPhoto>> photos_;
  Stats st_;
};

// The reduction a face sample can afford: `frame` maps full-size photo pixels to the sample's
// output pixels and `zoom` is the largest magnification its augmentation adds (> 1 zooms in). Keeps
// at least one decoded pixel per output pixel: dct_denominator(1 / (frame scale * zoom)).
int frame_denominator(const Affine2& frame, double zoom);

// Default budget of the training commands' caches (--cache-mb): 1 GiB.
constexpr int64_t kDefaultPhotoCacheMb = 1024;

}  // namespace ff
