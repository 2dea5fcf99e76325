// tests/test_convert.cpp — tools/convert_torch.py end to end: PyTorch checkpoints of every kind
// (made at test time by tools/make_convert_cases.py with random weights: torchvision's ResNet50 at
// full size, the notebooks' hourglass as a bare state_dict and as a DataParallel training
// checkpoint, the notebooks' embedding checkpoint with its ArcFace weights) are converted (one by
// the script's command line here, the others by the generator calling the converter's main() in
// its own process, which saves a Python start per case), loaded with load_model() alone, and must
// reproduce PyTorch's eval outputs
// to 1e-4 (DESIGN.md §4: whole networks in float32). Checkpoints the converter must refuse
// (unknown names, a missing and an unexpected tensor, a head of the wrong width, a pickle that
// would run code) exit non-zero with a message naming the problem and write nothing.
// Debian's python3-torch is required: without it these tests fail, they do not skip.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/autograd.h"
#include "models/factory.h"
#include "tests/test_util.h"

namespace ff::test {
namespace {

namespace fs = std::filesystem;

// The generated cases. One test runs them all: ctest starts one process per test, and the
// generator (which imports torch and builds a full ResNet50) should run once, not once per check.
struct Convert {
  static std::string dir_;

  // Runs tools/make_convert_cases.py into a fresh folder; true when it succeeded.
  static bool make() {
    // Per process (two suites running at once on one machine must not share it), removed at exit.
    static TempDir tmp("ff_convert_cases");
    dir_ = tmp.str();
    std::string cmd = "/usr/bin/python3 " + std::string(FF_SOURCE_DIR) + "/tools/make_convert_cases.py " + dir_ + " > " +
                      dir_ + "/make.log 2>&1";
    return std::system(cmd.c_str()) == 0;
  }

  static std::string path(const std::string& f) { return dir_ + "/" + f; }
  static std::string read_text(const std::string& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }

