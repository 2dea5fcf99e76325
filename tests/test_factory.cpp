// tests/test_factory.cpp — model files (models/factory.h): every kind (hourglass, embedding with
// an ArcFace head, a softmax head or none, classification ResNet) survives save_model/load_model
// with identical tensors, metadata and eval outputs; the typed accessors refuse the wrong kind;
// corrupted or incomplete metadata, bad configuration strings and mismatched tensors raise
// ff::Error with a message naming the problem.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>

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
    if (name.find("running_var") != std::string::npos)
      uniform_(*t, 0.5, 1.5, rng);
    else if (name.find("running_mean") != std::string::npos)
      uniform_(*t, -0.1, 0.1, rng);
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
  c.expect([](SafeTensors& s) { s.metadata["model"] = "transformer"; },
           {"unknown model kind 'transformer'", "hourglass"}, "unknown kind");
  c.expect([](SafeTensors& s) { s.metadata.erase("config"); }, {"'config' is missing"}, "no config");
  c.expect([](SafeTensors& s) { s.metadata["config"] = ""; }, {"empty configuration"}, "empty config");
  c.expect([](SafeTensors& s) { s.metadata["config"] = "width=0.25,blocks=1:x:1:1,classes=0,input=64"; },
           {"bad embedding configuration", "blocks"}, "non-numeric block count");
  c.expect([](SafeTensors& s) { s.metadata["config"] = "width=0.25abc,blocks=1:1:1:1"; }, {"'0.25abc' is not a number"},
           "trailing garbage in a number");
  c.expect([](SafeTensors& s) { s.metadata["config"] = "width=0.25,colour=3"; }, {"unknown key 'colour'"},
           "unknown key");
  c.expect([](SafeTensors& s) { s.metadata["config"] = "width=0.25,blocks=1:1:1"; }, {"bad embedding configuration"},
           "three stages");
  c.expect([](SafeTensors& s) { s.metadata["config"] = "width"; }, {"not key=value"}, "no value");
  // A configuration that parses but does not fit the tensors: names the tensor and both shapes.
  c.expect(
      [](SafeTensors& s) {
        EmbeddingConfig other = EmbeddingConfig::small();
        other.embedding_dim = 64;
        s.metadata["config"] = other.str();
      },
      {"embedding_layer.1.weight", "shape"}, "config disagrees with the weights");
  c.expect([](SafeTensors& s) { s.metadata["model"] = "hourglass"; }, {"bad hourglass configuration"},
           "embedding config read as a hourglass");
  // The head's description.
  c.expect([](SafeTensors& s) { s.metadata.erase("classes"); }, {"'classes' is missing"}, "head without classes");
  c.expect([](SafeTensors& s) { s.metadata["classes"] = "-3"; }, {"'-3' is not a positive integer"},
           "negative classes");
  c.expect([](SafeTensors& s) { s.metadata["classes"] = "5.5"; }, {"not a positive integer"}, "fractional classes");
  c.expect([](SafeTensors& s) { s.metadata["classes"] = "6"; },
           {"corrupt.safetensors", "tensor 'head.weight' has shape [5, 128] in the file", "implies [6, 128]"},
           "classes disagree with the weight");
  c.expect([](SafeTensors& s) { s.metadata.erase("s"); }, {"'s' is missing"}, "arcface without s");
  c.expect([](SafeTensors& s) { s.metadata["m"] = "big"; }, {"'big' is not a number"}, "non-numeric margin");
  c.expect([](SafeTensors& s) { s.metadata["m"] = "3"; }, {"bad ArcFace head", "0 <= m < pi/2"}, "margin out of range");
  c.expect([](SafeTensors& s) { s.metadata["head"] = "cosface"; }, {"unknown head 'cosface'"}, "unknown head");
  c.expect([](SafeTensors& s) { s.metadata.erase("head"); }, {"head tensor", "no 'head' metadata"},
           "head tensors only");
  c.expect(
      [](SafeTensors& s) {
        for (size_t i = 0; i < s.tensors.size(); ++i)
          if (s.tensors[i].first == "head.weight") s.tensors.erase(s.tensors.begin() + static_cast<long>(i));
      },
      {"1 missing: head.weight"}, "head metadata without its tensor");
  // The network's tensors.
  c.expect(
      [](SafeTensors& s) {
        for (size_t i = 0; i < s.tensors.size(); ++i)
          if (s.tensors[i].first == "backbone.bn1.running_var")
            s.tensors.erase(s.tensors.begin() + static_cast<long>(i));
      },
      {"1 missing: backbone.bn1.running_var"}, "missing network tensor");
  c.expect(
      [](SafeTensors& s) {
        s.tensors.emplace_back("backbone.fc.weight", Tensor::zeros({2, 2}));
      },
      {"unexpected: backbone.fc.weight"}, "unexpected network tensor");
}

