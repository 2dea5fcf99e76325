// data/detect_truth.h — the ground truth a face detector is measured against, as a detections
// file (data/detections.h) whose faces all score 1: `faceforge eval-detector --data DIR` reads it.
#pragma once
#include <string>

#include "data/detections.h"

namespace ff {

// The labelled faces of a folder:
//   DIR/faces.json present: that file, a faceforge-detections-1 file (any number of faces per
//     photo; the synthetic scenes write it); every face's score is set to 1.
//   otherwise CelebA's DIR/list_bbox_celeba.txt (one face per listed photo, in the file's order)
//     and, when present, DIR/list_landmarks_celeba.txt (its five points joined by file name), read
//     with data/celeba.h's readers. Each photo's width and height are read from its file's header
//     (in detection_photo_dir(DIR); no pixels are decoded).
// Throws a one-line ff::Error naming the file (and line) for a malformed file, a landmark row for
// a photo the box file does not list, a photo listed twice, or a photo whose header cannot be read.
DetectionsFile load_detection_ground_truth(const std::string& dir);

// Where the photos of DIR are: DIR/img_celeba when that folder exists (CelebA's layout), else DIR.
std::string detection_photo_dir(const std::string& dir);

// Width and height from an image file's header (PNG, JPEG and whatever stb_image reads) without
// decoding it; throws ff::Error naming the file when it is missing or not an image.
void read_image_size(const std::string& path, int& width, int& height);

}  // namespace ff
