// models/hourglass.cpp — see hourglass.h.
#include "models/hourglass.h"

#include <sstream>

#include "engine/parse.h"

namespace ff {

HourglassConfig HourglassConfig::named(const std::string& name) {
  if (name == "reference") return reference();
  if (name == "small") return small();
  if (name == "mid") return mid();
  FF_FAIL("unknown hourglass configuration '", name, "' (expected reference, mid or small)");
}

std::string HourglassConfig::str() const {
  std::ostringstream os;
  os << "stem=" << stem_channels << ",mid=" << mid_channels << ",channels=" << channels << ",stacks=" << stacks
     << ",landmarks=" << landmarks << ",input=" << input_size;
  return os.str();
}

// Every value is checked against its range as it is read, before any arithmetic on it: the
// string may come from a file (a model's metadata) or the command line.
HourglassConfig HourglassConfig::parse(const std::string& s) {
  HourglassConfig c;
  for (const auto& [k, v] : config_entries(s, "hourglass")) {
    const std::string what = "hourglass config '" + s + "': " + k;
    if (k == "stem") c.stem_channels = parse_int(v, what, 1, kMaxChannels);
    else if (k == "mid") c.mid_channels = parse_int(v, what, 2, kMaxChannels);
    else if (k == "channels") c.channels = parse_int(v, what, 2, kMaxChannels);
    else if (k == "stacks") c.stacks = static_cast<int>(parse_int(v, what, 1, kMaxStacks));
    else if (k == "landmarks") c.landmarks = parse_int(v, what, 1, kMaxLandmarks);
    else if (k == "input") c.input_size = parse_int(v, what, 32, kMaxInput);
    else FF_FAIL("hourglass config: unknown key '", k, "' in '", s, "' (expected stem, mid, channels, stacks, landmarks, input)");
  }
  FF_CHECK(c.input_size % 32 == 0 && c.channels % 2 == 0 && c.mid_channels % 2 == 0, "hourglass config: invalid '", s,
           "' (input a multiple of 32, mid and channels even)");
  return c;
}

Residual::Residual(int64_t in, int64_t out, Rng& rng) {
  int64_t half = out / 2;
  conv1_ = register_module("conv1", std::make_shared<Conv2d>(in, half, 1, 1, 0, true, rng));
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(half));
  conv2_ = register_module("conv2", std::make_shared<Conv2d>(half, half, 3, 1, 1, true, rng));
  bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(half));
  conv3_ = register_module("conv3", std::make_shared<Conv2d>(half, out, 1, 1, 0, true, rng));
  bn3_ = register_module("bn3", std::make_shared<BatchNorm2d>(out));
  if (in != out) skip_ = register_module("skip", std::make_shared<Conv2d>(in, out, 1, 1, 0, true, rng));
}

Tensor Residual::forward(const Tensor& x) {
  Tensor h = conv_bn(*conv1_, *bn1_, x, true);
  h = conv_bn(*conv2_, *bn2_, h, true);
  h = conv_bn(*conv3_, *bn3_, h, false);
  return relu(add(h, skip_ ? skip_->forward(x) : x));
}

Hourglass::Hourglass(int64_t c, Rng& rng) {
  for (int i = 0; i < 4; ++i) enc_[i] = register_module("enc" + std::to_string(i + 1), std::make_shared<Residual>(c, c, rng));
  for (int i = 0; i < 4; ++i) de_[i] = register_module("de" + std::to_string(i + 1), std::make_shared<Residual>(c, c, rng));
}

namespace {
Tensor up2(const Tensor& x) { return upsample_bilinear2d(x, x.size(2) * 2, x.size(3) * 2, true); }
Tensor resize_like(const Tensor& x, const Tensor& like) {
  if (x.size(2) == like.size(2) && x.size(3) == like.size(3)) return x;
  return upsample_bilinear2d(x, like.size(2), like.size(3), false);
}
}  // namespace

Tensor Hourglass::forward(const Tensor& x) {
  Tensor e1 = enc_[0]->forward(x);
  Tensor e2 = enc_[1]->forward(max_pool2d(e1, 2, 2, 0));
  Tensor e3 = enc_[2]->forward(max_pool2d(e2, 2, 2, 0));
  Tensor e4 = enc_[3]->forward(e3);
  Tensor d1 = add(resize_like(de_[0]->forward(up2(e4)), e3), e3);
  Tensor d2 = add(resize_like(de_[1]->forward(up2(d1)), e2), e2);
  Tensor d3 = add(resize_like(de_[2]->forward(up2(d2)), e1), e1);
  return de_[3]->forward(d3);
}

StackedHourglass::StackedHourglass(const HourglassConfig& cfg, Rng& rng) : cfg_(cfg) {
  init_conv_ = register_module("init_conv", std::make_shared<Sequential>());
  init_conv_->add(std::make_shared<Conv2d>(3, cfg.stem_channels, 7, 2, 3, true, rng));
  init_conv_->add(std::make_shared<BatchNorm2d>(cfg.stem_channels));
  init_conv_->add(std::make_shared<ReLU>());
  init_conv_->add(std::make_shared<Residual>(cfg.stem_channels, cfg.mid_channels, rng));
  init_conv_->add(std::make_shared<MaxPool2d>(2, 2));
  init_conv_->add(std::make_shared<Residual>(cfg.mid_channels, cfg.mid_channels, rng));
  init_conv_->add(std::make_shared<Residual>(cfg.mid_channels, cfg.channels, rng));
  // Registration order = the PyTorch module's attribute order: hg1, hg2, out_conv1, out_conv2, merge1.
  for (int k = 1; k <= cfg.stacks; ++k)
    hg_.push_back(register_module("hg" + std::to_string(k), std::make_shared<Hourglass>(cfg.channels, rng)));
  for (int k = 1; k <= cfg.stacks; ++k)
    out_conv_.push_back(register_module("out_conv" + std::to_string(k),
                                        std::make_shared<Conv2d>(cfg.channels, cfg.landmarks, 1, 1, 0, true, rng)));
  for (int k = 1; k < cfg.stacks; ++k) {
    auto m = register_module("merge" + std::to_string(k), std::make_shared<Sequential>());
    m->add(std::make_shared<Conv2d>(cfg.landmarks, cfg.channels, 1, 1, 0, true, rng));
    m->add(std::make_shared<Residual>(cfg.channels, cfg.channels, rng));
    merge_.push_back(m);
  }
}

std::vector<Tensor> StackedHourglass::forward_all(const Tensor& x) {
  FF_CHECK(x.dim() == 4 && x.size(1) == 3, "StackedHourglass: input must be [N, 3, H, W], got ", x.str());
  FF_CHECK(x.size(2) % 32 == 0 && x.size(3) % 32 == 0, "StackedHourglass: input size must be a multiple of 32, got ", x.str());
  Tensor h = init_conv_->forward(x);
  std::vector<Tensor> outs;
  for (int k = 0; k < cfg_.stacks; ++k) {
    Tensor hk = hg_[k]->forward(h);
    outs.push_back(out_conv_[k]->forward(hk));
    if (k + 1 < cfg_.stacks) h = add(merge_[k]->forward(outs.back()), hk);
  }
  return outs;
}

}  // namespace ff
