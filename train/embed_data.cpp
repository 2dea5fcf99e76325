// train/embed_data.cpp — the dataset side of train/embed.h: CelebA's files read into FaceSet.
// Kept apart from train/embed.cpp because train/celeba.h and train/geometry.h cannot be included
// together (both define ff::Point2).
#include <algorithm>
#include <filesystem>

#include "train/celeba.h"
#include "train/embed.h"

namespace ff {

FaceSet load_face_set(const std::string& dir, size_t* skipped_no_landmarks) {
  namespace fs = std::filesystem;
  std::error_code ec;
  FF_CHECK(fs::exists(dir, ec), "data folder ", dir, " does not exist");
  FF_CHECK(fs::is_directory(dir, ec), "data folder ", dir, " is not a folder");
  CelebAFiles files;
  FF_CHECK(fs::exists(fs::path(dir) / files.identities, ec), "data folder ", dir, " holds no ", files.identities,
           " (expected a dataset in CelebA's layout, e.g. written by `faceforge synth`)");
  CelebA ds = load_celeba(dir, files);
  FF_CHECK(ds.num_landmarks > 0, "data folder ", dir, " has no landmarks (", files.landmarks,
           "): faces are aligned by their five landmarks");
  FaceSet set;
  set.root = dir;
  size_t skipped = 0;
  for (const CelebAEntry& e : ds.entries) {
    if (!e.landmarks) {
      ++skipped;
      continue;
    }
    EmbedFace r;
    r.file = e.file;
    r.path = e.path;
    r.identity = e.identity;
    r.partition = e.partition;
    r.has_landmarks = true;
    for (int k = 0; k < 5; ++k) {
      r.landmarks[2 * k] = (*e.landmarks)[k].x;
      r.landmarks[2 * k + 1] = (*e.landmarks)[k].y;
    }
    set.records.push_back(std::move(r));
  }
  for (const EmbedFace& r : set.records) set.identities.push_back(r.identity);
  std::sort(set.identities.begin(), set.identities.end());
  set.identities.erase(std::unique(set.identities.begin(), set.identities.end()), set.identities.end());
  if (skipped_no_landmarks) *skipped_no_landmarks = skipped;
  return set;
}

}  // namespace ff
