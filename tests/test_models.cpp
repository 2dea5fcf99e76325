// tests/test_models.cpp — our networks against their PyTorch twins (tools/torch_models.py), given
// the same weights and input (DESIGN.md §4). Small widths come from committed files
// (tests/data/models/, made by tools/make_model_goldens.py, which says what each holds); per file:
//   - eval-mode outputs in float32 against PyTorch's float32;
//   - on the main batch, in float64: the training loss and every parameter gradient after one
//     backward, and the losses of 10 SGD steps, against PyTorch's float64;
//   - on the float32 batch (every gate well clear of float32 rounding: tools/check_gate_margins.py),
//     in float32: the training loss and every parameter gradient against PyTorch's float64.
// Each check prints its worst error; the tolerances are those measured with a margin, noted below
// (bash scripts/test.sh runs these tests with the machine's OpenBLAS kernel and threads, then
// under another kernel at 1 thread).
// The reference sizes are generated at test time by the same script (Debian's python3-torch is
// required: without it these tests fail, they do not skip).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "engine/autograd.h"
#include "layers/checkpoint.h"
#include "models/hourglass.h"
#include "models/resnet.h"
#include "tests/param_grads.h"
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

// Relative error of a scalar, printed; expected within rtol.
void expect_scalar(double ours, double ref, double rtol, const std::string& what) {
  double e = std::fabs(ours - ref) / std::fabs(ref);
  std::printf("%s: %.17g vs %.17g, relative error %.3g (tolerance %.3g)\n", what.c_str(), ours, ref, e, rtol);
  EXPECT_LE(e, rtol) << what;
}

// An eval-mode output against PyTorch's float32: |ours - ref| <= rtol * max|ref|; prints the worst.
void expect_output(const Tensor& ours, const Tensor& ref, double rtol, const std::string& what) {
  double scale = max_abs(ref), worst = 0;
  std::vector<double> a = ours.to_vector<double>(), r = ref.to_vector<double>();
  ASSERT_EQ(a.size(), r.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - r[i]) / scale);
  std::printf("%s: worst |error| / max|ref| %.3g (tolerance %.3g)\n", what.c_str(), worst, rtol);
  expect_close(ours, ref, 0, rtol * scale, what);
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

void expect_losses(const std::vector<double>& ours, const Tensor& ref, double rtol, const std::string& what) {
  std::vector<double> r = ref.to_vector<double>();
  ASSERT_EQ(ours.size(), r.size());
  double worst = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    worst = std::max(worst, std::fabs(ours[i] - r[i]) / std::fabs(r[i]));
    EXPECT_NEAR(ours[i], r[i], rtol * std::fabs(r[i])) << what << ": SGD step " << i;
  }
  std::printf("%s: 10 float64 SGD losses, worst relative error %.3g (tolerance %.3g)\n", what.c_str(), worst, rtol);
}

// Tolerances: about 10x the worst error measured over four runs of these tests (OpenBLAS's own
// kernel on an AVX-512 machine and OPENBLAS_CORETYPE=Haswell, each at 1 and 2 OpenMP threads):
//   eval outputs (float32)            5.1e-7 of max|ref|          -> 5e-6
//   training loss, float64            4.6e-14 relative            -> 1e-12
//   gradients, float64                1.2e-12 of max|ref| (deep)  -> 2e-11; exact zeros 4e-16 -> 1e-14
//   training loss, float32 batch      7.4e-7 relative             -> 1e-5
//   gradients, float32 batch          2.9e-5 of max|ref|          -> 3e-4;  exact zeros 1.8e-7 -> 2e-6
//   SGD losses, float64               1.9e-11 relative (deep)     -> 2e-10
constexpr double kEvalRtol = 5e-6;
constexpr double kLossF64Rtol = 1e-12, kLossF32Rtol = 1e-5;
constexpr GradTol kGradF64{2e-11, 1e-14}, kGradF32{3e-4, 2e-6};
constexpr double kSgdF64Rtol = 2e-10;

// Loads a golden's weights into net (float32, as stored) and converts it to dt.
void reload(Module& net, const SafeTensors& w, DType dt) {
  net.to(DType::F32);
  load_module(net, w);
  net.zero_grad();
  net.to(dt);
}