// model_tensor_shapes walks the constructors' structure without building anything; it must agree
// with the networks themselves, tensor for tensor, or load_model's checks would refuse good files.
TEST(ModelFactory, TensorShapesEqualTheNetworks) {
  Rng rng(11);
  auto expect_same = [](Module& m, const std::string& kind, const std::string& config) {
    std::map<std::string, Shape> want, got;
    for (auto& [name, t] : m.state_dict()) want[name] = t->shape();
    ModelTensorShapes shapes = model_tensor_shapes(kind, config);
    for (auto& [name, s] : shapes) got[name] = s;
    EXPECT_EQ(shapes.size(), got.size()) << kind << " " << config << ": a name twice";
    EXPECT_EQ(got, want) << kind << " " << config;
  };
  for (const char* c : {"stem=8,mid=12,channels=20,stacks=3,landmarks=7,input=96",
                        "stem=16,mid=16,channels=16,stacks=1,landmarks=5,input=64"}) {
    StackedHourglass net(HourglassConfig::parse(c), rng);
    expect_same(net, "hourglass", c);
  }
  for (const char* c :
       {"width=0.125,blocks=1:2:1:1,classes=10,input=32", "width=0.0625,blocks=3:4:6:3,classes=0,input=64"}) {
    ResNet net(ResNetConfig::parse(c), rng);
    expect_same(net, "resnet", c);
  }
  for (const std::string c :
       {EmbeddingConfig::small().str(), std::string("width=0.0625,blocks=2:1:1:2,embedding=8,dropout=0")}) {
    EmbeddingNet net(EmbeddingConfig::parse(c), rng);
    expect_same(net, "embedding", c);
  }
  for (const std::string c :
       {DetectorConfig::small().str(), std::string("widths=8:8:16:16:32,extra=0:2:1:0:1,fpn=16,input=96")}) {
    FaceDetectorNet net(DetectorConfig::parse(c), rng);
    expect_same(net, "detector", c);
  }
}

