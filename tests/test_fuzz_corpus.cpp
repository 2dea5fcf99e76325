// tests/test_fuzz_corpus.cpp — every file of the fuzz corpora (tests/fuzz/corpus/TARGET/: seeds
// from real files) and every input that ever made a target fail (tests/fuzz/regressions/TARGET/)
// run through the fuzz targets (tests/fuzz/targets.h) in the ordinary build. A target returns for
// a refusal; a crash, a broken promise (abort) or an exception other than ff::Error fails here.
// scripts/fuzz.sh replays the same files under ASan + UBSan, then fuzzes.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/fuzz/targets.h"

namespace {

namespace fs = std::filesystem;

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::string read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

class FuzzCorpus : public ::testing::TestWithParam<ff::fuzz::Target> {};

TEST_P(FuzzCorpus, SeedsAndRegressionsPass) {
  const ff::fuzz::Target& t = GetParam();
  const fs::path root = fs::path(FF_SOURCE_DIR) / "tests/fuzz";
  const auto seeds = files_in(root / "corpus" / t.name);
  const auto regressions = files_in(root / "regressions" / t.name);
  // Every target has a seed corpus in the repository (an empty one would test nothing).
  ASSERT_GE(seeds.size(), 3u) << "tests/fuzz/corpus/" << t.name << " holds " << seeds.size() << " files";
  for (const auto* set : {&seeds, &regressions})
    for (const fs::path& p : *set) {
      const std::string bytes = read_all(p);
      SCOPED_TRACE(p.string());
      EXPECT_NO_THROW(t.run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    }
  std::printf("fuzz target %s: %zu seeds and %zu regressions replayed\n", t.name, seeds.size(), regressions.size());
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzCorpus, ::testing::ValuesIn(ff::fuzz::targets()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
