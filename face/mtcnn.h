// face/mtcnn.h — facenet-pytorch's MTCNN cascade on the engine: the FaceDetector behind
// `--detector mtcnn.safetensors` (scripts/mtcnn_weights.sh writes the file; the networks are
// models/mtcnn.h). It follows facenet_pytorch/models/utils/detect_face.py detect_face() (2.6.0)
// step by step, in float32 where it computes in float32, so its faces match facenet's
// (tests/test_mtcnn.cpp, against tools/make_mtcnn_reference.py):
//
//   pyramid    scales 12 / min_face * 0.709^k while min(H, W) * scale >= 12
//   stage 1    per scale: the photo area-resized (F.interpolate mode "area" = adaptive average
//              pooling) to int(H s + 1) x int(W s + 1), normalised (v - 127.5) * 0.0078125,
//              P-Net; every cell with face probability >= 0.6 gives the 12x12 window at
//              floor((2 cell + 1) / s), floor((2 cell + 12) / s); NMS 0.5 per scale, then NMS
//              0.7 over all scales; calibrated by the regression (x + r w, w = x2 - x1); squared
//              (rerec: the longer side about the centre)
//   stage 2    each box, truncated to integers and clipped to the photo (pad()), cut out with
//              facenet's 1-based indexing (rows y - 1 .. ey - 1), area-resized to 24x24, R-Net;
//              kept above 0.7; NMS 0.7; calibrated (bbreg: w = x2 - x1 + 1); squared
//   stage 3    the same crops at 48x48, O-Net; kept above 0.7; the five points from O-Net's
//              outputs (x1 + w p - 1 with w = x2 - x1 + 1); calibrated; NMS "Min" 0.7 (overlap
//              over the smaller area, facenet's numpy version)
// NMS as torchvision.ops.nms (areas without +1, suppressed when IoU > t, scores sorted
// descending, stable) in stages 1 and 2, and as facenet's nms_numpy (areas with +1, kept when
// IoM <= t, the highest score taken from the end of an ascending sort) in stage 3.
//
// Boxes come out as facenet's (x1, y1, x2, y2) -> FaceBox (x1, y1, x2 - x1, y2 - y1), the five
// points in O-Net's order (the image's left eye, right eye, nose, left and right mouth corner).
// Thresholds 0.6 / 0.7 / 0.7, min_face 20 (DetectOptions::min_face), factor 0.709: facenet's
// defaults; DetectOptions::score_threshold replaces the O-Net threshold only when the caller
// set it (>= 0); otherwise (< 0, the default) the detector's options.score_threshold is set to
// facenet's 0.7. A box whose crop is empty (entirely outside the
// photo) is dropped (facenet would fail on it: its crop list and its boxes would disagree).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "data/detections.h"
#include "data/image.h"
#include "face/detect.h"
#include "models/mtcnn.h"

namespace ff {

struct MtcnnParams {
  int min_face = 20;
  double factor = 0.709;
  double thresholds[3] = {0.6, 0.7, 0.7};
};

// What each stage kept, for tracing a difference to its stage (tools/make_mtcnn_reference.py
// --trace prints facenet's).
struct MtcnnTrace {
  std::vector<double> scales;
  std::vector<int> pnet_cells;  // per scale: cells at or above the P-Net threshold
  std::vector<int> pnet_kept;   // per scale: after its NMS 0.5
  int stage1 = 0;               // after the NMS 0.7 over all scales
  int stage2 = 0;               // after R-Net's threshold and NMS
  int rnet_passed = 0;          // R-Net above threshold, before its NMS
  int onet_passed = 0;          // O-Net above threshold, before the final NMS
  int stage3 = 0;               // the faces
};

// The cascade on one RGB photo; faces in the final NMS's order (highest score first).
std::vector<FaceDetection> mtcnn_detect(MtcnnNets& nets, const Image& photo, const MtcnnParams& params,
                                        MtcnnTrace* trace = nullptr);

// F.interpolate(x, size=(oh, ow), mode="area") of the photo's region rows [y0, y1), columns
// [x0, x1), then (v - 127.5) * 0.0078125, written as [3, oh, ow] float32 to out. Exactly
// PyTorch's adaptive average pool: window rows floor(i h / oh) .. ceil((i + 1) h / oh), the sum
// (exact: integers) divided by the window's height, then by its width, in float32.
void mtcnn_area_resize(const Image& photo, int x0, int y0, int x1, int y1, int oh, int ow, float* out);

class MtcnnDetector : public FaceDetector {
 public:
  MtcnnDetector(const std::string& path, const DetectOptions& options);
  std::vector<FaceDetection> detect(const Image& photo) override;
  std::string name() const override { return "mtcnn (" + path_ + ")"; }
  MtcnnParams params() const;  // facenet's defaults, with options' min_face and explicit threshold

 private:
  std::string path_;
  std::shared_ptr<MtcnnNets> nets_;
};

}  // namespace ff
