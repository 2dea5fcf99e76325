// tests/test_cli.cpp — the `faceforge` command as a user meets it: an unknown subcommand is named
// with the nearest valid one, a subcommand missing arguments names every one it needs, and
// `synth --scenes` writes a detector folder.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "data/detections.h"
#include "data/image.h"
#include "engine/safetensors.h"
#include "test_util.h"

namespace {

struct CliRun {
  int status = -1;
  std::string output;  // stdout and stderr together
};

// Runs the built faceforge binary with `args` and captures what it prints.
CliRun run_cli(const std::string& args) {
  std::string cmd = std::string(FF_CLI_PATH) + " " + args + " 2>&1";
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 512> buf{};
  while (fgets(buf.data(), buf.size(), p)) r.output += buf.data();
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

TEST(Cli, MisspelledSubcommandNamesTheNearest) {
  CliRun r = run_cli("verfy a.jpg b.jpg");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("unknown subcommand 'verfy'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("did you mean 'verify'?"), std::string::npos) << r.output;
}

TEST(Cli, UnknownSubcommandWithAFamilyListsIt) {
  CliRun r = run_cli("train-lmk");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("train-embed, train-landmarks"), std::string::npos) << r.output;
}

TEST(Cli, NoSubcommandListsThem) {
  CliRun r = run_cli("");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("subcommands: align,"), std::string::npos) << r.output;
}

TEST(Cli, VerifyWithoutArgumentsNamesBothPhotos) {
  CliRun r = run_cli("verify");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("missing PHOTO_A, PHOTO_B, --model"), std::string::npos) << r.output;
  r = run_cli("verify one.jpg");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("missing PHOTO_B, --model"), std::string::npos) << r.output;
}

TEST(Cli, MissingPhotoIsNamed) {
  CliRun r = run_cli("verify /nonexistent/a.jpg /nonexistent/b.jpg --model m.safetensors");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("no such image: /nonexistent/a.jpg"), std::string::npos) << r.output;
}

TEST(Cli, DetectWithoutArgumentsNamesThem) {
  CliRun r = run_cli("detect");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("missing IMAGE, --out"), std::string::npos) << r.output;
  r = run_cli("eval-detector");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("missing --data"), std::string::npos) << r.output;
}

