// face/embed_data.cpp — the dataset side of face/embed.h: CelebA's files read into FaceSet, and
// landmarks predicted by a trained landmark network in place of the files'.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <unordered_map>

#include "data/celeba.h"
#include "face/embed.h"
#include "face/landmark_data.h"
#include "face/landmarks.h"
#include "face/pipeline.h"

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

std::string LandmarkSource::str() const {
  if (model.empty()) return "the dataset's landmark file";
  char b[96];
  std::snprintf(b, sizeof b, " (mean NME %.4f against the file's; %zu images, %zu without a box left out)", mean_nme,
                used, dropped_no_box);
  return "predicted by " + model + b;
}

LandmarkSource use_predicted_landmarks(FaceSet& set, const std::string& model_path, Device device, int64_t batch,
                                       int workers) {
  LandmarkModel m = load_landmark_model(model_path);  // named errors: missing file, another kind
  m.loaded.to(device);
  LandmarkData data = load_landmark_data(set.root);  // the faces that have a box (and landmarks)
  std::unordered_map<std::string, size_t> by_file;
  for (size_t i = 0; i < data.faces.size(); ++i) by_file.emplace(data.faces[i].file, i);
  LandmarkSource src;
  src.model = model_path;
  std::vector<size_t> idx;
  std::vector<EmbedFace> kept;
  for (const EmbedFace& r : set.records) {
    auto it = by_file.find(r.file);
    if (it == by_file.end()) {
      ++src.dropped_no_box;
      continue;
    }
    idx.push_back(it->second);
    kept.push_back(r);
  }
  FF_CHECK(!idx.empty(), "--landmarks-model: none of the images of ", set.root, " has a face box (",
           CelebAFiles().boxes, ") to run the landmark network on");
  const DatasetPredictions pred = predict_dataset(*m.net, data, idx, m.framing, device, batch, workers);
  const std::vector<std::array<float, 10>>& pts = pred.of(m.decode);
  for (size_t i = 0; i < kept.size(); ++i)
    for (int k = 0; k < 10; ++k) {
      FF_CHECK(std::isfinite(pts[i][k]), "--landmarks-model ", model_path, " predicts non-finite landmarks for ",
               kept[i].file, " (a diverged network?)");
      kept[i].landmarks[k] = pts[i][k];
    }
  src.mean_nme = mean_nme(pts, data, idx);
  src.used = kept.size();
  set.records = std::move(kept);
  set.identities.clear();
  for (const EmbedFace& r : set.records) set.identities.push_back(r.identity);
  std::sort(set.identities.begin(), set.identities.end());
  set.identities.erase(std::unique(set.identities.begin(), set.identities.end()), set.identities.end());
  return src;
}

}  // namespace ff
