// models/detector.cpp — see detector.h.
#include "models/detector.h"

#include <cmath>
#include <sstream>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/parse.h"

namespace ff {

namespace {
std::string join(const std::vector<int64_t>& v) {
  std::ostringstream os;
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ":" : "") << v[i];
  return os.str();
}
std::string join(const std::vector<int>& v) { return join(std::vector<int64_t>(v.begin(), v.end())); }
// "16:24:32" -> {16, 24, 32}, each value a whole integer in [lo, hi]; at most 5 of them.
std::vector<int64_t> split(const std::string& v, const std::string& what, int64_t lo, int64_t hi) {
  std::vector<int64_t> out;
  size_t p = 0;
  while (true) {
    size_t colon = v.find(':', p);
    FF_CHECK(out.size() < 5, what, ": '", v, "' has more than 5 stages");
    out.push_back(parse_int(v.substr(p, colon == std::string::npos ? std::string::npos : colon - p), what, lo, hi));
    if (colon == std::string::npos) break;
    p = colon + 1;
  }
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

// Every value is checked against its range as it is read: the string may come from a file or
// the command line.
DetectorConfig DetectorConfig::parse(const std::string& s) {
  DetectorConfig c;
  for (const auto& [k, v] : config_entries(s, "detector")) {
    const std::string what = "detector config '" + s + "': " + k;
    if (k == "widths") c.widths = split(v, what, 1, kMaxChannels);
    else if (k == "extra") {
      auto e = split(v, what, 0, kMaxExtra);
      c.extra.assign(e.begin(), e.end());
    } else if (k == "fpn") c.fpn = parse_int(v, what, 1, kMaxChannels);
    else if (k == "input") c.input_size = parse_int(v, what, 32, kMaxInput);
    else FF_FAIL("detector config: unknown key '", k, "' in '", s, "' (expected widths, extra, fpn, input)");
  }
  FF_CHECK(c.widths.size() == 5 && c.extra.size() == 5, "detector config: widths and extra need 5 stages, got '", s,
           "'");
  FF_CHECK(c.input_size % 32 == 0, "detector config: input must be a multiple of 32, got '", s, "'");
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
