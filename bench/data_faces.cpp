// bench/data_faces.cpp — the photos the loader benchmark decodes: real CelebA faces when the
// shared data is present, else a synthetic set (see data_faces.h).
#include "bench/data_faces.h"

#include <filesystem>

#include "data/celeba.h"
#include "data/synth.h"

namespace ff::bench {

std::vector<FaceFile> bench_faces(std::string* source) {
  namespace fs = std::filesystem;
  fs::path root = fs::path(FF_BENCH_DIR) / ".." / ".." / "shared" / "data" / "celeba_subset";
  if (fs::exists(root / "identity_CelebA.txt")) {
    *source = "CelebA subset " + root.lexically_normal().string();
  } else {
    root = fs::temp_directory_path() / "ff_bench_synth_faces";
    if (!fs::exists(root / "list_landmarks_celeba.txt")) {
      SynthConfig cfg;
      cfg.identities = 20;
      cfg.per_identity = 10;
      cfg.size = 250;  // like the CelebA subset's longer side
      cfg.seed = 1;
      write_synth_dataset(root.string(), cfg);
    }
    *source = "synthetic faces (data/synth.h) in " + root.string();
  }
  CelebA ds = load_celeba(root.string());
  std::vector<FaceFile> faces;
  for (const CelebAEntry& e : ds.entries) {
    if (!e.landmarks) continue;
    FaceFile f;
    f.path = e.path;
    for (int k = 0; k < 5; ++k) {
      f.points[k][0] = (*e.landmarks)[k].x;
      f.points[k][1] = (*e.landmarks)[k].y;
    }
    faces.push_back(f);
  }
  return faces;
}

}  // namespace ff::bench
