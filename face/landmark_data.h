// face/landmark_data.h — the faces a landmark network trains and is evaluated on: one record per
// image of a CelebA-format folder that has both a face box and five landmarks, as plain numbers.
//
// Why a record of its own instead of data/celeba.h's CelebAEntry: celeba.h and data/geometry.h
// each define an ff::Point2 (float and double), so no file can include both. The landmark code
// needs geometry (crop matrices, augmentation); only face/landmark_data.cpp reads CelebA's files.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace ff {

struct FaceRecord {
  std::string file;  // "000001.jpg"
  std::string path;  // root/img_celeba/000001.jpg
  int partition = 0;  // 0 train, 1 validation, 2 test
  int identity = 0;   // CelebA's identity number
  // The face box: x_1, y_1 (top-left pixel), width, height, in pixels of the image.
  std::array<float, 4> box{};
  // left eye, right eye, nose, left mouth corner, right mouth corner as x0, y0, x1, y1, ...
  // (pixels, pixel centres at integers; "left" = the image's left).
  std::array<float, 10> points{};
};

struct LandmarkData {
  std::string root;
  std::vector<FaceRecord> faces;  // in the identity file's order
  size_t listed = 0;              // images the dataset lists (faces may be fewer: see below)
  // Indices into `faces` of partition p, in order; at most `limit` of them when limit > 0.
  std::vector<size_t> partition(int p, int64_t limit = 0) const;
};

// Reads a CelebA-format folder (img_celeba/, identity_CelebA.txt, list_eval_partition.txt,
// list_bbox_celeba.txt, list_landmarks_celeba.txt) and keeps the images that have a box and
// landmarks. Throws ff::Error with one clear line when the folder is missing, lacks the box or
// landmark file, or has no face with both; images are checked to exist (not decoded).
LandmarkData load_landmark_data(const std::string& root);

}  // namespace ff
