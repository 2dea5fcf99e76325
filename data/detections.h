// data/detections.h — what every face detector returns (ours, MTCNN on the engine, and the
// baselines' saved outputs), the box arithmetic they share (IoU, non-maximum suppression), and
// the detections file that `faceforge detect` writes and `faceforge eval-detector` reads.
//
// Coordinates are photo pixels, pixel centres at integers (data/image.h); a box is CelebA's
// x_1 y_1 width height (data/celeba.h's FaceBox), its area width * height (no "+1").
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/celeba.h"

namespace ff {

struct FaceDetection {
  FaceBox box;                 // photo pixels
  double score = 0;            // the detector's confidence in [0, 1] (higher: more sure)
  bool has_landmarks = false;  // false for detectors without points (Haar, HOG)
  Landmarks5 landmarks{};      // photo pixels, CelebA's order (data/celeba.h)
};

// Intersection over union of two boxes; 0 when either is empty.
double box_iou(const FaceBox& a, const FaceBox& b);
// Intersection over the smaller area (MTCNN's "Min" suppression); 0 when either is empty.
double box_iom(const FaceBox& a, const FaceBox& b);

enum class NmsMode { Union, Min };
// Greedy non-maximum suppression: indices of the kept detections, highest score first; a
// detection is dropped when its overlap (IoU, or IoM) with a kept one is greater than
// `threshold` (torchvision.ops.nms's rule: strictly greater). Ties in score keep the earlier index.
std::vector<int64_t> nms(const std::vector<FaceDetection>& dets, double threshold, NmsMode mode = NmsMode::Union);
// The same on plain boxes and scores (MTCNN works on arrays).
std::vector<int64_t> nms(const std::vector<FaceBox>& boxes, const std::vector<double>& scores, double threshold,
                         NmsMode mode = NmsMode::Union);

// The detections of one photo, as a detections file records them.
struct PhotoDetections {
  std::string file;            // the photo's file name, as given to the detector (no folder)
  int width = 0, height = 0;   // the photo's size in pixels
  double ms = 0;               // detection time of this photo in milliseconds (decoding excluded); 0: unknown
  std::vector<FaceDetection> faces;  // highest score first
};

// The detections file (JSON):
//   {"format": "faceforge-detections-1", "detector": "<what ran>",
//    "photos": [{"file": "000001.jpg", "width": 640, "height": 480, "ms": 12.5,
//                "faces": [{"box": [x, y, w, h], "score": 0.98,
//                           "landmarks": [[x, y] x 5]   (absent when the detector has none)}]}]}
// Written atomically (a temporary file renamed into place). read_detections throws an ff::Error
// naming the file (and the photo entry) for anything else.
struct DetectionsFile {
  std::string detector;
  std::vector<PhotoDetections> photos;
};
void write_detections(const std::string& path, const DetectionsFile& file);
DetectionsFile read_detections(const std::string& path);
// One CSV row per face: file,face,score,x,y,w,h,lex,ley,rex,rey,nx,ny,lmx,lmy,rmx,rmy (landmark
// columns empty for detectors without points); a photo with no face gets one row with face = -1.
void write_detections_csv(const std::string& path, const DetectionsFile& file);

}  // namespace ff
