// models/resnet.h — torchvision's ResNet50 (v1.5: the stride sits on the 3x3 conv of the
// bottleneck) with torchvision's state_dict names, and the face-embedding network built on it.
//
//   conv1 7x7/2 (no bias) -> bn1 -> relu -> maxpool 3x3/2 pad 1
//   layer1..layer4: [3, 4, 6, 3] Bottlenecks of width 64, 128, 256, 512 (x width multiplier),
//   expansion 4; the first block of layers 2-4 has stride 2; downsample = [0 conv1x1, 1 BN]
//   -> global average pool -> [N, 2048] (-> fc when classes > 0)
// Any input size works (the pool is adaptive); small configurations use a width multiplier.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "layers/basic.h"

namespace ff {

struct ResNetConfig {
  double width = 1.0;                    // channel multiplier (0.25 -> 16, 32, 64, 128 wide)
  std::vector<int> blocks = {3, 4, 6, 3};
  int64_t classes = 0;                   // > 0 adds torchvision's fc layer
  int64_t input_size = 112;              // for documentation / checkpoints; any size runs
  int64_t base() const { return static_cast<int64_t>(64 * width + 0.5); }
  int64_t feature_dim() const { return base() * 8 * 4; }  // 2048 at width 1
  std::string str() const;
  // Strict: every key known, every value a whole number within its bounds (below), 4 stages of
  // blocks; ff::Error naming the string and the key otherwise.
  static ResNetConfig parse(const std::string& s);
  static constexpr double kMaxWidth = 16;             // 1024 stem channels, 32768 features
  static constexpr int64_t kMaxBlocks = 64;           // per stage
  static constexpr int64_t kMaxClasses = 10000000;
  static constexpr int64_t kMinInput = 8, kMaxInput = 4096;
};

class Bottleneck : public Module {
 public:
  Bottleneck(int64_t in, int64_t width, int stride, bool downsample, Rng& rng);
  Tensor forward(const Tensor& x) override;
  static constexpr int64_t kExpansion = 4;

 private:
  std::shared_ptr<Conv2d> conv1_, conv2_, conv3_;
  std::shared_ptr<BatchNorm2d> bn1_, bn2_, bn3_;
  std::shared_ptr<Sequential> downsample_;
};

class ResNet : public Module {
 public:
  ResNet(const ResNetConfig& cfg, Rng& rng);
  // x [N, 3, H, W] -> pooled features [N, feature_dim] (before fc).
  Tensor features(const Tensor& x);
  // features, then fc when the config has classes.
  Tensor forward(const Tensor& x) override;
  const ResNetConfig& config() const { return cfg_; }

 private:
  ResNetConfig cfg_;
  std::shared_ptr<Conv2d> conv1_;
  std::shared_ptr<BatchNorm2d> bn1_;
  std::shared_ptr<Sequential> layers_[4];
  std::shared_ptr<Linear> fc_;
};

// The embedding network of the notebooks: backbone (ResNet without fc) -> embedding_layer =
// [0 dropout(p), 1 linear feature_dim -> embedding_dim (, 2 batch norm when cfg.bn)]. Names: backbone.conv1.weight, ...,
// embedding_layer.1.weight.
struct EmbeddingConfig {
  ResNetConfig resnet;
  int64_t embedding_dim = 512;
  double dropout = 0.7;
  // BatchNorm1d after the linear layer (embedding_layer.2, ArcFace's "BN-Dropout-FC-BN" output):
  // removes the component all embeddings share, without which no cosine threshold separates
  // pairs (docs/design.md section 6). false for the notebooks' network (their weights load
  // unchanged), true for the small configuration. Config string key "bn" (0/1; absent = 0).
  bool bn = false;
  static EmbeddingConfig reference() { return {}; }
  static EmbeddingConfig small();  // width 0.25, blocks [1, 1, 1, 1], 64x64 input, 128-d embedding, bn
  // The mission's network at the size a CPU trains: ResNet50's full depth (3-4-6-3 bottlenecks) at
  // width 0.25, 112x112 input, the 512-d embedding with its batch norm, the reference dropout.
  static EmbeddingConfig cpu();
  static EmbeddingConfig named(const std::string& name);  // "reference", "cpu", "small" or a str() string
  std::string str() const;
  // ResNetConfig::parse's keys and rules, plus embedding (1..kMaxEmbedding), dropout ([0, 1)), bn (0/1).
  static EmbeddingConfig parse(const std::string& s);
  static constexpr int64_t kMaxEmbedding = 8192;
};

class EmbeddingNet : public Module {
 public:
  EmbeddingNet(const EmbeddingConfig& cfg, Rng& rng);
  // x [N, 3, H, W] -> embedding [N, embedding_dim] (not normalised).
  Tensor forward(const Tensor& x) override;
  ResNet& backbone() { return *backbone_; }
  const EmbeddingConfig& config() const { return cfg_; }
  // The generator of the dropout masks (a trainer reseeds it per step so a resumed run repeats).
  Rng& dropout_rng() { return dropout_rng_; }

 private:
  EmbeddingConfig cfg_;
  Rng dropout_rng_;
  std::shared_ptr<ResNet> backbone_;
  std::shared_ptr<Sequential> head_;
};

}  // namespace ff
