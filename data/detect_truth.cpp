// data/detect_truth.cpp — the ground truth of face detection: faces.json or CelebA's box and
// landmark files (data/detect_truth.h).
#include "data/detect_truth.h"

#include <filesystem>
#include <unordered_map>

#include "data/image.h"
#include "engine/error.h"

namespace ff {

namespace fs = std::filesystem;

std::string detection_photo_dir(const std::string& dir) {
  const std::string celeba = dir + "/img_celeba";
  return fs::is_directory(celeba) ? celeba : dir;
}

void read_image_size(const std::string& path, int& width, int& height) {
  if (!fs::is_regular_file(path)) FF_FAIL("read_image_size: no such image: ", path);
  const ImageSize s = image_size(path);  // the header only; JPEG or PNG, size bounded
  width = s.width;
  height = s.height;
}

DetectionsFile load_detection_ground_truth(const std::string& dir) {
  if (!fs::is_directory(dir)) FF_FAIL("detection ground truth: ", dir, " is not a folder");
  const std::string json = dir + "/faces.json";
  DetectionsFile truth;
  if (fs::is_regular_file(json)) {
    truth = read_detections(json);
    for (auto& p : truth.photos)
      for (auto& f : p.faces) f.score = 1.0;
  } else {
    const std::string boxes = dir + "/list_bbox_celeba.txt";
    if (!fs::is_regular_file(boxes))
      FF_FAIL("detection ground truth: ", dir, " has neither faces.json nor list_bbox_celeba.txt");
    truth.detector = "ground truth (" + boxes + ")";
    const ImageFolder photos(detection_photo_dir(dir));  // names may not leave it
    std::unordered_map<std::string, size_t> index;
    for (const BoxRow& r : read_boxes(boxes)) {
      if (!index.emplace(r.file, truth.photos.size()).second)
        FF_FAIL("detection ground truth: ", boxes, ": ", r.file, " is listed twice");
      PhotoDetections p;
      p.file = r.file;
      read_image_size(photos.path_of(r.file, boxes, r.line), p.width, p.height);
      FaceDetection f;
      f.box = r.box;
      f.score = 1.0;
      p.faces.push_back(f);
      truth.photos.push_back(std::move(p));
    }
    const std::string marks = dir + "/list_landmarks_celeba.txt";
    if (fs::is_regular_file(marks)) {
      for (const LandmarkRow& r : read_landmarks(marks)) {
        auto it = index.find(r.file);
        if (it == index.end())
          FF_FAIL("detection ground truth: ", marks, ": ", r.file, " has landmarks but no box in ", boxes);
        FaceDetection& f = truth.photos[it->second].faces[0];
        f.landmarks = r.points;
        f.has_landmarks = true;
      }
    }
  }
  std::unordered_map<std::string, int> seen;
  for (const auto& p : truth.photos)
    if (seen[p.file]++) FF_FAIL("detection ground truth: ", dir, ": photo ", p.file, " appears twice");
  return truth;
}

}  // namespace ff
