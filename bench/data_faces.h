// bench/data_faces.h — face photos with five landmarks for the data benchmarks (bench_data.cpp).
//
// Kept in its own file because data/celeba.h and data/geometry.h both declare ff::Point2 and
// cannot be included together; bench_data.cpp needs geometry (augment), this file needs CelebA.
#pragma once
#include <string>
#include <vector>

namespace ff::bench {

struct FaceFile {
  std::string path;    // a JPEG
  float points[5][2];  // CelebA's five landmarks (x, y) in the photo's pixels
};

// The CelebA subset (shared/data/celeba_subset beside the source tree) when present, else a
// synthetic set (data/synth.h, 200 images of 250 x 250) written once into the temp directory.
// `source` receives a one-line description of which.
std::vector<FaceFile> bench_faces(std::string* source);

}  // namespace ff::bench
