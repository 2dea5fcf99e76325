// models/hourglass.h — the stacked hourglass landmark network of the reference notebooks.
//
// Parameter and buffer names equal the PyTorch module's state_dict keys, so the notebooks'
// trained weights load unchanged (tools/convert_torch.py; tools/torch_models.py holds the same
// network in PyTorch for the parity tests). Default configuration = the notebooks' network:
//
//   init_conv = [0 conv7x7/2 3->64, 1 BN, 2 ReLU, 3 Residual 64->128, 4 maxpool 2x2,
//                5 Residual 128->128, 6 Residual 128->256]          256x256 -> 64x64
//   hgK       = Hourglass(256), K = 1..stacks
//   out_convK = conv1x1 256 -> landmarks                              heatmaps 64x64
//   mergeK    = [0 conv1x1 landmarks -> 256, 1 Residual 256 -> 256]  K = 1..stacks-1
//   forward: x = init_conv(x); for each stack K: h = hgK(x); o_K = out_convK(h);
//            x = mergeK(o_K) + h (before the next stack); returns every o_K.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "layers/basic.h"

namespace ff {

struct HourglassConfig {
  int64_t stem_channels = 64;   // after the 7x7 conv
  int64_t mid_channels = 128;   // residual stage before the hourglasses
  int64_t channels = 256;       // hourglass width
  int stacks = 2;
  int64_t landmarks = 5;
  int64_t input_size = 256;     // heatmaps are input_size / 4
  static HourglassConfig reference() { return {}; }
  // Small enough to train on two CPU cores in minutes.
  static HourglassConfig small() { return {16, 32, 64, 2, 5, 128}; }
  // Between the two (a benchmark size): 64 channels in every stage, 2 stacks, 128x128 input.
  static HourglassConfig mid() { return {64, 64, 64, 2, 5, 128}; }
  static HourglassConfig named(const std::string& name);  // "reference", "mid" or "small"
  std::string str() const;  // "stem=64,mid=128,channels=256,stacks=2,landmarks=5,input=256"
  // Strict: every key known, every value a whole integer within its bounds (below), input a
  // multiple of 32, mid and channels even; ff::Error naming the string and the key otherwise.
  static HourglassConfig parse(const std::string& s);
  static constexpr int64_t kMaxChannels = 4096, kMaxStacks = 16, kMaxLandmarks = 1024, kMaxInput = 4096;
};

// Residual(in, out): main path 1x1 conv (in -> out/2) + BN + ReLU, 3x3 conv (out/2 -> out/2) +
// BN + ReLU, 1x1 conv (out/2 -> out) + BN; skip = identity (in == out) or 1x1 conv with bias;
// output ReLU(main + skip). Every conv has a bias.
class Residual : public Module {
 public:
  Residual(int64_t in, int64_t out, Rng& rng);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<Conv2d> conv1_, conv2_, conv3_, skip_;
  std::shared_ptr<BatchNorm2d> bn1_, bn2_, bn3_;
};

// Hourglass(c): encoders enc1..enc4 and decoders de1..de4, all Residual(c, c):
//   e1 = enc1(x); e2 = enc2(pool(e1)); e3 = enc3(pool(e2)); e4 = enc4(e3)
//   d1 = resize(de1(up2(e4)), e3) + e3; d2 = resize(de2(up2(d1)), e2) + e2;
//   d3 = resize(de3(up2(d2)), e1) + e1; out = de4(d3)
// pool = maxpool 2x2/2; up2 = bilinear x2 (align_corners true); resize = bilinear to the skip's
// size (align_corners false).
class Hourglass : public Module {
 public:
  Hourglass(int64_t channels, Rng& rng);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<Residual> enc_[4], de_[4];
};

class StackedHourglass : public Module {
 public:
  StackedHourglass(const HourglassConfig& cfg, Rng& rng);
  // x [N, 3, S, S] -> one heatmap tensor [N, landmarks, S/4, S/4] per stack (last = final).
  std::vector<Tensor> forward_all(const Tensor& x);
  Tensor forward(const Tensor& x) override { return forward_all(x).back(); }
  const HourglassConfig& config() const { return cfg_; }

 private:
  HourglassConfig cfg_;
  std::shared_ptr<Sequential> init_conv_;
  std::vector<std::shared_ptr<Hourglass>> hg_;
  std::vector<std::shared_ptr<Conv2d>> out_conv_;
  std::vector<std::shared_ptr<Sequential>> merge_;
};

}  // namespace ff
