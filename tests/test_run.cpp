// tests/test_run.cpp — the run folder's promises (train/run.h): one self-contained checkpoint, a
// model file behind it repaired at resume, refusals that name what is missing, the folder lock,
// stale temporaries removed, and logs that restart atomically and drop torn rows. The kills and
// full disks themselves are tests/crash/crash_consistency.py (run by scripts/test.sh).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "engine/random.h"
#include "engine/safetensors.h"
#include "layers/basic.h"
#include "tests/test_util.h"
#include "train/optim.h"
#include "train/run.h"

namespace ff::test {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& p) { return read_file(p); }

void spit(const std::string& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << s;
}

struct Model {
  Rng rng{5};
  Linear lin{3, 2, true, rng};
  SGD opt{lin.parameters(), [] {
            SGDOptions o;
            o.lr = 0.1;
            o.momentum = 0.9;
            return o;
          }()};
  std::map<std::string, std::string> meta{{"model", "test-linear"}};
  void save(RunDir& run, int64_t step) {
    TrainState s;
    s.step = step;
    s.epoch = step / 10;
    run.save("last", lin, meta, opt, nullptr, nullptr, s);
  }
};

template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(RunDir, TheStateFileAloneResumes) {
  TempDir dir("ff_run");
  const std::string d = dir.str("run");
  Model a;
  {
    RunDir run(d, false);
    a.lin.weight().data<float>()[0] = 0.25f;
    a.save(run, 7);
  }
  // The weights live in the state file: without last.safetensors the run resumes, and the model
  // file is written again from the state.
  fs::remove(d + "/last.safetensors");
  Model b;
  {
    RunDir run(d, true);
    TrainState s = run.load("last", b.lin, b.opt, nullptr, nullptr);
    EXPECT_EQ(s.step, 7);
  }
  EXPECT_EQ(b.lin.weight().data<float>()[0], 0.25f);
  ASSERT_TRUE(fs::exists(d + "/last.safetensors"));
  EXPECT_EQ(read_safetensors(d + "/last.safetensors").metadata.at("step"), "7");
  EXPECT_EQ(read_safetensors(d + "/last.safetensors").at("weight").to_vector<float>()[0], 0.25f);
}

TEST(RunDir, AModelFileOneCheckpointBehindIsRewritten) {
  TempDir dir("ff_run");
  const std::string d = dir.str("run");
  Model a;
  std::string old_model;
  {
    RunDir run(d, false);
    a.save(run, 1);
    old_model = slurp(d + "/last.safetensors");
    a.lin.weight().data<float>()[1] = 3.0f;
    a.save(run, 2);
  }
  // A kill between the state write and the model write of step 2 leaves the step-1 model file.
  spit(d + "/last.safetensors", old_model);
  Model b;
  RunDir run(d, true);
  EXPECT_EQ(run.load("last", b.lin, b.opt, nullptr, nullptr).step, 2);
  EXPECT_EQ(b.lin.weight().data<float>()[1], 3.0f);
  EXPECT_EQ(read_safetensors(d + "/last.safetensors").metadata.at("step"), "2");
  EXPECT_EQ(run.checkpoint_metadata().at("model"), "test-linear");
}

TEST(RunDir, RefusalsNameWhatIsMissing) {
  TempDir dir("ff_run");
  const std::string d = dir.str("run");
  // A run stopped before its first checkpoint: --resume refused naming the state file; a fresh
  // run into the folder is accepted.
  fs::create_directories(d);
  spit(d + "/log.csv", "epoch,step\n1,1\n");
  std::string e = error_of([&] { RunDir run(d, true); });
  EXPECT_NE(e.find("holds no checkpoint (last.state.safetensors is missing"), std::string::npos) << e;
  EXPECT_NE(e.find("log.csv"), std::string::npos) << e;
  EXPECT_NO_THROW(RunDir(d, false));
  {
    Model m;
    RunDir run(d, false);
    m.save(run, 3);
  }
  e = error_of([&] { RunDir run(d, false); });
  EXPECT_NE(e.find("already holds a run (last.state.safetensors)"), std::string::npos) << e;
  // A model file alone (an older or broken folder) also blocks a fresh run, but cannot be resumed.
  fs::remove(d + "/last.state.safetensors");
  e = error_of([&] { RunDir run(d, false); });
  EXPECT_NE(e.find("already holds a run (last.safetensors)"), std::string::npos) << e;
  e = error_of([&] { RunDir run(d, true); });
  EXPECT_NE(e.find("last.state.safetensors is missing"), std::string::npos) << e;
}

TEST(RunDir, AFlippedBitInTheCheckpointIsRefused) {
  TempDir dir("ff_run");
  const std::string d = dir.str("run");
  {
    Model m;
    RunDir run(d, false);
    m.save(run, 4);
  }
  std::string b = slurp(d + "/last.state.safetensors");
  b[b.size() - 3] = static_cast<char>(b[b.size() - 3] ^ 0x10);
  spit(d + "/last.state.safetensors", b);
  Model m;
  RunDir run(d, true);
  const std::string e = error_of([&] { run.load("last", m.lin, m.opt, nullptr, nullptr); });
  EXPECT_NE(e.find("last.state.safetensors: the tensor data does not match the file's checksum"), std::string::npos)
      << e;
}