TEST(Cli, DetectWithoutADetectorFileFails) {
  ff::test::TempDir dir("ff_cli_detect");
  ff::save_png(ff::Image(20, 20, 3, 9), dir.file("a.png"));
  CliRun r = run_cli("detect " + dir.file("a.png") + " --out " + dir.file("o") + " --detector " +
                     dir.file("none.safetensors"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("faceforge: error:"), std::string::npos) << r.output;
}

// A CelebA-format folder of two photos with one labelled face each, and a detections file that
// finds the first face and misses the second with a box elsewhere.
TEST(Cli, EvalDetectorScoresADetectionsFile) {
  ff::test::TempDir dir("ff_cli_evaldet");
  std::filesystem::create_directories(dir.file("data/img_celeba"));
  ff::save_jpeg(ff::Image(64, 48, 3, 90), dir.file("data/img_celeba/000001.jpg"));
  ff::save_jpeg(ff::Image(64, 48, 3, 90), dir.file("data/img_celeba/000002.jpg"));
  dir.write("data/list_bbox_celeba.txt", "2\nimage_id x_1 y_1 width height\n000001.jpg 10 10 20 20\n"
                                         "000002.jpg 30 10 20 20\n");
  ff::DetectionsFile d;
  d.detector = "hand-made";
  for (const char* f : {"000001.jpg", "000002.jpg"}) {
    ff::PhotoDetections p;
    p.file = f;
    p.width = 64;
    p.height = 48;
    p.ms = 5;
    ff::FaceDetection fd;
    fd.box = p.file == "000001.jpg" ? ff::FaceBox{10, 10, 20, 20} : ff::FaceBox{0, 30, 10, 10};
    fd.score = p.file == "000001.jpg" ? 0.9 : 0.8;
    p.faces.push_back(fd);
    d.photos.push_back(p);
  }
  ff::write_detections(dir.file("dets.json"), d);
  CliRun r = run_cli("eval-detector --data " + dir.file("data") + " --detections " + dir.file("dets.json") +
                     " --out " + dir.file("eval"));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("AP@0.5 (VOC all-point)                 0.5000"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2 photos, 2 labelled faces, 2 detections"), std::string::npos) << r.output;
  for (const char* f : {"metrics.json", "pr_curve.png", "pr_curve.svg", "pr_curve.csv"})
    EXPECT_TRUE(std::filesystem::is_regular_file(dir.file(std::string("eval/") + f))) << f;
  std::ifstream m(dir.file("eval/metrics.json"));
  std::string j((std::istreambuf_iterator<char>(m)), {});
  EXPECT_NE(j.find("\"ap50\": 0.5,"), std::string::npos) << j;
  EXPECT_NE(j.find("\"ms_per_photo_mean\": 5,"), std::string::npos) << j;
  // --limit 1: the first photo only, found.
  r = run_cli("eval-detector --data " + dir.file("data") + " --detections " + dir.file("dets.json") + " --limit 1");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("AP@0.5 (VOC all-point)                 1.0000"), std::string::npos) << r.output;
  // Neither or both of --detector and --detections.
  r = run_cli("eval-detector --data " + dir.file("data"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("give --detector FILE or --detections FILE"), std::string::npos) << r.output;
  r = run_cli("eval-detector --data " + dir.file("data") + " --detections a.json --detector b.safetensors");
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("excludes"), std::string::npos) << r.output;
  // A photo of the ground truth missing from the detections is named.
  d.photos.pop_back();
  ff::write_detections(dir.file("dets.json"), d);
  r = run_cli("eval-detector --data " + dir.file("data") + " --detections " + dir.file("dets.json"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("(first: 000002.jpg)"), std::string::npos) << r.output;
}

}  // namespace

namespace {

TEST(Cli, SynthScenesWritesADetectorFolder) {
  ff::test::TempDir dir("ff_cli_scenes");
  const std::string out = dir.file("scenes");
  CliRun r = run_cli("synth --out " + out + " --scenes 6 --scene-width 256 --seed 1");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("wrote 6 scenes"), std::string::npos) << r.output;
  for (const char* f : {"faces.json", "list_bbox_celeba.txt", "list_landmarks_celeba.txt", "list_eval_partition.txt",
                        "img_celeba/000006.jpg"})
    EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(out) / f)) << f;
  r = run_cli("synth --out " + out + " --scenes 6");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("already holds scenes"), std::string::npos) << r.output;
}

}  // namespace

