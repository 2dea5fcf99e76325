// models/mtcnn.h — MTCNN's three networks (Zhang et al. 2016) as facenet-pytorch 2.6.0 defines
// them (facenet_pytorch/models/mtcnn.py), with its state_dict names, so its trained weights load
// unchanged (tools/convert_mtcnn.py writes them, prefixed pnet. / rnet. / onet., into one file with
// metadata "model": "mtcnn"). The cascade that runs them is face/mtcnn.h.
//
//   P-Net (fully convolutional, any input >= 12x12; one output cell per 12x12 window, stride 2):
//     conv1 3->10 3x3, prelu1, pool1 2x2/2 ceil, conv2 10->16 3x3, prelu2, conv3 16->32 3x3,
//     prelu3; conv4_1 32->2 1x1 -> softmax over the 2 channels (face = channel 1),
//     conv4_2 32->4 1x1 (box regression)
//   R-Net (24x24 input): conv1 3->28 3x3, prelu1, pool1 3x3/2 ceil, conv2 28->48 3x3, prelu2,
//     pool2 3x3/2 ceil, conv3 48->64 2x2, prelu3 -> [N, 64, 3, 3], dense4 576->128, prelu4,
//     dense5_1 128->2 -> softmax, dense5_2 128->4
//   O-Net (48x48 input): conv1 3->32 3x3, prelu1, pool1 3x3/2 ceil, conv2 32->64 3x3, prelu2,
//     pool2 3x3/2 ceil, conv3 64->64 3x3, prelu3, pool3 2x2/2 ceil, conv4 64->128 2x2, prelu4
//     -> [N, 128, 3, 3], dense5 1152->256, prelu5, dense6_1 256->2 -> softmax, dense6_2 256->4,
//     dense6_3 256->10 (landmarks: five x then five y, relative to the box)
//
// The flatten before the dense layers: facenet permutes [N, C, H, W] to [N, W, H, C] (the
// original Caffe/TensorFlow weights' order) before flattening, so dense weight column
// (w * H + h) * C + c multiplies feature (c, h, w). Here the features are flattened in our
// [N, C, H, W] order and the dense layer uses a copy of its weight with the columns reordered to
// match (flat_dense_weight, made at each forward: 0.3 M floats at most, once per batch): the
// same products, with the file's tensors kept exactly as facenet stores them. The networks run
// on the CPU (the cascade between them is host code).
#pragma once
#include <memory>

#include "layers/basic.h"

namespace ff {

// Outputs of one forward. prob [N, 2] or [N, 2, h, w] (softmax: face probability at channel 1);
// reg [N, 4] or [N, 4, h, w]; landmarks [N, 10] (O-Net only).
struct MtcnnOutput {
  Tensor reg, prob, landmarks;
};

// softmax over dimension 1 of [N, 2, ...] (CPU float32), as torch.softmax computes it:
// exp(x - max) / sum.
Tensor mtcnn_softmax2(const Tensor& logits);

// [N, C, H, W] features of a dense layer's input in facenet's permuted order: the weight [out,
// C * H * W] whose column (c * H + h) * W + w is facenet's column (w * H + h) * C + c.
Tensor flat_dense_weight(const Tensor& w, int64_t c, int64_t h, int64_t wd);

class PNet : public Module {
 public:
  PNet();
  MtcnnOutput forward_all(const Tensor& x);  // x [N, 3, H, W], H, W >= 12
  Tensor forward(const Tensor& x) override { return forward_all(x).prob; }
  std::shared_ptr<Conv2d> conv1, conv2, conv3, conv4_1, conv4_2;
  std::shared_ptr<PReLU> prelu1, prelu2, prelu3;
};

class RNet : public Module {
 public:
  RNet();
  MtcnnOutput forward_all(const Tensor& x);  // x [N, 3, 24, 24]
  Tensor forward(const Tensor& x) override { return forward_all(x).prob; }
  std::shared_ptr<Conv2d> conv1, conv2, conv3;
  std::shared_ptr<PReLU> prelu1, prelu2, prelu3, prelu4;
  std::shared_ptr<Linear> dense4, dense5_1, dense5_2;
};

class ONet : public Module {
 public:
  ONet();
  MtcnnOutput forward_all(const Tensor& x);  // x [N, 3, 48, 48]
  Tensor forward(const Tensor& x) override { return forward_all(x).prob; }
  std::shared_ptr<Conv2d> conv1, conv2, conv3, conv4;
  std::shared_ptr<PReLU> prelu1, prelu2, prelu3, prelu4, prelu5;
  std::shared_ptr<Linear> dense5, dense6_1, dense6_2, dense6_3;
};

// The three networks under one module: pnet.*, rnet.*, onet.* (the converted file's names).
class MtcnnNets : public Module {
 public:
  MtcnnNets();
  std::shared_ptr<PNet> pnet;
  std::shared_ptr<RNet> rnet;
  std::shared_ptr<ONet> onet;
};

// Loads a file written by tools/convert_mtcnn.py (metadata "model" "mtcnn"; every tensor checked
// by name and shape). Throws an ff::Error naming the file otherwise.
std::shared_ptr<MtcnnNets> load_mtcnn(const std::string& path);

}  // namespace ff
