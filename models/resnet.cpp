// models/resnet.cpp — see resnet.h.
#include "models/resnet.h"

#include <sstream>

#include "engine/parse.h"

namespace ff {

Bottleneck::Bottleneck(int64_t in, int64_t width, int stride, bool downsample, Rng& rng) {
  int64_t out = width * kExpansion;
  conv1_ = register_module("conv1", std::make_shared<Conv2d>(in, width, 1, 1, 0, false, rng));
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(width));
  conv2_ = register_module("conv2", std::make_shared<Conv2d>(width, width, 3, stride, 1, false, rng));
  bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(width));
  conv3_ = register_module("conv3", std::make_shared<Conv2d>(width, out, 1, 1, 0, false, rng));
  bn3_ = register_module("bn3", std::make_shared<BatchNorm2d>(out));
  if (downsample) {
    downsample_ = register_module("downsample", std::make_shared<Sequential>());
    downsample_->add(std::make_shared<Conv2d>(in, out, 1, stride, 0, false, rng));
    downsample_->add(std::make_shared<BatchNorm2d>(out));
  }
}

Tensor Bottleneck::forward(const Tensor& x) {
  Tensor h = conv_bn(*conv1_, *bn1_, x, true);
  h = conv_bn(*conv2_, *bn2_, h, true);
  h = conv_bn(*conv3_, *bn3_, h, false);
  return relu(add(h, downsample_ ? downsample_->forward(x) : x));
}

std::string ResNetConfig::str() const {
  std::ostringstream os;
  os << "width=" << width << ",blocks=";
  for (size_t i = 0; i < blocks.size(); ++i) os << (i ? ":" : "") << blocks[i];
  os << ",classes=" << classes << ",input=" << input_size;
  return os.str();
}

// Every value is checked against its range as it is read, before any arithmetic on it (base()
// computes 64 * width + 0.5): the string may come from a file or the command line.
ResNetConfig ResNetConfig::parse(const std::string& s) {
  ResNetConfig c;
  for (const auto& [k, v] : config_entries(s, "resnet")) {
    const std::string what = "resnet config '" + s + "': " + k;
    if (k == "width") c.width = parse_number(v, what, 0, kMaxWidth);
    else if (k == "classes") c.classes = parse_int(v, what, 0, kMaxClasses);
    else if (k == "input") c.input_size = parse_int(v, what, kMinInput, kMaxInput);
    else if (k == "blocks") {
      c.blocks.clear();
      size_t p = 0;
      while (true) {
        size_t colon = v.find(':', p);
        std::string b = v.substr(p, colon == std::string::npos ? std::string::npos : colon - p);
        FF_CHECK(c.blocks.size() < 4, "resnet config: blocks '", v, "' in '", s, "' has more than 4 stages");
        c.blocks.push_back(static_cast<int>(parse_int(b, what, 1, kMaxBlocks)));
        if (colon == std::string::npos) break;
        p = colon + 1;
      }
    } else {
      FF_FAIL("resnet config: unknown key '", k, "' in '", s, "' (expected width, blocks, classes, input)");
    }
  }
  FF_CHECK(c.blocks.size() == 4, "resnet config: blocks needs 4 stages (like 3:4:6:3), got '", s, "'");
  FF_CHECK(c.width > 0 && c.base() >= 1, "resnet config: width ", c.width, " in '", s,
           "' makes no channel (64 * width rounds to 0; allowed ", 1.0 / 128, "..", kMaxWidth, ")");
  return c;
}

ResNet::ResNet(const ResNetConfig& cfg, Rng& rng) : cfg_(cfg) {
  int64_t base = cfg.base();
  conv1_ = register_module("conv1", std::make_shared<Conv2d>(3, base, 7, 2, 3, false, rng));
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(base));
  int64_t in = base;
  for (int s = 0; s < 4; ++s) {
    int64_t width = base << s;
    layers_[s] = register_module("layer" + std::to_string(s + 1), std::make_shared<Sequential>());
    for (int b = 0; b < cfg.blocks[s]; ++b) {
      int stride = (b == 0 && s > 0) ? 2 : 1;
      bool down = b == 0 && (stride != 1 || in != width * Bottleneck::kExpansion);
      layers_[s]->add(std::make_shared<Bottleneck>(in, width, stride, down, rng));
      in = width * Bottleneck::kExpansion;
    }
  }
  if (cfg.classes > 0) fc_ = register_module("fc", std::make_shared<Linear>(in, cfg.classes, true, rng));
  // torchvision's initialisation: kaiming_normal (fan_out, relu) for convs; BN weight 1, bias 0.
  for (auto& [name, t] : named_parameters())
    if (t->dim() == 4) {
      Tensor w = t->detach();
      kaiming_normal_fan_out_(w, rng);
    }
}