  struct Run {
    int rc;
    std::string log;
  };
  // A conversion the generator ran: its exit status and what it printed.
  static Run converted(const std::string& out) {
    nlohmann::json r = nlohmann::json::parse(read_text(path("results.json")));
    if (!r.contains(out)) return {-1, "no conversion '" + out + "' in results.json"};
    return {r[out].get<int>(), read_text(path(out + ".log"))};
  }
  // Runs the converter's command line on <name>.pth -> <name>.safetensors.
  static Run convert(const std::string& name) {
    std::string o = path(name + ".safetensors"), log = path(name + ".log");
    fs::remove(o);
    std::string cmd = "/usr/bin/python3 " + std::string(FF_SOURCE_DIR) + "/tools/convert_torch.py " + path(name + ".pth") +
                      " " + o + " > " + log + " 2>&1";
    int rc = std::system(cmd.c_str());
    return {rc, read_text(log)};
  }
  static void expect_refused(const std::string& name, const std::vector<std::string>& needles) {
    Run r = Convert::converted(name);
    EXPECT_NE(r.rc, 0) << name << " should be refused; log:\n" << r.log;
    EXPECT_NE(r.log.find("convert_torch: error: "), std::string::npos) << r.log;
    for (auto& n : needles) EXPECT_NE(r.log.find(n), std::string::npos) << name << ": no '" << n << "' in:\n" << r.log;
    EXPECT_FALSE(fs::exists(path(name + ".safetensors"))) << name << ": nothing may be written";
  }
};
std::string Convert::dir_;
using Run = Convert::Run;
std::string path(const std::string& f) { return Convert::path(f); }

void check_torchvision_resnet50() {
  Run r = Convert::converted("resnet50");
  ASSERT_EQ(r.rc, 0) << r.log;
  EXPECT_NE(r.log.find("filled 53 missing batch-norm counters"), std::string::npos) << r.log;
  LoadedModel lm = load_model(path("resnet50.safetensors"));
  ASSERT_EQ(lm.kind, "resnet");
  EXPECT_EQ(lm.meta.at("converted_from"), "resnet50.pth");
  ResNet& net = lm.resnet();
  EXPECT_EQ(net.config().classes, 1000);
  EXPECT_EQ(net.config().blocks, (std::vector<int>{3, 4, 6, 3}));
  EXPECT_EQ(net.num_parameters(), 25557032);
  SafeTensors g = read_safetensors(path("resnet50_expected.safetensors"));
  lm.eval();
  NoGradGuard ng;
  expect_close(net.forward(g.at("x")), g.at("out0"), 1e-4, 1e-4, "converted ResNet50 logits");
}

void expect_hourglass(LoadedModel& lm, const SafeTensors& g, int stacks, const std::string& what) {
  ASSERT_EQ(lm.kind, "hourglass");
  lm.eval();
  NoGradGuard ng;
  std::vector<Tensor> o = lm.hourglass().forward_all(g.at("x"));
  ASSERT_EQ(static_cast<int>(o.size()), stacks) << what;
  for (int k = 0; k < stacks; ++k)
    expect_close(o[k], g.at("out" + std::to_string(k)), 1e-4, 1e-5, what + " stack " + std::to_string(k + 1));
}

void check_hourglass_bare_state_dict_through_the_command_line() {
  Run r = Convert::convert("hourglass_raw");
  ASSERT_EQ(r.rc, 0) << r.log;
  LoadedModel lm = load_model(path("hourglass_raw.safetensors"));
  HourglassConfig c = lm.hourglass().config();
  EXPECT_EQ(c.str(), "stem=8,mid=16,channels=16,stacks=2,landmarks=5,input=256");  // input: the default
  expect_hourglass(lm, read_safetensors(path("hourglass_raw_expected.safetensors")), 2, "hourglass (bare)");
}

void check_hourglass_training_checkpoint_with_dataparallel_names() {
  Run r = Convert::converted("hourglass_wrapped");  // with --input 96
  ASSERT_EQ(r.rc, 0) << r.log;
  EXPECT_NE(r.log.find("ignored checkpoint entries: epoch, optimizer_state_dict, loss"), std::string::npos) << r.log;
  LoadedModel lm = load_model(path("hourglass_wrapped.safetensors"));
  EXPECT_EQ(lm.hourglass().config().str(), "stem=8,mid=12,channels=20,stacks=3,landmarks=7,input=96");
  expect_hourglass(lm, read_safetensors(path("hourglass_wrapped_expected.safetensors")), 3, "hourglass (checkpoint)");
}

void check_notebook_embedding_with_arcface_head() {
  Run r = Convert::converted("embedding");  // with --s 30 --m 0.2 --dropout 0.5
  ASSERT_EQ(r.rc, 0) << r.log;
  LoadedModel lm = load_model(path("embedding.safetensors"));
  ASSERT_EQ(lm.kind, "embedding");
  const EmbeddingConfig& c = lm.embedding().config();
  EXPECT_EQ(c.embedding_dim, 32);
  EXPECT_EQ(c.resnet.blocks, (std::vector<int>{1, 2, 1, 1}));
  EXPECT_DOUBLE_EQ(c.resnet.width, 0.125);
  EXPECT_DOUBLE_EQ(c.dropout, 0.5);
  EXPECT_EQ(c.resnet.input_size, 112);
  ArcFaceHead& head = lm.arcface();
  EXPECT_EQ(head.classes(), 9);
  EXPECT_DOUBLE_EQ(head.s, 30.0);
  EXPECT_DOUBLE_EQ(head.m, 0.2);
  SafeTensors g = read_safetensors(path("embedding_expected.safetensors"));
  lm.eval();
  NoGradGuard ng;
  Tensor e = lm.embedding().forward(g.at("x"));
  expect_close(e, g.at("out0"), 1e-4, 1e-5, "converted embedding");
  expect_close(head.cosine(e), g.at("out1"), 1e-4, 1e-5, "converted ArcFace cosines");
  expect_close(head.forward(e, g.at("labels")), g.at("out2"), 1e-4, 0, "converted ArcFace loss");

  Run nh = Convert::converted("embedding_nohead");  // with --no-head
  ASSERT_EQ(nh.rc, 0) << nh.log;
  LoadedModel bare = load_model(path("embedding_nohead.safetensors"));
  EXPECT_FALSE(bare.has_head());
  EXPECT_DOUBLE_EQ(bare.embedding().config().dropout, 0.7);  // the notebooks' default
  bare.eval();
  expect_close(bare.embedding().forward(g.at("x")), e, 0, 0, "embedding without the head");
}

void check_refuses_what_it_does_not_recognise() {
  Convert::expect_refused("bad_names", {"unrecognised checkpoint", "decoder.bias", "encoder.weight"});
  Convert::expect_refused("hourglass_broken", {"1 missing [hg2.de4.conv2.weight]", "1 unexpected [hg2.extra.weight]"});
  Convert::expect_refused("embedding_badhead", {"arcface weight has shape [9, 31], expected [classes, 32]"});
  // A crafted checkpoint that trips the converter's own code: one error line, no traceback.
  Convert::expect_refused("crafted_keys", {"crafted_keys.pth: not a checkpoint this converter reads",
                                           "AttributeError"});
  Run r = Convert::converted("crafted_keys");
  EXPECT_EQ(r.log.find("Traceback"), std::string::npos) << r.log;
  EXPECT_EQ(std::count(r.log.begin(), r.log.end(), '\n'), 1) << r.log;
}

void check_refuses_a_pickle_that_would_run_code() {
  Convert::expect_refused("evil", {"refusing to load global", "--trust"});
  EXPECT_FALSE(fs::exists(path("evil_ran"))) << "unpickling ran code from the checkpoint";
}

TEST(Convert, EveryKindMatchesPyTorchAndBadCheckpointsAreRefused) {
  ASSERT_TRUE(Convert::make()) << "tools/make_convert_cases.py failed (python3-torch installed?): see " << Convert::dir_
                               << "/make.log";
  {
    SCOPED_TRACE("check_torchvision_resnet50");
    check_torchvision_resnet50();
  }
  {
    SCOPED_TRACE("check_hourglass_bare_state_dict_through_the_command_line");
    check_hourglass_bare_state_dict_through_the_command_line();
  }
  {
    SCOPED_TRACE("check_hourglass_training_checkpoint_with_dataparallel_names");
    check_hourglass_training_checkpoint_with_dataparallel_names();
  }
  {
    SCOPED_TRACE("check_notebook_embedding_with_arcface_head");
    check_notebook_embedding_with_arcface_head();
  }
  {
    SCOPED_TRACE("check_refuses_what_it_does_not_recognise");
    check_refuses_what_it_does_not_recognise();
  }
  {
    SCOPED_TRACE("check_refuses_a_pickle_that_would_run_code");
    check_refuses_a_pickle_that_would_run_code();
  }
}

}  // namespace
}  // namespace ff::test
