// tests/test_factory.cpp — model files (models/factory.h): every kind (hourglass, embedding with
// an ArcFace head, a softmax head or none, classification ResNet) survives save_model/load_model
// with identical tensors, metadata and eval outputs; the typed accessors refuse the wrong kind;
// corrupted or incomplete metadata, bad configuration strings and mismatched tensors raise
// ff::Error with a message naming the problem.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "engine/autograd.h"
#include "models/factory.h"
#include "tests/op_cases.h"
#include "tests/test_util.h"

namespace ff::test {
namespace {

// A path in a per-process folder (two suites running at once on one machine must not share
// files), removed at exit.
std::string tmp(const std::string& name) {
  static TempDir dir("ff_factory");
  return dir.file(name);
}

// Every tensor of b equals a's, name for name, bit for bit.
void expect_same_state(Module& a, Module& b, const std::string& what) {
  auto sa = a.state_dict(), sb = b.state_dict();
  ASSERT_EQ(sa.size(), sb.size()) << what;
  for (size_t i = 0; i < sa.size(); ++i) {
    ASSERT_EQ(sa[i].first, sb[i].first) << what;
    expect_close(*sb[i].second, *sa[i].second, 0, 0, what + " " + sa[i].first);
  }
}

// Random batch-norm statistics so eval mode is not an identity and a missed buffer shows.
void perturb(Module& m, uint64_t seed) {
  Rng rng(seed);
  NoGradGuard ng;
  for (auto& [name, t] : m.state_dict()) {
    if (!is_floating(t->dtype())) {
      t->fill_(7);  // num_batches_tracked: must survive too
      continue;
    }
    if (name.find("running_var") != std::string::npos) uniform_(*t, 0.5, 1.5, rng);
    else if (name.find("running_mean") != std::string::npos) uniform_(*t, -0.1, 0.1, rng);
  }
}

TEST(ModelFactory, HourglassRoundTrip) {
  Rng rng(1);
  HourglassConfig cfg = HourglassConfig::small();
  cfg.stacks = 3;
  cfg.channels = 32;
  cfg.input_size = 64;
  StackedHourglass net(cfg, rng);
  perturb(net, 2);
  std::string path = tmp("ff_factory_hg.safetensors");
  save_model(path, net, nullptr, {{"step", "1234"}});
  LoadedModel lm = load_model(path);
  EXPECT_EQ(lm.kind, "hourglass");
  EXPECT_EQ(lm.meta.at("model"), "hourglass");
  EXPECT_EQ(lm.meta.at("config"), cfg.str());
  EXPECT_EQ(lm.meta.at("step"), "1234");
  EXPECT_FALSE(lm.has_head());
  EXPECT_EQ(lm.hourglass().config().str(), cfg.str());
  expect_same_state(net, lm.hourglass(), "hourglass");
  net.eval();
  lm.eval();
  Tensor x = rand_tensor(rng, {1, 3, 64, 64}, DType::F32);
  NoGradGuard ng;
  std::vector<Tensor> a = net.forward_all(x), b = lm.hourglass().forward_all(x);
  ASSERT_EQ(b.size(), 3u);
  for (size_t k = 0; k < a.size(); ++k) expect_close(b[k], a[k], 0, 0, "hourglass stack " + std::to_string(k));
  EXPECT_THROW(lm.embedding(), Error);
  EXPECT_THROW(lm.resnet(), Error);
  EXPECT_THROW(lm.get_head(), Error);
}

void embedding_round_trip(const std::string& head_kind) {
  Rng rng(3);
  EmbeddingConfig cfg = EmbeddingConfig::small();
  cfg.embedding_dim = 24;
  EmbeddingNet net(cfg, rng);
  perturb(net, 4);
  std::unique_ptr<Head> head;
  if (head_kind == "arcface") head = std::make_unique<ArcFaceHead>(17, 24, 32.0, 0.35, rng);
  if (head_kind == "softmax") head = std::make_unique<SoftmaxHead>(24, 17, rng);
  std::string path = tmp("ff_factory_emb_" + head_kind + ".safetensors");
  save_model(path, net, "embedding", cfg.str(), {{"source", "test"}}, head.get());
  SafeTensors raw = read_safetensors(path);
  LoadedModel lm = load_model(path);
  EXPECT_EQ(lm.kind, "embedding");
  EXPECT_EQ(lm.meta.at("source"), "test");
  expect_same_state(net, lm.embedding(), "embedding");
  EXPECT_EQ(lm.has_head(), head != nullptr);
  Tensor x = rand_tensor(rng, {2, 3, 64, 64}, DType::F32);
  Tensor labels = Tensor::from_vector<int64_t>({3, 16}, {2});
  net.eval();
  lm.eval();
  NoGradGuard ng;
  Tensor e = net.forward(x);
  expect_close(lm.embedding().forward(x), e, 0, 0, "embedding eval output");
  if (!head) {
    EXPECT_FALSE(raw.metadata.count("head"));
    EXPECT_THROW(lm.arcface(), Error);
    return;
  }
  EXPECT_TRUE(raw.has("head.weight")) << "head tensors are stored under 'head.'";
  EXPECT_EQ(lm.meta.at("head"), head_kind);
  EXPECT_EQ(lm.meta.at("classes"), "17");
  EXPECT_EQ(lm.get_head().classes(), 17);
  EXPECT_EQ(lm.get_head().dim(), 24);
  expect_same_state(*head, lm.get_head(), head_kind + " head");
  expect_close(lm.get_head().forward(e, labels), head->forward(e, labels), 0, 0, head_kind + " head loss");
  if (head_kind == "arcface") {
    EXPECT_EQ(lm.meta.at("s"), "32");
    EXPECT_EQ(lm.meta.at("m"), "0.35");
    EXPECT_DOUBLE_EQ(lm.arcface().s, 32.0);
    EXPECT_DOUBLE_EQ(lm.arcface().m, 0.35);
    EXPECT_THROW(lm.softmax(), Error);
  } else {
    EXPECT_TRUE(raw.has("head.bias"));
    EXPECT_FALSE(lm.meta.count("s"));
    EXPECT_EQ(lm.softmax().weight().shape(), (Shape{17, 24}));
    EXPECT_THROW(lm.arcface(), Error);
  }
}

TEST(ModelFactory, EmbeddingRoundTripWithArcFaceHead) { embedding_round_trip("arcface"); }
TEST(ModelFactory, EmbeddingRoundTripWithSoftmaxHead) { embedding_round_trip("softmax"); }
TEST(ModelFactory, EmbeddingRoundTripWithoutHead) { embedding_round_trip("none"); }

TEST(ModelFactory, ClassificationResNetRoundTrip) {
  Rng rng(5);
  ResNetConfig cfg;
  cfg.width = 0.125;
  cfg.blocks = {1, 2, 1, 1};
  cfg.classes = 10;
  cfg.input_size = 32;
  ResNet net(cfg, rng);
  perturb(net, 6);
  std::string path = tmp("ff_factory_resnet.safetensors");
  save_model(path, net, "resnet", cfg.str());
  LoadedModel lm = load_model(path);
  EXPECT_EQ(lm.kind, "resnet");
  EXPECT_EQ(lm.resnet().config().classes, 10);
  EXPECT_EQ(lm.resnet().config().blocks, (std::vector<int>{1, 2, 1, 1}));
  expect_same_state(net, lm.resnet(), "resnet");
  net.eval();
  lm.eval();
  Tensor x = rand_tensor(rng, {2, 3, 32, 32}, DType::F32);
  NoGradGuard ng;
  Tensor y = lm.resnet().forward(x);
  EXPECT_EQ(y.shape(), (Shape{2, 10}));
  expect_close(y, net.forward(x), 0, 0, "resnet eval logits");
  EXPECT_THROW(lm.hourglass(), Error);
}

void expect_error(const std::function<void()>& f, const std::vector<std::string>& needles, const std::string& what) {
  try {
    f();
    ADD_FAILURE() << what << ": no error";
  } catch (const Error& e) {
    for (auto& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << what << ": " << e.what();
  }
}

// A valid small file in memory, corrupted one way per case.
struct Corrupt {
  SafeTensors good;
  Corrupt() {
    Rng rng(7);
    EmbeddingConfig cfg = EmbeddingConfig::small();
    EmbeddingNet net(cfg, rng);
    ArcFaceHead head(5, cfg.embedding_dim, rng);
    std::string path = tmp("ff_factory_corrupt.safetensors");
    save_model(path, net, &head);
    good = read_safetensors(path);
  }
  void expect(const std::function<void(SafeTensors&)>& change, const std::vector<std::string>& needles,
              const std::string& what) const {
    SafeTensors st = good;
    change(st);
    expect_error([&] { load_model(st, "corrupt.safetensors"); }, needles, what);
  }
};

TEST(ModelFactory, CorruptedMetadataIsAnError) {
  Corrupt c;
  ASSERT_NO_THROW(load_model(c.good, "good"));
  c.expect([](SafeTensors& s) { s.metadata.erase("model"); }, {"corrupt.safetensors", "'model' is missing"}, "no kind");
  c.expect([](SafeTensors& s) { s.metadata["model"] = "transformer"; }, {"unknown model kind 'transformer'", "hourglass"},
           "unknown kind");
  c.expect([](SafeTensors& s) { s.metadata.erase("config"); }, {"'config' is missing"}, "no config");
  c.expect([](SafeTensors& s) { s.metadata["config"] = ""; }, {"empty configuration"}, "empty config");
  c.expect([](SafeTensors& s) { s.metadata["config"] = "width=0.25,blocks=1:x:1:1,classes=0,input=64"; },
           {"bad embedding configuration", "blocks"}, "non-numeric block count");
  c.expect([](SafeTensors& s) { s.metadata["config"] = "width=0.25abc,blocks=1:1:1:1"; }, {"'0.25abc' is not a number"},
           "trailing garbage in a number");
  c.expect([](SafeTensors& s) { s.metadata["config"] = "width=0.25,colour=3"; }, {"unknown key 'colour'"}, "unknown key");
  c.expect([](SafeTensors& s) { s.metadata["config"] = "width=0.25,blocks=1:1:1"; }, {"bad embedding configuration"},
           "three stages");
  c.expect([](SafeTensors& s) { s.metadata["config"] = "width"; }, {"not key=value"}, "no value");
  // A configuration that parses but does not fit the tensors: names the tensor and both shapes.
  c.expect([](SafeTensors& s) { s.metadata["config"] = EmbeddingConfig::small().str() + ",embedding=64"; },
           {"embedding_layer.1.weight", "shape"}, "config disagrees with the weights");
  c.expect([](SafeTensors& s) { s.metadata["model"] = "hourglass"; }, {"bad hourglass configuration"},
           "embedding config read as a hourglass");
  // The head's description.
  c.expect([](SafeTensors& s) { s.metadata.erase("classes"); }, {"'classes' is missing"}, "head without classes");
  c.expect([](SafeTensors& s) { s.metadata["classes"] = "-3"; }, {"'-3' is not a positive integer"}, "negative classes");
  c.expect([](SafeTensors& s) { s.metadata["classes"] = "5.5"; }, {"not a positive integer"}, "fractional classes");
  c.expect([](SafeTensors& s) { s.metadata["classes"] = "6"; }, {"(head)", "'weight'", "[5, "}, "classes disagree with the weight");
  c.expect([](SafeTensors& s) { s.metadata.erase("s"); }, {"'s' is missing"}, "arcface without s");
  c.expect([](SafeTensors& s) { s.metadata["m"] = "big"; }, {"'big' is not a number"}, "non-numeric margin");
  c.expect([](SafeTensors& s) { s.metadata["m"] = "3"; }, {"bad ArcFace head", "0 <= m < pi/2"}, "margin out of range");
  c.expect([](SafeTensors& s) { s.metadata["head"] = "cosface"; }, {"unknown head 'cosface'"}, "unknown head");
  c.expect([](SafeTensors& s) { s.metadata.erase("head"); }, {"head tensor", "no 'head' metadata"}, "head tensors only");
  c.expect(
      [](SafeTensors& s) {
        for (size_t i = 0; i < s.tensors.size(); ++i)
          if (s.tensors[i].first == "head.weight") s.tensors.erase(s.tensors.begin() + static_cast<long>(i));
      },
      {"(head)", "missing: weight"}, "head metadata without its tensor");
  // The network's tensors.
  c.expect(
      [](SafeTensors& s) {
        for (size_t i = 0; i < s.tensors.size(); ++i)
          if (s.tensors[i].first == "backbone.bn1.running_var") s.tensors.erase(s.tensors.begin() + static_cast<long>(i));
      },
      {"1 missing: backbone.bn1.running_var"}, "missing network tensor");
  c.expect([](SafeTensors& s) { s.tensors.emplace_back("backbone.fc.weight", Tensor::zeros({2, 2})); },
           {"unexpected: backbone.fc.weight"}, "unexpected network tensor");
}

TEST(ModelFactory, HeadInAHourglassFileIsAnError) {
  Rng rng(8);
  StackedHourglass net(HourglassConfig::small(), rng);
  std::string path = tmp("ff_factory_hg_head.safetensors");
  save_model(path, net);
  SafeTensors st = read_safetensors(path);
  st.metadata["head"] = "softmax";
  st.metadata["classes"] = "3";
  expect_error([&] { load_model(st, "f"); }, {"heads go with embedding networks"}, "hourglass with a head");
}

TEST(ModelFactory, SaveRefusesInconsistentDescriptions) {
  Rng rng(9);
  StackedHourglass hg(HourglassConfig::small(), rng);
  EmbeddingConfig ecfg = EmbeddingConfig::small();
  EmbeddingNet emb(ecfg, rng);
  std::string path = tmp("ff_factory_bad_save.safetensors");
  expect_error([&] { save_model(path, hg, "embedding", ecfg.str()); }, {"is a hourglass network, not a embedding"},
               "wrong kind");
  expect_error([&] { save_model(path, hg, "hourglass", HourglassConfig::reference().str()); }, {"differs"},
               "wrong config");
  expect_error([&] { save_model(path, hg, "unet", "a=1"); }, {"unknown model kind 'unet'"}, "unknown kind");
  expect_error([&] { save_model(path, hg, "hourglass", "stem=x"); }, {"bad hourglass configuration"}, "bad config");
  expect_error([&] { save_model(path, hg, nullptr, {{"model", "resnet"}}); }, {"would override"}, "extra overrides");
  ArcFaceHead wrong(5, ecfg.embedding_dim + 1, rng);
  expect_error([&] { save_model(path, emb, &wrong); }, {"-d embeddings"}, "head of another width");
  ArcFaceHead right(5, ecfg.embedding_dim, rng);
  expect_error([&] { save_model(path, hg, "hourglass", hg.config().str(), {}, &right); }, {"embedding network"},
               "head on a hourglass");
  Sequential plain;
  expect_error([&] { save_model(path, plain); }, {"pass the kind"}, "unknown module type");
  EXPECT_THROW(load_model(tmp("ff_factory_does_not_exist.safetensors")), Error);
}

}  // namespace
}  // namespace ff::test
