// models/detector.h — faceforge's face detector: a single-stage, anchor-free network in the
// spirit of CenterNet ("Objects as Points", Zhou et al. 2019): every face is a peak of a
// face-centre heatmap on a stride-4 grid, and at that peak the network regresses the box size,
// the centre's sub-cell offset and the five landmarks. One forward per photo at any input size
// (a multiple of 32 after padding, face/detector.h); no anchors, no cascade.
//
//   stage s = 1..5 (stride 2^s): conv3x3/2 (widths[s-1]) + BN + ReLU, then extra[s-1] x
//            (conv3x3/1 + BN + ReLU)                                          backbone
//   lateral s = 2..5: conv1x1 -> fpn channels (with bias)
//   p5 = lat5; p_s = lat_s + up2(p_{s+1}) (bilinear, align_corners false), s = 4, 3
//   n3 = conv3x3 fpn -> fpn + BN + ReLU on p3 (stride 8: the neck's 3x3 costs a quarter of what
//        it would at stride 4, where it was 30% of a 640x480 forward)
//   p2 = ReLU(lat2 + up2(n3))                                                 feature pyramid
//   heads (conv1x1 on p2): heatmap 1 (logits), size 2, offset 2, landmarks 10
//
// Outputs at cell (i, j) of the stride-4 grid, for a face centred there (input pixels; a box
// x, y, w, h has its centre at x + w / 2, y + h / 2):
//   heatmap   logit of "a face centre is in this cell"
//   size      log(w / 4), log(h / 4)
//   offset    centre / 4 - (j, i), in [0, 1)
//   landmarks (point - centre) / (w, h), x then y for each of the 5 points
// The heatmap bias starts at -log((1 - 0.01) / 0.01) (a prior of 1% faces, CenterNet's and
// RetinaNet's initialisation) so the focal loss starts near its background level.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "layers/basic.h"

namespace ff {

struct DetectorConfig {
  std::vector<int64_t> widths = {16, 24, 32, 64, 96};  // stages at strides 2, 4, 8, 16, 32
  std::vector<int> extra = {0, 0, 1, 1, 1};             // 3x3 convs after each stage's strided one
  int64_t fpn = 32;                                     // pyramid and head channels
  int64_t input_size = 160;                             // the training crops' side
  static DetectorConfig small() { return {}; }           // trains on 2 CPU cores in minutes
  static DetectorConfig named(const std::string& name);  // "small" or a str() string
  std::string str() const;  // "widths=16:24:32:64:96,extra=0:0:1:1:1,fpn=32,input=160"
  // Strict: every key known, every value a whole integer within its bounds (widths and fpn
  // 1..kMaxChannels, extra 0..kMaxExtra, input 32..kMaxInput and a multiple of 32), 5 stages;
  // ff::Error naming the string and the key otherwise.
  static DetectorConfig parse(const std::string& s);
  static constexpr int64_t kMaxChannels = 4096, kMaxExtra = 16, kMaxInput = 4096;
};

// The outputs of one forward, each [N, C, H/4, W/4].
struct DetectorOutput {
  Tensor heatmap;    // C = 1, logits
  Tensor size;       // C = 2
  Tensor offset;     // C = 2
  Tensor landmarks;  // C = 10
};

class FaceDetectorNet : public Module {
 public:
  FaceDetectorNet(const DetectorConfig& cfg, Rng& rng);
  // x [N, 3, H, W] with H and W multiples of 32.
  DetectorOutput forward_all(const Tensor& x);
  Tensor forward(const Tensor& x) override { return forward_all(x).heatmap; }
  const DetectorConfig& config() const { return cfg_; }
  static constexpr int kStride = 4;
  static constexpr int kAlign = 32;  // input sides must be multiples of this

 private:
  DetectorConfig cfg_;
  std::vector<std::shared_ptr<Sequential>> stages_;
  std::vector<std::shared_ptr<Conv2d>> lateral_;  // strides 4, 8, 16, 32
  std::shared_ptr<Sequential> neck_;
  std::shared_ptr<Conv2d> heatmap_, size_, offset_, landmarks_;
};

}  // namespace ff