TEST(RunDir, OneProcessAtATimeAndStaleTemporariesRemoved) {
  TempDir dir("ff_run");
  const std::string d = dir.str("run");
  fs::create_directories(d + "/report");
  // A pid that cannot be running (above the kernel's pid_max) and our own (a live writer).
  spit(d + "/last.state.safetensors.tmp.999999999", "x");
  spit(d + "/report/loss.svg.tmp.999999998", "x");
  const std::string mine = d + "/log.csv.tmp." + std::to_string(::getpid());
  spit(mine, "x");
  spit(d + "/notes.tmp.txt", "x");
  RunDir run(d, false);
  EXPECT_EQ(run.stale_temporaries_removed(), 2);
  EXPECT_FALSE(fs::exists(d + "/last.state.safetensors.tmp.999999999"));
  EXPECT_FALSE(fs::exists(d + "/report/loss.svg.tmp.999999998"));
  EXPECT_TRUE(fs::exists(mine));
  EXPECT_TRUE(fs::exists(d + "/notes.tmp.txt"));
  // flock locks belong to open files: a second open in this process is refused like another process.
  const std::string e = error_of([&] { RunDir again(d, false); });
  EXPECT_NE(e.find("another process is training in it"), std::string::npos) << e;
}

TEST(CsvLog, ResumeKeepsCompleteRowsUpToTheCheckpointStep) {
  TempDir dir("ff_run");
  const std::string p = dir.str("log.csv");
  {
    CsvLog log(p, {"epoch", "step", "loss"});
    for (int s = 1; s <= 5; ++s) log.row({1, static_cast<double>(s), 0.5});
  }
  // A torn last row (a kill in the middle of its write) after the five complete ones.
  spit(p, slurp(p) + "1,6,0.4");
  {
    CsvLog log(p, {"epoch", "step", "loss"}, true, 3);
    log.row({1, 4, 0.25});
  }
  EXPECT_EQ(slurp(p), "epoch,step,loss\n1,1,0.5\n1,2,0.5\n1,3,0.5\n1,4,0.25\n");
  // An empty file (or a missing one) on resume starts a new log.
  spit(p, "");
  { CsvLog log(p, {"epoch", "step", "loss"}, true, 3); }
  EXPECT_EQ(slurp(p), "epoch,step,loss\n");
  // Another header, or a step that is not a number, is refused naming the file and line.
  spit(p, "epoch,step\n1,1\n");
  std::string e = error_of([&] { CsvLog log(p, {"epoch", "step", "loss"}, true, 3); });
  EXPECT_NE(e.find(p + ":1: existing log has columns 'epoch,step'"), std::string::npos) << e;
  spit(p, "epoch,step,loss\n1,1,0.5\n1,x2,0.5\n");
  e = error_of([&] { CsvLog log(p, {"epoch", "step", "loss"}, true, 3); });
  EXPECT_NE(e.find(p + ":3: the step 'x2' is not a number"), std::string::npos) << e;
}

// Names from list files may hold commas, quotes or line breaks: every CSV the project writes
// (images.csv of eval-landmarks, align's landmarks.csv, the run's tables) quotes them (review #23).
TEST(CsvLog, FieldsAreQuotedAsRfc4180Says) {
  EXPECT_EQ(csv_field("000001.jpg"), "000001.jpg");
  EXPECT_EQ(csv_field(""), "");
  EXPECT_EQ(csv_field("a,b.jpg"), "\"a,b.jpg\"");
  EXPECT_EQ(csv_field("say \"cheese\".jpg"), "\"say \"\"cheese\"\".jpg\"");
  EXPECT_EQ(csv_field("two\nlines.jpg"), "\"two\nlines.jpg\"");
  EXPECT_EQ(csv_field("cr\r.jpg"), "\"cr\r.jpg\"");
}

TEST(CsvLog, AFailedWriteStopsNamingTheFile) {
  // /dev/full accepts opens and fails every write with ENOSPC: the log is started elsewhere and
  // then pointed at it through a symlink replaced after the start, as a disk filling up would.
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "needs /dev/full: the Linux device that is always full";
  TempDir dir("ff_run");
  const std::string p = dir.str("log.csv");
  CsvLog log(p, {"a", "step"});
  log.row({1, 1});
  // Make further writes to the open descriptor fail: replace it by /dev/full's.
  const int full = ::open("/dev/full", O_WRONLY);
  ASSERT_GE(full, 0);
  int fd = -1;
  for (int i = 3; i < 1024; ++i) {  // the log's descriptor: the one open on p
    char link[64], target[4096];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", i);
    const ssize_t k = ::readlink(link, target, sizeof target - 1);
    if (k > 0 && std::string(target, static_cast<size_t>(k)) == fs::canonical(p).string()) fd = i;
  }
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::dup2(full, fd), fd);
  ::close(full);
  const std::string e = error_of([&] { log.row({1, 2}); });
  EXPECT_NE(e.find(p + ": write failed (No space left on device)"), std::string::npos) << e;
}

}  // namespace
}  // namespace ff::test
