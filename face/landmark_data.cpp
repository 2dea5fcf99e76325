// face/landmark_data.cpp — see landmark_data.h. The one landmark file that reads CelebA's lists.
#include "face/landmark_data.h"

#include <filesystem>

#include "engine/error.h"
#include "data/celeba.h"

namespace ff {

std::vector<size_t> LandmarkData::partition(int p, int64_t limit) const {
  std::vector<size_t> idx;
  for (size_t i = 0; i < faces.size(); ++i) {
    if (limit > 0 && static_cast<int64_t>(idx.size()) >= limit) break;
    if (faces[i].partition == p) idx.push_back(i);
  }
  return idx;
}

LandmarkData load_landmark_data(const std::string& root) {
  namespace fs = std::filesystem;
  FF_CHECK(fs::is_directory(root), "data folder ", root, " does not exist or is not a folder");
  CelebAFiles files;
  for (const std::string& f : {files.boxes, files.landmarks})
    FF_CHECK(fs::is_regular_file(root + "/" + f), "data folder ", root, " has no ", f,
             " (training and evaluating landmarks needs face boxes and landmarks)");
  CelebA ds = load_celeba(root, files);
  check_images_present(ds);
  LandmarkData d;
  d.root = root;
  d.listed = ds.size();
  for (const CelebAEntry& e : ds.entries) {
    if (!e.box || !e.landmarks) continue;
    FaceRecord r;
    r.file = e.file;
    r.path = e.path;
    r.partition = e.partition;
    r.identity = e.identity;
    r.box = {e.box->x, e.box->y, e.box->width, e.box->height};
    for (int k = 0; k < 5; ++k) {
      r.points[2 * k] = (*e.landmarks)[k].x;
      r.points[2 * k + 1] = (*e.landmarks)[k].y;
    }
    d.faces.push_back(std::move(r));
  }
  FF_CHECK(!d.faces.empty(), "data folder ", root, ": none of its ", ds.size(), " images has both a box and landmarks");
  return d;
}

}  // namespace ff
