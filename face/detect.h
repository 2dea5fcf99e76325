// face/detect.h — one interface for every face detector the pipeline can run on the engine:
// ours (face/detector.h: the anchor-free CenterNet-style network of models/detector.h) and the
// seed notebooks' MTCNN (face/mtcnn.h: P-Net, R-Net, O-Net converted from facenet-pytorch by
// tools/convert_mtcnn.py). `--detector FILE` anywhere picks the file; its metadata says which.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "data/detections.h"
#include "data/image.h"

namespace ff {

struct DetectOptions {
  // Faces scoring below are not reported; < 0: the detector's own default (ours: the one its file
  // records, the best F1 on its validation samples, else 0.5; MTCNN: its O-Net threshold, 0.7).
  double score_threshold = -1;
  double nms_iou = 0.4;          // suppression of overlapping boxes (ours; MTCNN keeps its own cascade's)
  int min_face = 20;             // the smallest face side in pixels the detector looks for
  int max_faces = 100;           // at most this many, highest scores first
  int input_side = 0;            // ours: a photo's longer side is scaled down to this first (0: the
                                 // file's default, twice its training crop: the face sizes it learnt)
};

class FaceDetector {
 public:
  virtual ~FaceDetector() = default;
  // The faces of one RGB photo, highest score first, in photo pixels. Never throws for a photo
  // without faces (an empty list); throws ff::Error for a photo it cannot take (0 x 0).
  virtual std::vector<FaceDetection> detect(const Image& photo) = 0;
  virtual std::string name() const = 0;  // "faceforge-detector (FILE)", "mtcnn (FILE)"
  DetectOptions options;
};

// Opens a detector file: one of train-detector's checkpoints (metadata "model" "detector") or a
// converted MTCNN (metadata "model" "mtcnn"). Throws a one-line error naming the file otherwise.
std::unique_ptr<FaceDetector> load_detector(const std::string& path, const DetectOptions& options = {});

// The detector file used when --detector is not given: the demo's
// (demo_out/detector/best.safetensors). Throws, saying how to get one, when it does not exist.
std::string default_detector_model();

}  // namespace ff
