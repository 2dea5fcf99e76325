// face/detector.h — faceforge's own face detector (models/detector.h) as a task: the training
// targets of a sample, the decoding of the network's outputs into faces, the FaceDetector that
// runs it on photos (face/detect.h), and train-detector.
//
// Targets, on the stride-4 grid of a sample (H/4 x W/4 cells), for each face with box x, y, w, h
// (centre c = (x + w/2, y + h/2)) in the cell (i, j) = floor(c / 4):
//   heatmap    a Gaussian of sigma = max(0.6, 0.54 * sqrt(w h) / 4 / 6) cells around c / 4
//              (TTFNet's box-proportional spread), the maximum over faces; exactly 1 in the
//              centre cell, where the focal loss counts the face as a positive
//   size       log(w / 4), log(h / 4)                          at the centre cell
//   offset     c / 4 - (j, i)                                  at the centre cell
//   landmarks  (p - c) / (w, h)                                at the centre cell, when known
//   box_mask   1 at the centre cell;  landmark_mask  1 there when the face has landmarks
// Two faces in one cell: the larger keeps the cell's regression targets.
// Loss = focal_loss(heatmap) + masked L1 of size and offset (box_mask) + landmark_weight * masked
// L1 of the landmarks (landmark_mask) (engine/ops.h).
// Decoding: sigmoid of the heatmap; a cell is a peak when it is the maximum of its 3x3
// neighbourhood and at least the score threshold; each peak gives a box and five points from the
// regressions at that cell; then non-maximum suppression at DetectOptions::nms_iou.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/detections.h"
#include "data/image.h"
#include "engine/tensor.h"
#include "face/detect.h"
#include "models/detector.h"
#include "models/factory.h"
#include "train/fit.h"

namespace ff {

// Target channels of one sample: [kTargetChannels, H / 4, W / 4].
enum DetectorTarget : int {
  kTargetHeatmap = 0, kTargetSize = 1, kTargetOffset = 3, kTargetLandmarks = 5, kTargetBoxMask = 15,
  kTargetLandmarkMask = 16, kTargetChannels = 17
};
// The targets of faces (input pixels) for a sample of height x width (multiples of 4). `ignored`
// faces (visible but too small or cut, data/detect_sample.h) are neither faces nor background:
// the heatmap target is 0.9999 over the cells their box covers (not a positive, and the focal
// loss's negative weight (1 - t)^4 = 1e-16 there), and nothing is regressed.
Tensor render_detector_targets(const std::vector<FaceDetection>& faces, int64_t height, int64_t width,
                               const std::vector<FaceDetection>& ignored = {});

// Faces from one image's outputs (CPU float32 [1, C, Ho, Wo] each, the heatmap as logits).
// scale: input pixels -> photo pixels (the photo was resized by 1 / scale before the network).
std::vector<FaceDetection> decode_detector_output(const DetectorOutput& out, double scale, int photo_width,
                                                  int photo_height, const DetectOptions& options);

// The network input for a photo: RGB scaled by 1 / scale (scale >= 1 when the longer side exceeds
// max_side), ImageNet-normalised, padded with zeros (the mean colour) to multiples of 32.
// [1, 3, H, W] float32 on the CPU.
Tensor detector_input(const Image& photo, int max_side, double* scale);

class OurFaceDetector : public FaceDetector {
 public:
  OurFaceDetector(const std::string& path, const DetectOptions& options);
  std::vector<FaceDetection> detect(const Image& photo) override;
  std::string name() const override { return "faceforge-detector (" + path_ + ")"; }
  int max_side = 320;  // photos whose longer side exceeds this are downscaled first (options.input_side)

 private:
  std::string path_;
  LoadedModel loaded_;
};
std::unique_ptr<FaceDetector> load_our_detector(const std::string& path, const DetectOptions& options);

// ---------------------------------------------------------------- training
struct DetectorTrainOptions {
  std::string data;            // a CelebA-format folder or one with faces.json (data/detect_sample.h)
  std::string out;             // the run folder
  std::string config;          // "small" (default) or a DetectorConfig::str() string
  int64_t batch = 32;
  double lr = 2e-3;            // Adam
  double landmark_weight = 1.0;
  int workers = 2;
  uint64_t seed = 1;
  bool resume = false;
  int64_t max_images = -1;     // training photos used (-1: all)
  int64_t max_val_images = 200;
  std::string device = "cpu";
  FitOptions fit;
};
struct DetectorTrainResult {
  std::string best, last;      // model files
  double best_ap50 = 0;        // validation AP at IoU 0.5
  int64_t steps = 0;
  double seconds = 0, images_per_s = 0;
};
DetectorTrainResult train_detector(const DetectorTrainOptions& options);

}  // namespace ff
