// tests/test_models.cpp — our networks against their PyTorch twins (tools/torch_models.py), given
// the same weights and input (DESIGN.md §4): eval-mode outputs to 1e-4 relative; in training mode
// the loss to 1e-4 and every parameter gradient to 1e-3 after one backward; the first 10 losses of
// SGD on a fixed batch to 1e-3 (in float64: see tools/make_model_goldens.py for why). Small widths come from committed files (tests/data/models/, made by
// tools/make_model_goldens.py); the reference sizes are generated at test time by the same script
// (Debian's python3-torch is required: without it these tests fail, they do not skip).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "engine/autograd.h"
#include "layers/checkpoint.h"
#include "models/hourglass.h"
#include "models/resnet.h"
#include "tests/test_util.h"
#include "train/optim.h"

namespace ff::test {
namespace {

std::string data(const std::string& f) { return std::string(FF_SOURCE_DIR) + "/tests/data/models/" + f; }

// The "w/..." tensors of a golden file as a SafeTensors the module loader accepts.
SafeTensors weights(const SafeTensors& g) {
  SafeTensors w;
  for (auto& [n, t] : g.tensors)
    if (n.rfind("w/", 0) == 0) w.tensors.emplace_back(n.substr(2), t);
  return w;
}

// Every parameter gradient against PyTorch's. Tolerance per element: atol + rtol * max|ref| of
// that parameter (whole-network gradients differ by summation order), plus 1e-6 of the largest
// gradient anywhere in the network: the biases of convolutions followed by training-mode batch
// norm have an exact gradient of 0, so both sides hold only rounding noise of the network's scale.
void expect_grads(Module& m, const SafeTensors& g, double rtol, double atol) {
  double global = 0;
  for (auto& [name, p] : m.named_parameters())
    for (double v : g.at("g/" + name).to_vector<double>()) global = std::max(global, std::fabs(v));
  int checked = 0;
  for (auto& [name, p] : m.named_parameters()) {
    ASSERT_TRUE(g.has("g/" + name)) << "golden lacks gradient of " << name;
    ASSERT_TRUE(p->grad().defined()) << "no gradient reached " << name;
    Tensor ref = g.at("g/" + name);
    double mx = 0;
    for (double v : ref.to_vector<double>()) mx = std::max(mx, std::fabs(v));
    expect_close(p->grad(), ref, rtol, atol + rtol * mx + 1e-6 * global, "gradient of " + name);
    ++checked;
  }
  EXPECT_GT(checked, 10);
}

std::vector<double> sgd_losses(Module& m, double lr, const std::function<Tensor()>& loss_fn) {
  SGDOptions o;
  o.lr = lr;
  o.momentum = 0.9;
  SGD opt(m.parameters(), o);
  std::vector<double> losses;
  for (int i = 0; i < 10; ++i) {
    opt.zero_grad();
    Tensor l = loss_fn();
    l.backward();
    opt.step();
    losses.push_back(l.item());
  }
  return losses;
}

void expect_losses(const std::vector<double>& ours, const Tensor& ref, double rtol) {
  std::vector<double> r = ref.to_vector<double>();
  ASSERT_EQ(ours.size(), r.size());
  for (size_t i = 0; i < r.size(); ++i) EXPECT_NEAR(ours[i], r[i], rtol * std::fabs(r[i])) << "SGD step " << i;
}

TEST(ModelParity, HourglassSmall) {
  SafeTensors g = read_safetensors(data("hourglass_small.safetensors"));
  Rng rng(0);
  StackedHourglass net(HourglassConfig::parse(g.metadata.at("config")), rng);
  EXPECT_EQ(net.num_parameters(), std::stoll(g.metadata.at("params")));
  SafeTensors w = weights(g);
  load_module(net, w);
  net.eval();
  const Tensor& x = g.at("x");
  {
    NoGradGuard ng;
    std::vector<Tensor> o = net.forward_all(x);
    ASSERT_EQ(o.size(), 2u);
    expect_close(o[0], g.at("eval/out0"), 1e-4, 1e-5, "hourglass eval stack 1");
    expect_close(o[1], g.at("eval/out1"), 1e-4, 1e-5, "hourglass eval stack 2");
  }
  net.train();
  const Tensor& target = g.at("target");
  auto loss_fn = [&] {
    std::vector<Tensor> o = net.forward_all(x);
    return add(mse_loss(o[0], target), mse_loss(o[1], target));
  };
  Tensor loss = loss_fn();
  loss.backward();
  expect_close(loss, g.at("train/loss"), 1e-4, 0, "hourglass training loss");
  expect_grads(net, g, 1e-3, 1e-7);
  // The SGD trajectory in float64 (see tools/make_model_goldens.py: in float32 these small nets
  // train chaotically, PyTorch's own float32 and float64 runs part by 1e-2 within 10 steps).
  load_module(net, w);
  net.zero_grad();
  net.to(DType::F64);
  Tensor x64 = x.to(DType::F64), t64 = target.to(DType::F64);
  expect_losses(sgd_losses(net, std::stod(g.metadata.at("sgd_lr")), [&] {
                  std::vector<Tensor> o = net.forward_all(x64);
                  return add(mse_loss(o[0], t64), mse_loss(o[1], t64));
                }),
                g.at("sgd/losses"), 1e-3);
}

// The embedding network with both heads. "small" (one block per stage): float32 training loss and
// gradients. "deep" (the full [3, 4, 6, 3] depth at width 1/16): its float32 training gradients
// are ill-conditioned even in PyTorch (float32 vs float64: 6e-2), so they are compared in float64.
void resnet_parity(const std::string& file) {
  SafeTensors g = read_safetensors(data(file));
  Rng rng(0);
  EmbeddingNet net(EmbeddingConfig::parse(g.metadata.at("config")), rng);
  EXPECT_EQ(net.num_parameters(), std::stoll(g.metadata.at("params")));
  SafeTensors w = weights(g);
  load_module(net, w);
  net.eval();
  const Tensor &x = g.at("x"), &labels = g.at("labels");
  Tensor fc_w = g.at("fc/weight"), fc_b = g.at("fc/bias"), arc_w = g.at("arc/weight");
  auto heads = [&](const Tensor& e1, const Tensor& e2) {
    DType dt = e1.dtype();
    Tensor softmax = cross_entropy(linear(e1, fc_w.to(dt), fc_b.to(dt)), labels);
    Tensor arc = arcface_loss(linear(l2_normalize(e2), l2_normalize(arc_w.to(dt)), Tensor()), labels, 45.0, 0.1);
    return std::make_pair(softmax, arc);
  };
  {
    NoGradGuard ng;
    Tensor e = net.forward(x);
    expect_close(e, g.at("eval/out0"), 1e-4, 1e-5, file + " embedding eval");
    auto [sm, arc] = heads(e, e);
    expect_close(sm, g.at("eval/out1"), 1e-4, 0, file + " softmax head loss eval");
    expect_close(arc, g.at("eval/out2"), 1e-4, 0, file + " arcface head loss eval");
  }
  net.train();
  bool f64 = g.metadata.at("grad_dtype") == "float64";
  if (f64) net.to(DType::F64);
  Tensor xin = f64 ? x.to(DType::F64) : x;
  auto loss_fn = [&] {
    Tensor e1 = net.forward(xin), e2 = net.forward(xin);
    auto [sm, arc] = heads(e1, e2);
    return add(sm, arc);
  };
  Tensor loss = loss_fn();
  loss.backward();
  expect_close(loss, g.at("train/loss"), f64 ? 1e-10 : 1e-4, 0, file + " training loss");
  expect_grads(net, g, f64 ? 1e-8 : 1e-3, 1e-7);
  // SGD trajectory in float64 (see tools/make_model_goldens.py).
  net.to(DType::F32);
  load_module(net, w);
  net.zero_grad();
  net.to(DType::F64);
  xin = x.to(DType::F64);
  expect_losses(sgd_losses(net, std::stod(g.metadata.at("sgd_lr")), loss_fn), g.at("sgd/losses"), 1e-3);
}

TEST(ModelParity, ResNetEmbeddingWithBothHeadsSmall) { resnet_parity("resnet_small.safetensors"); }
TEST(ModelParity, ResNet50DepthEmbeddingFloat64) { resnet_parity("resnet_deep.safetensors"); }
TEST(ModelParity, ResNetEmbeddingWithBatchNormSmall) { resnet_parity("resnet_small_bn.safetensors"); }

TEST(ModelParity, ParameterCountsEqualTorchvision) {
  Rng rng(0);
  ResNetConfig rc;
  rc.classes = 1000;
  ResNet r50(rc, rng);
  std::printf("ResNet50 (torchvision layout, 1000-class fc): %lld parameters\n", static_cast<long long>(r50.num_parameters()));
  EXPECT_EQ(r50.num_parameters(), 25557032);  // torchvision.models.resnet50().parameters()
  StackedHourglass hg(HourglassConfig::reference(), rng);
  std::printf("StackedHourglass (reference): %lld parameters\n", static_cast<long long>(hg.num_parameters()));
  EXPECT_EQ(hg.num_parameters(), 4004106);  // tools/torch_models.StackedHourglass()
  EmbeddingNet emb(EmbeddingConfig::reference(), rng);
  EXPECT_EQ(emb.num_parameters(), 25557032 - 2049000 + 2048 * 512 + 512);
}

// Reference sizes, generated now by the PyTorch script: eval-mode outputs to 1e-4.
TEST(ModelParity, ReferenceSizesEvalMode) {
  std::string dir = (std::filesystem::temp_directory_path() / "ff_model_goldens_full").string();
  std::string cmd = "/usr/bin/python3 " + std::string(FF_SOURCE_DIR) + "/tools/make_model_goldens.py --full --out " + dir + " > " + dir + ".log 2>&1";
  std::filesystem::create_directories(dir);
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "PyTorch reference generation failed (python3-torch installed?): see " << dir << ".log";
  Rng rng(0);
  {
    SafeTensors g = read_safetensors(dir + "/hourglass_full.safetensors");
    StackedHourglass net(HourglassConfig::parse(g.metadata.at("config")), rng);
    load_module(net, weights(g));
    net.eval();
    NoGradGuard ng;
    std::vector<Tensor> o = net.forward_all(g.at("x"));
    expect_close(o[0], g.at("eval/out0"), 1e-4, 1e-4, "reference hourglass stack 1");
    expect_close(o[1], g.at("eval/out1"), 1e-4, 1e-4, "reference hourglass stack 2");
  }
  {
    SafeTensors g = read_safetensors(dir + "/resnet_full.safetensors");
    EmbeddingNet net(EmbeddingConfig::parse(g.metadata.at("config")), rng);
    load_module(net, weights(g));
    net.eval();
    NoGradGuard ng;
    expect_close(net.forward(g.at("x")), g.at("eval/out0"), 1e-4, 1e-4, "reference ResNet50 embedding");
  }
}

TEST(ModelCheckpoint, StrictLoadNamesWhatIsMissingOrUnexpected) {
  Rng rng(0);
  StackedHourglass net(HourglassConfig::small(), rng);
  std::string path = (std::filesystem::temp_directory_path() / "ff_hg_ckpt.safetensors").string();
  save_module(path, net, {{"config", net.config().str()}});
  StackedHourglass other(HourglassConfig::small(), rng);
  EXPECT_EQ(load_module(other, path), static_cast<int>(net.state_dict().size()));
  EXPECT_EQ(other.state_dict()[0].second->to_vector<float>(), net.state_dict()[0].second->to_vector<float>());
  HourglassConfig bigger = HourglassConfig::small();
  bigger.stacks = 3;
  StackedHourglass three(bigger, rng);
  try {
    load_module(three, path);
    FAIL() << "loading a 2-stack checkpoint into a 3-stack net must fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("hg3"), std::string::npos) << e.what();
  }
  EXPECT_GT(load_module(three, path, /*strict=*/false), 0);
  HourglassConfig wider = HourglassConfig::small();
  wider.channels = 128;
  StackedHourglass w(wider, rng);
  EXPECT_THROW(load_module(w, path, false), Error);  // shape mismatch is always an error
}

}  // namespace
}  // namespace ff::test
