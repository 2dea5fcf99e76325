// tests/test_cli.cpp — the `faceforge` command as a user meets it: an unknown subcommand is named
// with the nearest valid one, a subcommand missing arguments names every one it needs, and
// `synth --scenes` writes a detector folder.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "tests/test_util.h"

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
