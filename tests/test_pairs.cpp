// tests/test_pairs.cpp — verification pairs lists (data/pairs.h): LFW's pairs.txt and the plain
// "a b 0|1" list, their folds, their errors; and tools/make_pairs.py's lists read back, with no
// identity in two folds.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <set>
#include <string>

#include "data/pairs.h"
#include "tests/test_util.h"

namespace ff::test {
namespace {

TEST(Pairs, ReadsLfwPairsTxt) {
  TempDir d;
  const std::string p = d.write("pairs.txt",
                                "2\t1\n"
                                "Abel_Pacheco\t1\t4\n"
                                "Abdel_Madi_Shabneh\t1\tDean_Barker\t1\n"
                                "Ana_Claudia_Vasconcelos 2 13\n"
                                "Abdul_Rahman\t3\tAkbar_Al_Baker\t2\n");
  const PairList l = read_pairs(p);
  EXPECT_EQ(l.format, "lfw");
  EXPECT_EQ(l.folds, 2);
  ASSERT_EQ(l.pairs.size(), 4u);
  EXPECT_EQ(l.pairs[0].a, "Abel_Pacheco/Abel_Pacheco_0001.jpg");
  EXPECT_EQ(l.pairs[0].b, "Abel_Pacheco/Abel_Pacheco_0004.jpg");
  EXPECT_TRUE(l.pairs[0].same);
  EXPECT_EQ(l.pairs[0].fold, 0);
  EXPECT_EQ(l.pairs[1].a, "Abdel_Madi_Shabneh/Abdel_Madi_Shabneh_0001.jpg");
  EXPECT_EQ(l.pairs[1].b, "Dean_Barker/Dean_Barker_0001.jpg");
  EXPECT_FALSE(l.pairs[1].same);
  EXPECT_EQ(l.pairs[1].fold, 0);
  EXPECT_EQ(l.pairs[2].b, "Ana_Claudia_Vasconcelos/Ana_Claudia_Vasconcelos_0013.jpg");
  EXPECT_EQ(l.pairs[2].fold, 1);
  EXPECT_TRUE(l.pairs[2].same);
  EXPECT_FALSE(l.pairs[3].same);
  EXPECT_EQ(l.pairs[3].line, 5u);
  EXPECT_EQ(l.same_count(), 2u);
  // pairsDevTrain.txt's header is one number: one fold.
  const PairList one = read_pairs(d.write("dev.txt", "1\nA 1 2\nA 1 B 1\n"));
  EXPECT_EQ(one.folds, 1);
  EXPECT_EQ(one.pairs.size(), 2u);
}

TEST(Pairs, ReadsAPlainListInTenFolds) {
  TempDir d;
  std::string text = "# a comment\n\n";
  for (int i = 0; i < 20; ++i) text += "x" + std::to_string(i) + ".jpg sub/y.jpg " + (i % 2 ? "0" : "1") + "\r\n";
  const PairList l = read_pairs(d.write("plain.txt", text));
  EXPECT_EQ(l.format, "plain");
  EXPECT_EQ(l.folds, 10);
  ASSERT_EQ(l.pairs.size(), 20u);
  EXPECT_EQ(l.pairs[0].a, "x0.jpg");
  EXPECT_EQ(l.pairs[0].b, "sub/y.jpg");
  EXPECT_EQ(l.pairs[0].line, 3u);
  for (size_t i = 0; i < 20; ++i) {
    EXPECT_EQ(l.pairs[i].fold, static_cast<int>(i / 2));
    EXPECT_EQ(l.pairs[i].same, i % 2 == 0);
  }
  // "folds F" first: F folds.
  const PairList four = read_pairs(d.write("four.txt", "# made by hand\nfolds 4\n" + text.substr(13)));
  EXPECT_EQ(four.folds, 4);
  ASSERT_EQ(four.pairs.size(), 20u);
  EXPECT_EQ(four.pairs[4].fold, 0);
  EXPECT_EQ(four.pairs[5].fold, 1);
  EXPECT_EQ(four.pairs[19].fold, 3);
}

TEST(Pairs, BadListsNameTheFileAndLine) {
  TempDir d;
  auto refused = [&](const std::string& text, std::initializer_list<std::string> needles) {
    const std::string p = d.write("bad.txt", text);
    expect_throw_with([&] { read_pairs(p); }, needles);
  };
  refused("", {"bad.txt: no pairs in the file"});
  refused("2 1\nA 1 2\nA 1 B 1\n", {"the header (line 1) promises 2 folds of 1 same-person", "the file has 2"});
  refused("1 1\nA 0 2\nA 1 B 1\n", {"bad.txt:2: photo number '0' is not a whole number from 1 to 9999"});
  refused("1 1\nA 1 x\nA 1 B 1\n", {"bad.txt:2: photo number 'x'"});
  refused("1 1\nA 1 2 3\nA 1 B 1\n", {"bad.txt:2: a same-person line is 'name n1 n2' (3 fields), got 4"});
  refused("1 1\nA 1 2\nA 1 B\n", {"bad.txt:3: a different-person line is 'name1 n1 name2 n2' (4 fields), got 3"});
  refused("1 1\n.. 1 2\nA 1 B 1\n", {"bad.txt:2: photo name '..' leaves the photo folder"});
  refused("0 5\n", {"bad.txt:1: the header says 0 folds of 5 pairs"});
  refused("folds 0\na.jpg b.jpg 1\n", {"bad.txt:1: 'folds N' needs N from 1 to 100, got 'folds 0'"});
  refused("folds 3\n", {"bad.txt: no pairs in the file"});
  refused("a.jpg b.jpg 2\n", {"bad.txt:1: expected 'photo_a photo_b 0|1'", "'a.jpg b.jpg 2'"});
  refused("a.jpg ../../etc/passwd 1\n", {"bad.txt:1: photo name '../../etc/passwd' leaves the photo folder"});
  refused("/etc/hostname b.jpg 0\n", {"bad.txt:1: photo name '/etc/hostname' leaves the photo folder"});
  refused("a.jpg b.jpg 1\nc\x1b[2J.jpg d.jpg 7\n", {"bad.txt:2:", "'c\\x1b[2J.jpg d.jpg 7'"});
  expect_throw_with([&] { read_pairs(d.file("none.txt")); }, {"none.txt: cannot open"});
}

// tools/make_pairs.py on a synthetic CelebA folder: the list reads back, each fold holds as many
// same-person as different-person pairs, the pairs are of the partition asked for, and no
// identity is in two folds.
TEST(Pairs, MakePairsWritesIdentityDisjointFolds) {
  TempDir d;
  const std::string data = d.file("data"), list = d.file("pairs.txt");
  const std::string synth = std::string(FF_CLI_PATH) + " synth --out " + data +
                            " --identities 12 --per-identity 4 --size 32 --seed 5 > /dev/null 2>&1";
  ASSERT_EQ(std::system(synth.c_str()), 0);
  const std::string tool = "python3 " + std::string(FF_SOURCE_DIR) + "/tools/make_pairs.py " + data + " --out " + list +
                           " --partition 0 --folds 3 --per-fold 2 > /dev/null";
  ASSERT_EQ(std::system(tool.c_str()), 0);
  const PairList l = read_pairs(list);
  EXPECT_EQ(l.format, "plain");
  EXPECT_EQ(l.folds, 3);
  ASSERT_EQ(l.pairs.size(), 12u);
  std::map<std::string, std::string> identity, partition;
  {
    std::ifstream f(data + "/identity_CelebA.txt");
    for (std::string file, id; f >> file >> id;) identity[file] = id;
    std::ifstream g(data + "/list_eval_partition.txt");
    for (std::string file, p; g >> file >> p;) partition[file] = p;
  }
  std::map<std::string, int> fold_of;
  std::vector<int> same(3, 0), diff(3, 0);
  for (const PhotoPair& p : l.pairs) {
    ASSERT_TRUE(identity.count(p.a) && identity.count(p.b)) << p.a << " " << p.b;
    EXPECT_EQ(partition[p.a], "0");
    EXPECT_EQ(partition[p.b], "0");
    EXPECT_NE(p.a, p.b);
    EXPECT_EQ(p.same, identity[p.a] == identity[p.b]) << p.a << " " << p.b;
    (p.same ? same : diff)[static_cast<size_t>(p.fold)]++;
    for (const std::string& f : {p.a, p.b}) {
      auto [it, fresh] = fold_of.emplace(identity[f], p.fold);
      EXPECT_EQ(it->second, p.fold) << "identity " << identity[f] << " in folds " << it->second << " and " << p.fold;
    }
  }
  EXPECT_EQ(same, (std::vector<int>{2, 2, 2}));
  EXPECT_EQ(diff, (std::vector<int>{2, 2, 2}));
  // Asking for more than the folder holds is one line and exit 1, and writes nothing.
  const std::string greedy = "python3 " + std::string(FF_SOURCE_DIR) + "/tools/make_pairs.py " + data + " --out " +
                             d.file("greedy.txt") + " --partition 0 --per-fold 500 2> /dev/null";
  EXPECT_NE(std::system(greedy.c_str()), 0);
  EXPECT_FALSE(std::filesystem::exists(d.file("greedy.txt")));
}

}  // namespace
}  // namespace ff::test