namespace {

// One line of a command's output that holds `needle`, for messages that must stay on one line.
bool one_line_has(const std::string& output, const std::string& needle) {
  std::istringstream is(output);
  std::string line;
  while (std::getline(is, line))
    if (line.find(needle) != std::string::npos) return true;
  return false;
}

// A configuration string on the command line is read as strictly as one in a file: the whole of
// every value, within its bounds (review #19); refused before any data is read.
TEST(Cli, ConfigStringsAreReadWhole) {
  CliRun r = run_cli("train-landmarks --data /nonexistent --out /nonexistent/run --config "
                     "stem=16,mid=32,channels=12abc,stacks=2,landmarks=5,input=128");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(one_line_has(r.output, "train-landmarks: --config: hourglass config 'stem=16,mid=32,channels=12abc,"
                                     "stacks=2,landmarks=5,input=128': channels: '12abc' is not an integer"))
      << r.output;
  r = run_cli("train-landmarks --data /nonexistent --out /nonexistent/run --config stacks=2000");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(one_line_has(r.output, "stacks = '2000' is out of range (allowed 1..16)")) << r.output;
  r = run_cli("train-embed --data /nonexistent --out /nonexistent/run --config width=0.0625abc,blocks=1:1:1:1");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(one_line_has(r.output, "train-embed: --config: resnet config 'width=0.0625abc,blocks=1:1:1:1': width: "
                                     "'0.0625abc' is not a number"))
      << r.output;
  r = run_cli("train-detector --data /nonexistent --out /nonexistent/run --config fpn=32abc");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(one_line_has(r.output, "train-detector: --config: detector config 'fpn=32abc': fpn: '32abc' is not an integer"))
      << r.output;
}

// --lr and friends say what is allowed in a few words (CLI::PositiveNumber printed DBL_MAX in
// full), and a negative --seed is refused, not wrapped to 2^64 - 1 (review #26).
TEST(Cli, NumberOptionsSayWhatIsAllowed) {  // 105: CLI11's exit status for a ValidationError
  for (const char* cmd : {"train-landmarks", "train-embed", "train-detector"}) {
    CliRun r = run_cli(std::string(cmd) + " --data /nonexistent --out /nonexistent/run --lr 0");
    EXPECT_EQ(r.status, 105) << cmd << ": " << r.output;
    EXPECT_TRUE(one_line_has(r.output, "--lr: must be > 0, got 0")) << cmd << ": " << r.output;
    EXPECT_EQ(r.output.find("1797693"), std::string::npos) << cmd << ": " << r.output;
    r = run_cli(std::string(cmd) + " --data /nonexistent --out /nonexistent/run --lr abc");
    EXPECT_EQ(r.status, 105) << cmd << ": " << r.output;
    EXPECT_TRUE(one_line_has(r.output, "'abc' is not a number")) << cmd << ": " << r.output;
    r = run_cli(std::string(cmd) + " --data /nonexistent --out /nonexistent/run --seed -1");
    EXPECT_EQ(r.status, 105) << cmd << ": " << r.output;
    EXPECT_TRUE(one_line_has(r.output, "--seed: must be >= 0, got -1")) << cmd << ": " << r.output;
  }
  for (const char* cmd : {"synth --out /nonexistent/synth", "demo --out /nonexistent/demo"}) {
    CliRun r = run_cli(std::string(cmd) + " --seed -1");
    EXPECT_EQ(r.status, 105) << cmd << ": " << r.output;
    EXPECT_TRUE(one_line_has(r.output, "--seed: must be >= 0, got -1")) << cmd << ": " << r.output;
  }
}

// A tiny synthetic dataset, written once for the tests below.
const std::string& tiny_synth() {
  static ff::test::TempDir dir("ff_cli_tiny");
  static std::string out = [] {
    std::string o = dir.file("synth");
    CliRun r = run_cli("synth --out " + o + " --identities 4 --per-identity 4 --size 64 --seed 3");
    EXPECT_EQ(r.status, 0) << r.output;
    return o;
  }();
  return out;
}

// A resumed run takes its configuration from its checkpoint; --config on resume must agree, and
// the refusal names both (review #5: the option defaulted to "small", so resuming any other run
// failed unless --config was repeated).
TEST(Cli, ResumeKeepsTheRunsConfiguration) {
  ff::test::TempDir dir("ff_cli_resume");
  const std::string run = dir.file("lmk"), cfg = "stem=8,mid=8,channels=8,stacks=1,landmarks=5,input=32";
  const std::string common = "train-landmarks --data " + tiny_synth() + " --out " + run +
                             " --batch 2 --max-images 2 --max-val-images 1 --workers 0 --cache-mb 0";
  CliRun r = run_cli(common + " --epochs 1 --config " + cfg);
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_cli(common + " --epochs 2 --resume");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("train-landmarks: 1 steps"), std::string::npos) << r.output;
  r = run_cli(common + " --epochs 3 --resume --config small");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(one_line_has(r.output, "--resume: " + run + "/last.state.safetensors was trained with config " + cfg +
                                         "; --config asks for stem=16,mid=32,channels=64,stacks=2,landmarks=5,input=128"))
      << r.output;
}

// Without validation images train-embed keeps the checkpoint of the lowest training loss and says
// so (review #22: it printed "best validation accuracy (flip TTA) -4117.22%", the negated loss).
TEST(Cli, TrainEmbedWithoutValidationImagesReportsTheTrainLoss) {
  ff::test::TempDir dir("ff_cli_noval");
  const std::string data = dir.file("data");
  std::filesystem::copy(tiny_synth(), data, std::filesystem::copy_options::recursive);
  std::string parts;
  for (int i = 1; i <= 16; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "%06d.jpg 0\n", i);
    parts += name;
  }
  dir.write("data/list_eval_partition.txt", parts);  // every image in partition 0: no validation
  CliRun r = run_cli("train-embed --data " + data + " --out " + dir.file("emb") +
                     " --epochs 1 --batch 4 --workers 0 --holdout-identities 0 --cache-mb 0");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(one_line_has(r.output, "; no validation images; lowest train loss ")) << r.output;
  EXPECT_EQ(r.output.find("best validation accuracy"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("%; run in"), std::string::npos) << r.output;
}

}  // namespace

