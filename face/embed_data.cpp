// face/embed_data.cpp — the dataset side of face/embed.h: landmarks predicted by a trained landmark
// network in place of the dataset's.
#include <cmath>
#include <cstdio>

#include "data/celeba.h"
#include "face/embed.h"
#include "face/landmarks.h"
#include "face/pipeline.h"

namespace ff {

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
  LandmarkSource src;
  src.model = model_path;
  std::vector<size_t> idx;  // the faces that have a box
  for (size_t i = 0; i < set.faces.size(); ++i) {
    if (set.faces[i].box)
      idx.push_back(i);
    else
      ++src.dropped_no_box;
  }
  FF_CHECK(!idx.empty(), "--landmarks-model: none of the images of ", set.root, " has a face box (",
           CelebAFiles().boxes, ") to run the landmark network on");
  const DatasetPredictions pred = predict_dataset(*m.net, set, idx, m.framing, device, batch, workers);
  const std::vector<Landmarks5>& pts = pred.of(m.decode);
  src.mean_nme = mean_nme(pts, set, idx);  // against the file's landmarks, before they are replaced
  std::vector<FaceRecord> kept;
  for (size_t i = 0; i < idx.size(); ++i) {
    for (const Point2& p : pts[i])
      FF_CHECK(std::isfinite(p.x) && std::isfinite(p.y), "--landmarks-model ", model_path,
               " predicts non-finite landmarks for ", set.faces[idx[i]].file, " (a diverged network?)");
    kept.push_back(set.faces[idx[i]]);
    kept.back().landmarks = pts[i];
  }
  src.used = kept.size();
  set.faces = std::move(kept);
  set.relabel();
  return src;
}

}  // namespace ff