Tensor ResNet::features(const Tensor& x) {
  FF_CHECK(x.dim() == 4 && x.size(1) == 3, "ResNet: input must be [N, 3, H, W], got ", x.str());
  Tensor h = max_pool2d(conv_bn(*conv1_, *bn1_, x, true), 3, 2, 1);
  for (auto& l : layers_) h = l->forward(h);
  return flatten(adaptive_avg_pool2d_1x1(h), 1);
}

Tensor ResNet::forward(const Tensor& x) {
  Tensor f = features(x);
  return fc_ ? fc_->forward(f) : f;
}

EmbeddingConfig EmbeddingConfig::small() {
  EmbeddingConfig c;
  c.resnet.width = 0.25;
  c.resnet.blocks = {1, 1, 1, 1};
  c.resnet.input_size = 64;
  c.embedding_dim = 128;
  c.dropout = 0.2;
  c.bn = true;
  return c;
}

EmbeddingConfig EmbeddingConfig::cpu() {
  EmbeddingConfig c;
  c.resnet.width = 0.25;
  c.resnet.input_size = 112;
  c.bn = true;
  return c;
}

EmbeddingConfig EmbeddingConfig::named(const std::string& name) {
  if (name == "reference") return reference();
  if (name == "small") return small();
  if (name == "cpu") return cpu();
  if (name.find('=') != std::string::npos) return parse(name);
  FF_FAIL("unknown embedding configuration '", name, "' (expected reference, cpu, small or a config string like ",
          small().str(), ")");
}

std::string EmbeddingConfig::str() const {
  std::ostringstream os;
  os << resnet.str() << ",embedding=" << embedding_dim << ",dropout=" << dropout;
  if (bn) os << ",bn=1";
  return os.str();
}

EmbeddingConfig EmbeddingConfig::parse(const std::string& s) {
  EmbeddingConfig c;
  std::string rest;
  // Its own keys here; the rest is the backbone's (ResNetConfig::parse). config_entries refuses
  // empty entries and keys given twice over the whole string.
  for (const auto& [k, v] : config_entries(s, "embedding")) {
    const std::string what = "embedding config '" + s + "': " + k;
    if (k == "embedding") c.embedding_dim = parse_int(v, what, 1, kMaxEmbedding);
    else if (k == "dropout") c.dropout = parse_number(v, what, 0, 1);
    else if (k == "bn") c.bn = parse_int(v, what, 0, 1) == 1;
    else rest += (rest.empty() ? "" : ",") + k + "=" + v;
  }
  c.resnet = ResNetConfig::parse(rest);
  FF_CHECK(c.dropout < 1, "embedding config: dropout must be below 1 (allowed 0 <= dropout < 1), got '", s, "'");
  return c;
}

EmbeddingNet::EmbeddingNet(const EmbeddingConfig& cfg, Rng& rng) : cfg_(cfg), dropout_rng_(rng.next_u32()) {
  ResNetConfig rc = cfg.resnet;
  rc.classes = 0;
  backbone_ = register_module("backbone", std::make_shared<ResNet>(rc, rng));
  head_ = register_module("embedding_layer", std::make_shared<Sequential>());
  head_->add(std::make_shared<Dropout>(cfg.dropout, dropout_rng_));
  head_->add(std::make_shared<Linear>(rc.feature_dim(), cfg.embedding_dim, true, rng));
  if (cfg.bn) head_->add(std::make_shared<BatchNorm1d>(cfg.embedding_dim));
}

Tensor EmbeddingNet::forward(const Tensor& x) { return head_->forward(backbone_->features(x)); }

}  // namespace ff