// A file with metadata and no tensors (124 bytes) whose configuration asks for a width-4 ResNet50
// built 2.66 GB in 107 s before its tensors were looked at; the classes of a head, 6.4 GB. Now the
// tensors the configuration implies are compared with the file's before anything is built: no
// allocation beyond the file's own.
TEST(ModelFactory, OversizedDescriptionsAreRefusedBeforeAnythingIsBuilt) {
  Corrupt c;
  auto refused_without_allocating = [&](const std::function<void(SafeTensors&)>& change,
                                        const std::vector<std::string>& needles, const std::string& what) {
    const int64_t before = host_bytes_in_use();
    reset_host_peak();
    c.expect(change, needles, what);
    EXPECT_LT(host_peak_bytes() - before, int64_t{1} << 20) << what << ": allocated before refusing";
  };
  const std::string wide = "width=4,blocks=3:4:6:3,classes=0,input=112,embedding=512,dropout=0";
  refused_without_allocating(
      [&](SafeTensors& s) {
        s.tensors.clear();
        s.metadata = {{"model", "embedding"}, {"config", wide}};
      },
      {"corrupt.safetensors: tensors do not match the model (", "missing: backbone.conv1.weight",
       "configuration '" + wide + "' implies 320 tensors of 379785525 elements, the file holds 0 of 0"},
      "width-4 ResNet50 from metadata alone");
  refused_without_allocating([&](SafeTensors& s) { s.metadata["config"] = wide; },
                             {"tensor 'backbone.conv1.weight' has shape [16, 3, 7, 7] in the file",
                              "the configuration implies [256, 3, 7, 7]"},
                             "width-4 config over a small network's tensors");
  refused_without_allocating([](SafeTensors& s) { s.metadata["classes"] = "1e8"; },
                             {"metadata 'classes' = '1e8' is out of range (allowed 1..10000000)"}, "1e8 classes");
  refused_without_allocating([](SafeTensors& s) { s.metadata["classes"] = "1000000"; },
                             {"tensor 'head.weight' has shape [5, 128] in the file", "implies [1000000, 128]",
                              "arcface head of 1000000 classes"},
                             "a million classes over a 5-class head");
  refused_without_allocating(
      [](SafeTensors& s) {
        s.tensors.clear();
        s.metadata = {{"model", "hourglass"},
                      {"config", "stem=64,mid=128,channels=256,stacks=16,landmarks=5,input=256"}};
      },
      {"tensors do not match the model", "missing: init_conv.0.weight"}, "16 stacks from metadata alone");
  refused_without_allocating(
      [](SafeTensors& s) {
        s.metadata = {{"model", "hourglass"},
                      {"config", "stem=64,mid=128,channels=256,stacks=2000,landmarks=5,input=256"}};
      },
      {"stacks = '2000' is out of range (allowed 1..16)"}, "2000 stacks");
  refused_without_allocating(
      [](SafeTensors& s) {
        s.tensors.clear();
        s.metadata = {{"model", "detector"},
                      {"config", "widths=4096:4096:4096:4096:4096,extra=16:16:16:16:16,fpn=4096,input=4096"}};
      },
      {"detector config 'widths=4096:4096:4096:4096:4096,extra=16:16:16:16:16,fpn=4096,input=4096' describes "
       "12903276645 weights; at most 2147483648 are allowed"},
      "widest detector from metadata alone");
}