TEST(ModelParity, HourglassSmall) {
  SafeTensors g = read_safetensors(data("hourglass_small.safetensors"));
  Rng rng(0);
  StackedHourglass net(HourglassConfig::parse(g.metadata.at("config")), rng);
  EXPECT_EQ(net.num_parameters(), std::stoll(g.metadata.at("params")));
  SafeTensors w = weights(g);
  load_module(net, w);
  net.eval();
  {
    NoGradGuard ng;
    std::vector<Tensor> o = net.forward_all(g.at("x"));
    ASSERT_EQ(o.size(), 2u);
    expect_output(o[0], g.at("eval/out0"), kEvalRtol, "hourglass eval stack 1");
    expect_output(o[1], g.at("eval/out1"), kEvalRtol, "hourglass eval stack 2");
  }
  net.train();
  // The training loss and gradients of batch `prefix` in dtype dt.
  auto train_loss = [&](const std::string& prefix, DType dt) {
    Tensor x = g.at(prefix + "x").to(dt), t = g.at(prefix + "target").to(dt);
    std::vector<Tensor> o = net.forward_all(x);
    return add(mse_loss(o[0], t), mse_loss(o[1], t));
  };
  reload(net, w, DType::F64);
  Tensor loss = train_loss("", DType::F64);
  loss.backward();
  expect_scalar(loss.item(), g.at("train/loss").item(), kLossF64Rtol, "hourglass float64 training loss");
  expect_grads(net, g, "", kGradF64, "hourglass float64");
  reload(net, w, DType::F32);
  loss = train_loss("f32/", DType::F32);
  loss.backward();
  expect_scalar(loss.item(), g.at("f32/loss").item(), kLossF32Rtol, "hourglass float32 training loss");
  expect_grads(net, g, "f32/", kGradF32, "hourglass float32");
  reload(net, w, DType::F64);
  expect_losses(sgd_losses(net, std::stod(g.metadata.at("sgd_lr")), [&] { return train_loss("", DType::F64); }),
                g.at("sgd/losses"), kSgdF64Rtol, "hourglass");
}

// The embedding network with both heads. "small" (one block per stage) and "small_bn" (BatchNorm1d
// on the embedding) have a float32 batch; "deep" (the full [3, 4, 6, 3] depth at width 1/16) is
// checked in float64 only (tools/make_model_goldens.py says why).
void resnet_parity(const std::string& file) {
  SafeTensors g = read_safetensors(data(file));
  Rng rng(0);
  EmbeddingNet net(EmbeddingConfig::parse(g.metadata.at("config")), rng);
  EXPECT_EQ(net.num_parameters(), std::stoll(g.metadata.at("params")));
  SafeTensors w = weights(g);
  load_module(net, w);
  net.eval();
  const Tensor& fc_w = g.at("fc/weight");
  const Tensor &fc_b = g.at("fc/bias"), &arc_w = g.at("arc/weight");
  auto heads = [&](const Tensor& e1, const Tensor& e2, const Tensor& labels) {
    DType dt = e1.dtype();
    Tensor softmax = cross_entropy(linear(e1, fc_w.to(dt), fc_b.to(dt)), labels);
    Tensor arc = arcface_loss(linear(l2_normalize(e2), l2_normalize(arc_w.to(dt)), Tensor()), labels, 45.0, 0.1);
    return std::make_pair(softmax, arc);
  };
  {
    NoGradGuard ng;
    Tensor e = net.forward(g.at("x"));
    expect_output(e, g.at("eval/out0"), kEvalRtol, file + " embedding eval");
    auto [sm, arc] = heads(e, e, g.at("labels"));
    expect_output(sm, g.at("eval/out1"), kEvalRtol, file + " softmax head loss eval");
    expect_output(arc, g.at("eval/out2"), kEvalRtol, file + " arcface head loss eval");
  }
  net.train();
  auto train_loss = [&](const std::string& prefix, DType dt) {
    Tensor x = g.at(prefix + "x").to(dt);
    Tensor e1 = net.forward(x), e2 = net.forward(x);
    auto [sm, arc] = heads(e1, e2, g.at(prefix + "labels"));
    return add(sm, arc);
  };
  reload(net, w, DType::F64);
  Tensor loss = train_loss("", DType::F64);
  loss.backward();
  expect_scalar(loss.item(), g.at("train/loss").item(), kLossF64Rtol, file + " float64 training loss");
  expect_grads(net, g, "", kGradF64, file + " float64");
  if (g.has("f32/x")) {
    reload(net, w, DType::F32);
    loss = train_loss("f32/", DType::F32);
    loss.backward();
    expect_scalar(loss.item(), g.at("f32/loss").item(), kLossF32Rtol, file + " float32 training loss");
    expect_grads(net, g, "f32/", kGradF32, file + " float32");
  }
  reload(net, w, DType::F64);
  expect_losses(sgd_losses(net, std::stod(g.metadata.at("sgd_lr")), [&] { return train_loss("", DType::F64); }),
                g.at("sgd/losses"), kSgdF64Rtol, file);
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
  TempDir tmp("ff_model_goldens_full");
  std::string dir = tmp.str(), log = tmp.file("make.log");
  std::string cmd = "/usr/bin/python3 " + std::string(FF_SOURCE_DIR) + "/tools/make_model_goldens.py --full --out " + dir + " > " + log + " 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    std::ifstream f(log);
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    FAIL() << "PyTorch reference generation failed (python3-torch installed?):\n" << text;
  }
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
  TempDir tmp("ff_hg_ckpt");
  std::string path = tmp.file("hg.safetensors");
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
