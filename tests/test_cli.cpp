// tests/test_cli.cpp — the `faceforge` command as a user meets it: an unknown subcommand is named
// with the nearest valid one, a subcommand missing arguments names every one it needs, and
// `synth --scenes` writes a detector folder.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "data/detections.h"
#include "data/image.h"
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