// Every value of every configuration string is read whole and bounded before any arithmetic
// (64 * width + 0.5 overflowed for width=1e300); the message names the string and the key.
TEST(ModelFactory, ConfigValuesAreBoundedAndWhole) {
  auto refused = [](const std::function<void()>& f, const std::string& needle) { expect_error(f, {needle}, needle); };
  refused([] { HourglassConfig::parse("channels=12abc"); },
          "hourglass config 'channels=12abc': channels: '12abc' is not an integer");
  refused([] { HourglassConfig::parse("channels=0"); }, "channels = '0' is out of range (allowed 2..4096)");
  refused([] { HourglassConfig::parse("channels=8192"); }, "allowed 2..4096");
  refused([] { HourglassConfig::parse("channels=-64"); }, "allowed 2..4096");
  refused([] { HourglassConfig::parse("channels=63"); }, "mid and channels even");
  refused([] { HourglassConfig::parse("input=0"); }, "input = '0' is out of range (allowed 32..4096)");
  refused([] { HourglassConfig::parse("input=-64"); }, "allowed 32..4096");
  refused([] { HourglassConfig::parse("input=100"); }, "input a multiple of 32");
  refused([] { HourglassConfig::parse("stacks=17"); }, "stacks = '17' is out of range (allowed 1..16)");
  refused([] { HourglassConfig::parse("stem=1e3"); }, "stem: '1e3' is not an integer");
  refused([] { HourglassConfig::parse("stacks=99999999999999999999"); }, "is out of range (allowed 1..16)");
  refused([] { ResNetConfig::parse("width=1e300"); },
          "resnet config 'width=1e300': width = '1e300' is out of range (allowed 0..16)");
  refused([] { ResNetConfig::parse("width=inf"); }, "width: 'inf' is not a number");
  refused([] { ResNetConfig::parse("width=0.0625abc"); }, "width: '0.0625abc' is not a number");
  refused([] { ResNetConfig::parse("width=0.001"); }, "makes no channel");
  refused([] { ResNetConfig::parse("blocks=3:4:65:3"); }, "blocks = '65' is out of range (allowed 1..64)");
  // A key given twice is refused (it was "the last one wins"), in each of the four parsers.
  refused([] { HourglassConfig::parse("stem=8,stem=9"); }, "hourglass config 'stem=8,stem=9': stem is given twice");
  refused([] { ResNetConfig::parse("width=1,width=0.5"); }, "resnet config 'width=1,width=0.5': width is given twice");
  refused([] { EmbeddingConfig::parse("embedding=8,embedding=16"); }, "embedding is given twice");
  refused([] { EmbeddingConfig::parse("width=1,blocks=1:1:1:1,blocks=2:2:2:2"); }, "blocks is given twice");
  refused([] { DetectorConfig::parse("fpn=8,fpn=16"); }, "detector config 'fpn=8,fpn=16': fpn is given twice");
  refused([] { ResNetConfig::parse("blocks=3:4:6:3:3"); }, "has more than 4 stages");
  refused([] { ResNetConfig::parse("classes=100000000"); },
          "classes = '100000000' is out of range (allowed 0..10000000)");
  refused([] { ResNetConfig::parse("input=0"); }, "input = '0' is out of range (allowed 8..4096)");
  refused([] { EmbeddingConfig::parse("width=0.25,embedding=9000"); },
          "embedding = '9000' is out of range (allowed 1..8192)");
  refused([] { EmbeddingConfig::parse("width=0.25,dropout=1"); }, "dropout must be below 1");
  refused([] { EmbeddingConfig::parse("width=0.25,bn=2"); }, "bn = '2' is out of range (allowed 0..1)");
  refused([] { DetectorConfig::parse("fpn=32abc"); }, "detector config 'fpn=32abc': fpn: '32abc' is not an integer");
  refused([] { DetectorConfig::parse("widths=16:24:32:64:99999"); },
          "widths = '99999' is out of range (allowed 1..4096)");
  refused([] { DetectorConfig::parse("extra=0:0:1:1:17"); }, "extra = '17' is out of range (allowed 0..16)");
  refused([] { DetectorConfig::parse("widths=1:2:3:4:5:6"); }, "has more than 5 stages");
  refused([] { DetectorConfig::parse("input=0"); }, "input = '0' is out of range (allowed 32..4096)");
  // The largest allowed values parse (what they build is bounded by the file that describes them).
  EXPECT_NO_THROW(HourglassConfig::parse("stem=4096,mid=4096,channels=4096,stacks=16,landmarks=1024,input=4096"));
  EXPECT_NO_THROW(ResNetConfig::parse("width=16,blocks=64:64:64:64,classes=10000000,input=4096"));
  // Together they describe more than kMaxModelWeights: model_tensor_shapes (what every model file
  // is checked by) refuses it, naming the count; the reference network passes (found by
  // fuzz_config, tests/fuzz/regressions/config/config_10).
  refused([] { model_tensor_shapes("embedding", "width=16,blocks=64:64:64:64,embedding=8192,input=4096"); },
          "weights; at most 2147483648 are allowed (ResNet-50 holds 25.6 million)");
  EXPECT_NO_THROW(model_tensor_shapes("embedding", EmbeddingConfig::named("reference").str()));
}

// shape_numel and the byte count of a new tensor are checked products: a shape whose element
// count overflows int64 is refused, not wrapped into a small allocation.
TEST(ModelFactory, ShapesTooLargeAreRefused) {
  expect_error(
      [] {
        shape_numel({int64_t{1} << 32, int64_t{1} << 32});
      },
      {"shape too large: [4294967296, 4294967296]"}, "numel overflow");
  expect_error(
      [] {
        Tensor::empty({int64_t{1} << 31, int64_t{1} << 31}, DType::F64);
      },
      {"shape too large: [2147483648, 2147483648] of float64"}, "bytes overflow");
  EXPECT_EQ(shape_numel({int64_t{1} << 31, int64_t{1} << 31}), int64_t{1} << 62);
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
