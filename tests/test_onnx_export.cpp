// tests/test_onnx_export.cpp — the op tracer (engine/trace.h) and the ONNX export
// (models/onnx_export.h): what is recorded, the graph's names and symbolic batch, and every refusal.
// That the graphs compute what faceforge computes is checked by ONNX Runtime on real faces
// (scripts/onnx_check.sh, run by scripts/test.sh: tools/check_onnx.py).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/trace.h"
#include "models/factory.h"
#include "models/onnx_export.h"
#include "tests/test_util.h"

#ifdef FF_HAS_ONNX
#include <onnx/onnx_pb.h>
#endif

namespace ff::test {
namespace {

std::string tmp(const std::string& name) {
  static TempDir dir("ff_onnx");
  return dir.file(name);
}

// f throws ff::Error whose message holds every needle.
void expect_error(const std::function<void()>& f, const std::vector<std::string>& needles, const std::string& what) {
  try {
    f();
    ADD_FAILURE() << what << ": no error";
  } catch (const Error& e) {
    for (const auto& n : needles)
      EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << what << ": '" << n << "' not in: " << e.what();
  }
}

TEST(Trace, RecordsOutermostOpsWithTheirInputsAndAttributes) {
  Rng rng(3);
  Tensor x = Tensor::full({2, 3, 8, 8}, 0.5), w = Tensor::full({4, 3, 3, 3}, 0.1), b = Tensor::zeros({4});
  Tensor lw = Tensor::full({5, 4 * 4 * 4}, 0.01);
  std::vector<TraceRecord> rec;
  {
    NoGradGuard no_grad;
    Tracer t;
    Tensor y = relu(conv2d(x, w, b, 2, 1));
    Tensor z = linear(flatten(y, 1), lw, Tensor());
    rec = std::move(t.records);
    EXPECT_TRUE(rec.back().output.same(z));
  }
  ASSERT_EQ(rec.size(), 4u) << "conv2d, relu, reshape (the flatten), linear: one record per public call";
  EXPECT_EQ(rec[0].op, "conv2d");
  EXPECT_TRUE(rec[0].inputs[0].same(x) && rec[0].inputs[1].same(w) && rec[0].inputs[2].same(b));
  EXPECT_EQ(rec[0].ints.at("stride"), std::vector<int64_t>{2});
  EXPECT_EQ(rec[0].ints.at("pad"), std::vector<int64_t>{1});
  EXPECT_EQ(rec[1].op, "relu");
  EXPECT_TRUE(rec[1].inputs[0].same(rec[0].output));
  EXPECT_EQ(rec[2].op, "reshape");
  EXPECT_EQ(rec[2].ints.at("shape"), (std::vector<int64_t>{2, 64}));
  EXPECT_EQ(rec[3].op, "linear");
  EXPECT_FALSE(rec[3].inputs[2].defined());
  // No tracer: nothing is recorded, and a second tracer on the thread is refused.
  Tracer outer;
  relu(x);
  EXPECT_EQ(outer.records.size(), 1u);
  expect_error([] { Tracer second; }, {"already active"}, "nested tracer");
}

#ifdef FF_HAS_ONNX
onnx::ModelProto read_model(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromString(ss.str())) << path;
  return m;
}

void expect_io(const onnx::ModelProto& m, const std::vector<std::string>& outputs, const Shape& input) {
  EXPECT_EQ(m.ir_version(), 8);
  ASSERT_EQ(m.opset_import_size(), 1);
  EXPECT_EQ(m.opset_import(0).version(), 17);
  const auto& g = m.graph();
  ASSERT_EQ(g.input_size(), 1);
  EXPECT_EQ(g.input(0).name(), "data");
  const auto& dims = g.input(0).type().tensor_type().shape().dim();
  ASSERT_EQ(dims.size(), static_cast<int>(input.size()));
  EXPECT_EQ(dims[0].dim_param(), "N") << "the batch is symbolic";
  for (int i = 1; i < dims.size(); ++i) EXPECT_EQ(dims[i].dim_value(), input[i]);
  ASSERT_EQ(g.output_size(), static_cast<int>(outputs.size()));
  for (size_t i = 0; i < outputs.size(); ++i) {
    EXPECT_EQ(g.output(static_cast<int>(i)).name(), outputs[i]);
    EXPECT_EQ(g.output(static_cast<int>(i)).type().tensor_type().shape().dim(0).dim_param(), "N");
  }
}

LoadedModel loaded(const std::string& kind, std::shared_ptr<Module> m) {
  LoadedModel lm;
  lm.kind = kind;
  lm.module = std::move(m);
  return lm;
}

TEST(OnnxExport, EachKindHasItsConvention) {
  Rng rng(1);
  {
    EmbeddingConfig c = EmbeddingConfig::small();
    LoadedModel m = loaded("embedding", std::make_shared<EmbeddingNet>(c, rng));
    OnnxExportResult r = export_onnx(m, tmp("emb.onnx"));
    expect_io(read_model(tmp("emb.onnx")), {"embedding"}, {1, 3, 64, 64});
    EXPECT_EQ(r.outputs.at(0).second, (Shape{1, c.embedding_dim}));
    // Every parameter and buffer the forward reads is an initializer under its checkpoint name.
    const auto g = read_model(tmp("emb.onnx")).graph();
    std::set<std::string> inits;
    for (const auto& t : g.initializer()) inits.insert(t.name());
    EXPECT_TRUE(inits.count("backbone.conv1.weight") && inits.count("embedding_layer.1.weight"));
  }
  {
    HourglassConfig c;
    c.stem_channels = 8, c.mid_channels = 8, c.channels = 8, c.stacks = 2, c.input_size = 64;
    LoadedModel m = loaded("hourglass", std::make_shared<StackedHourglass>(c, rng));
    export_onnx(m, tmp("hg.onnx"));
    expect_io(read_model(tmp("hg.onnx")), {"heatmaps"}, {1, 3, 64, 64});
  }
  {
    LoadedModel m = loaded("detector", std::make_shared<FaceDetectorNet>(DetectorConfig::small(), rng));
    OnnxExportOptions o;
    o.input_size = 96;
    export_onnx(m, tmp("det.onnx"), o);
    expect_io(read_model(tmp("det.onnx")), {"heatmap", "size", "offset", "landmarks"}, {1, 3, 96, 96});
    o.input_size = 100;
    expect_error([&] { export_onnx(m, tmp("det100.onnx"), o); }, {"multiple of 32"}, "detector input size");
  }
}

// A network whose forward ends in an op the tracer does not know, or does what a graph with a
// symbolic batch cannot, is refused and no file appears.
struct BadResNet : ResNet {
  enum What { UntracedOp, TrainingBatchNorm, BatchReshape, CeilPool } what;
  BadResNet(What w, Rng& rng) : ResNet(small_config(w), rng), what(w) {}
  static ResNetConfig small_config(What w) {
    ResNetConfig c;
    c.width = 0.125, c.blocks = {1, 1, 1, 1}, c.input_size = w == CeilPool ? 33 : 32;
    return c;
  }
  Tensor forward(const Tensor& x) override {
    // 33 + 2 - 2 = 33: ONNX's ceil mode makes 18 windows, the last starting in the right padding,
    // which ours (as PyTorch) drops: 17.
    if (what == CeilPool) return max_pool2d(x, 2, 2, 1, true);
    Tensor f = ResNet::forward(x);
    if (what == UntracedOp) return relu(scale(f, 2.0));
    if (what == BatchReshape) return f.reshape({-1});
    Tensor rm = Tensor::zeros({f.size(1)}), rv = Tensor::ones({f.size(1)});
    return batch_norm2d(f.reshape({f.size(0), f.size(1), 1, 1}), Tensor::ones({f.size(1)}), Tensor::zeros({f.size(1)}),
                        rm, rv, true);
  }
};

TEST(OnnxExport, RefusesWhatItCannotMapAndWritesNothing) {
  Rng rng(2);
  const std::string path = tmp("bad.onnx");
  struct Case {
    BadResNet::What what;
    std::vector<std::string> needles;
  } cases[] = {{BadResNet::UntracedOp, {"relu", "no traced op produced", "nothing was written"}},
               {BadResNet::TrainingBatchNorm, {"training mode"}},
               {BadResNet::BatchReshape, {"batch dimension", "refused"}},
               {BadResNet::CeilPool, {"max_pool2d", "ONNX's MaxPool would give 18", "refused"}}};
  for (const Case& c : cases) {
    LoadedModel m = loaded("resnet", std::make_shared<BadResNet>(c.what, rng));
    expect_error([&] { export_onnx(m, path); }, c.needles, "bad network");
    EXPECT_FALSE(std::filesystem::exists(path));
  }
  LoadedModel mtcnn = loaded("mtcnn", std::make_shared<Sequential>());
  expect_error([&] { export_onnx(mtcnn, path); }, {"mtcnn", "no ONNX convention"}, "mtcnn");
  EXPECT_FALSE(std::filesystem::exists(path));
}
#else
TEST(OnnxExport, EachKindHasItsConvention) { GTEST_SKIP() << "not applicable: built without ONNX (libonnx-dev)"; }
#endif

}  // namespace
}  // namespace ff::test
