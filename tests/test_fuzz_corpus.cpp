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
#include <map>
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

// tests/fuzz/expected.txt: "TARGET/FILE accepted" or "TARGET/FILE refused TEXT".
std::map<std::string, std::string> expected_outcomes(const fs::path& path) {
  std::map<std::string, std::string> out;
  std::ifstream f(path);
  for (std::string line; std::getline(f, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t sp = line.find(' ');
    if (sp != std::string::npos) out[line.substr(0, sp)] = line.substr(sp + 1);
  }
  return out;
}

class FuzzCorpus : public ::testing::TestWithParam<ff::fuzz::Target> {};

TEST_P(FuzzCorpus, SeedsAndRegressionsPass) {
  const ff::fuzz::Target& t = GetParam();
  const fs::path root = fs::path(FF_SOURCE_DIR) / "tests/fuzz";
  const auto seeds = files_in(root / "corpus" / t.name);
  const auto regressions = files_in(root / "regressions" / t.name);
  // Every target has a seed corpus in the repository (an empty one would test nothing).
  ASSERT_GE(seeds.size(), 3u) << "tests/fuzz/corpus/" << t.name << " holds " << seeds.size() << " files";
  const auto expected = expected_outcomes(root / "expected.txt");
  for (const auto* set : {&seeds, &regressions})
    for (const fs::path& p : *set) {
      const std::string bytes = read_all(p);
      SCOPED_TRACE(p.string());
      EXPECT_NO_THROW(t.run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
      const ff::fuzz::Outcome& got = ff::fuzz::last_outcome();
      if (set == &seeds) {  // real files: every step takes them (a refused seed explores nothing)
        EXPECT_EQ(got.refused, 0) << "a seed is refused: " << got.first_refusal;
        EXPECT_GT(got.accepted, 0);
        continue;
      }
      const std::string key = std::string(t.name) + "/" + p.filename().string();
      const auto it = expected.find(key);
      if (it == expected.end()) {
        ADD_FAILURE() << key
                      << " is not in tests/fuzz/expected.txt (say whether it must be accepted or refused, and why)";
        continue;
      }
      if (it->second == "accepted") {
        EXPECT_EQ(got.refused, 0) << key << " must be accepted; refused: " << got.first_refusal;
      } else {
        ASSERT_EQ(it->second.rfind("refused ", 0), 0u) << "tests/fuzz/expected.txt: " << key << " " << it->second;
        const std::string text = it->second.substr(8);
        EXPECT_GT(got.refused, 0) << key << " must be refused (" << text << ") but was accepted";
        EXPECT_NE(got.first_refusal.find(text), std::string::npos)
            << key << " must be refused with '" << text << "'; the refusal was: " << got.first_refusal;
      }
    }
  std::printf("fuzz target %s: %zu seeds and %zu regressions replayed\n", t.name, seeds.size(), regressions.size());
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzCorpus, ::testing::ValuesIn(ff::fuzz::targets()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