// `faceforge check` (review #17): a run folder passes file by file; a flipped bit in a model
// file's data, a file cut short and a folder whose checkpoint is gone each fail with exit 1 and a
// line naming the file and what is wrong.
TEST(Cli, CheckPassesARunAndNamesWhatIsWrong) {
  ff::test::TempDir dir("ff_cli_check");
  const std::string run = dir.file("lmk");
  CliRun r = run_cli("train-landmarks --data " + tiny_synth() + " --out " + run +
                     " --batch 2 --max-images 2 --max-val-images 1 --workers 0 --cache-mb 0 --epochs 1"
                     " --config stem=8,mid=8,channels=8,stacks=1,landmarks=5,input=32");
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_cli("check " + run);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(one_line_has(r.output, run + "/last.state.safetensors: ok: ")) << r.output;
  EXPECT_TRUE(one_line_has(r.output, " verified, checkpoint at step 1, hourglass model (")) << r.output;
  EXPECT_TRUE(one_line_has(r.output, run + "/best.safetensors: ok: ")) << r.output;
  EXPECT_TRUE(one_line_has(r.output, " 0 problems")) << r.output;

  // One bit of the last tensor's data (the file's last byte) flipped in a copy of best.
  const std::string flipped = dir.file("flipped.safetensors");
  std::filesystem::copy_file(run + "/best.safetensors", flipped);
  {
    std::fstream f(flipped, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-1, std::ios::end);
    char c = 0;
    f.get(c);
    f.seekp(-1, std::ios::end);
    f.put(static_cast<char>(c ^ 0x10));
  }
  r = run_cli("check " + flipped);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(one_line_has(r.output, flipped + ": FAILED: ")) << r.output;
  EXPECT_TRUE(one_line_has(r.output, "the tensor data does not match the file's checksum")) << r.output;

  // The same file cut short.
  const std::string cut = dir.file("cut.safetensors");
  std::filesystem::copy_file(run + "/best.safetensors", cut);
  std::filesystem::resize_file(cut, std::filesystem::file_size(cut) / 2);
  r = run_cli("check " + cut);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(one_line_has(r.output, cut + ": FAILED: ")) << r.output;

  // A folder that lost its checkpoint: what --resume needs is named.
  std::filesystem::remove(run + "/last.state.safetensors");
  r = run_cli("check " + run);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(one_line_has(r.output, run + ": FAILED: last.state.safetensors is missing")) << r.output;
}

// A checkpoint whose metadata was edited (with its checksum rewritten, so it reads) is refused on
// --resume naming the file and the key, never "stod" (review #18).
TEST(Cli, ResumeNamesACorruptMetadataValue) {
  ff::test::TempDir dir("ff_cli_meta");
  const std::string run = dir.file("lmk");
  const std::string common = "train-landmarks --data " + tiny_synth() + " --out " + run +
                             " --batch 2 --max-images 2 --max-val-images 1 --workers 0 --cache-mb 0";
  CliRun r = run_cli(common + " --epochs 1 --config stem=8,mid=8,channels=8,stacks=1,landmarks=5,input=32");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string state = run + "/last.state.safetensors";
  const ff::SafeTensors good = ff::read_safetensors(state);
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"crop_scale", "1.2x"}, {"heatmap_fg_weight", "nan"}}) {
    ff::SafeTensors st = good;
    st.metadata[key] = value;
    ff::write_safetensors(state, st.tensors, st.metadata);
    r = run_cli(common + " --epochs 2 --resume");
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_TRUE(one_line_has(r.output, state + ": metadata '" + key + "': '" + value + "' is not a number"))
        << r.output;
  }
  ff::write_safetensors(state, good.tensors, good.metadata);
  r = run_cli(common + " --epochs 2 --resume");
  EXPECT_EQ(r.status, 0) << r.output;
}
