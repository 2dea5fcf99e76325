// models/detector.cpp — see detector.h.
#include "models/detector.h"

#include <cmath>
#include <sstream>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace ff {

namespace {
std::string join(const std::vector<int64_t>& v) {
  std::ostringstream os;
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ":" : "") << v[i];
  return os.str();
}
std::string join(const std::vector<int>& v) { return join(std::vector<int64_t>(v.begin(), v.end())); }
std::vector<int64_t> split(const std::string& v) {
  std::vector<int64_t> out;
  std::istringstream is(v);
  std::string x;
  while (std::getline(is, x, ':')) out.push_back(std::stoll(x));
  return out;
}

void conv_bn_relu(Sequential& seq, int64_t in, int64_t out, int stride, Rng& rng) {
  seq.add(std::make_shared<Conv2d>(in, out, 3, stride, 1, false, rng));
  seq.add(std::make_shared<BatchNorm2d>(out));
  seq.add(std::make_shared<ReLU>());

}
}  // namespace

DetectorConfig DetectorConfig::named(const std::string& name) {
  if (name == "small") return small();
  FF_CHECK(name.find('=') != std::string::npos, "detector config: unknown name '", name,
           "' (expected small or a string like ", small().str(), ")");
  return parse(name);
}

std::string DetectorConfig::str() const {
  std::ostringstream os;
  os << "widths=" << join(widths) << ",extra=" << join(extra) << ",fpn=" << fpn << ",input=" << input_size;
  return os.str();
}

DetectorConfig DetectorConfig::parse(const std::string& s) {
  DetectorConfig c;
  std::istringstream is(s);
  std::string kv;
  while (std::getline(is, kv, ',')) {
    auto eq = kv.find('=');
    FF_CHECK(eq != std::string::npos, "detector config: bad entry '", kv, "' in '", s, "'");
    std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
    if (k == "widths") c.widths = split(v);
    else if (k == "extra") {
      auto e = split(v);
      c.extra.assign(e.begin(), e.end());
    } else if (k == "fpn") c.fpn = std::stoll(v);
    else if (k == "input") c.input_size = std::stoll(v);
    else FF_FAIL("detector config: unknown key '", k, "' in '", s, "'");
  }
  FF_CHECK(c.widths.size() == 5 && c.extra.size() == 5, "detector config: widths and extra need 5 stages, got '", s,
           "'");
  for (auto w : c.widths) FF_CHECK(w >= 1, "detector config: every width must be >= 1, got '", s, "'");
  for (auto e : c.extra) FF_CHECK(e >= 0, "detector config: extra convs must be >= 0, got '", s, "'");
  FF_CHECK(c.fpn >= 1, "detector config: fpn must be >= 1, got '", s, "'");
  FF_CHECK(c.input_size >= 32 && c.input_size % 32 == 0, "detector config: input must be a multiple of 32, got '", s,
           "'");
  return c;
}

FaceDetectorNet::FaceDetectorNet(const DetectorConfig& cfg, Rng& rng) : cfg_(cfg) {
  int64_t in = 3;
  for (int s = 0; s < 5; ++s) {
    auto seq = std::make_shared<Sequential>();
    conv_bn_relu(*seq, in, cfg.widths[s], 2, rng);
    for (int e = 0; e < cfg.extra[s]; ++e) conv_bn_relu(*seq, cfg.widths[s], cfg.widths[s], 1, rng);
    stages_.push_back(register_module("stage" + std::to_string(s + 1), seq));
    in = cfg.widths[s];
  }
  for (int s = 1; s < 5; ++s)
    lateral_.push_back(register_module("lateral" + std::to_string(s + 1),
                                       std::make_shared<Conv2d>(cfg.widths[s], cfg.fpn, 1, 1, 0, true, rng)));
  neck_ = std::make_shared<Sequential>();
  conv_bn_relu(*neck_, cfg.fpn, cfg.fpn, 1, rng);
  register_module("neck", neck_);
  heatmap_ = register_module("heatmap", std::make_shared<Conv2d>(cfg.fpn, 1, 1, 1, 0, true, rng));
  size_ = register_module("size", std::make_shared<Conv2d>(cfg.fpn, 2, 1, 1, 0, true, rng));
  offset_ = register_module("offset", std::make_shared<Conv2d>(cfg.fpn, 2, 1, 1, 0, true, rng));
  landmarks_ = register_module("landmarks", std::make_shared<Conv2d>(cfg.fpn, 10, 1, 1, 0, true, rng));
  NoGradGuard no_grad;
  fill_(*heatmap_->bias(), -std::log((1 - 0.01) / 0.01));
}

DetectorOutput FaceDetectorNet::forward_all(const Tensor& x) {
  FF_CHECK(x.dim() == 4 && x.size(1) == 3, "FaceDetectorNet: input must be [N, 3, H, W], got ", x.str());
  FF_CHECK(x.size(2) % kAlign == 0 && x.size(3) % kAlign == 0 && x.size(2) > 0 && x.size(3) > 0,
           "FaceDetectorNet: input height and width must be positive multiples of ", kAlign, ", got ", x.str());
  std::vector<Tensor> feats;
  Tensor h = x;
  for (auto& st : stages_) {
    h = st->forward(h);
    feats.push_back(h);
  }
  Tensor p = lateral_[3]->forward(feats[4]);
  for (int s = 3; s >= 2; --s) {
    Tensor lat = lateral_[s - 1]->forward(feats[s]);
    p = add(lat, upsample_bilinear2d(p, lat.size(2), lat.size(3), false));
  }
  Tensor n3 = neck_->forward(p);
  Tensor lat2 = lateral_[0]->forward(feats[1]);
  Tensor n = relu(add(lat2, upsample_bilinear2d(n3, lat2.size(2), lat2.size(3), false)));
  return DetectorOutput{heatmap_->forward(n), size_->forward(n), offset_->forward(n), landmarks_->forward(n)};
}

}  // namespace ff
