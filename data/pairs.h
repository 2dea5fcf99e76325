// data/pairs.h — lists of photo pairs for face verification (issue 14's eval-verify reads them).
// Two formats, told apart by their first line:
//
//   LFW's pairs.txt: a header "FOLDS N" (or "N": one fold), then for each fold N same-person lines
//   "name n1 n2" and N different-person lines "name1 n1 name2 n2". A person's photo n is
//   name/name_000n.jpg (LFW's layout: "Aaron_Peirsol 1 2" is Aaron_Peirsol/Aaron_Peirsol_0001.jpg
//   and .../Aaron_Peirsol_0002.jpg).
//   A plain list: lines "a.jpg b.jpg 1" (1: the same person, 0: two people), paths relative to
//   the photo folder; blank lines and lines starting with '#' are skipped. An optional first
//   line "folds F" (default 10) splits the pairs into F folds in order (pair i of n in fold
//   F * i / n), as tools/make_pairs.py writes them.
//
// Every name must stay inside the photo folder (relative, no '..'); a malformed line is an
// ff::Error naming the file and line.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace ff {

struct PhotoPair {
  std::string a, b;   // photo paths, relative to the photo folder
  bool same = false;  // the same person
  int fold = 0;       // 0 .. folds - 1
  size_t line = 0;    // where it is in the list file
};

struct PairList {
  std::string path;
  std::string format;  // "lfw" or "plain"
  int folds = 0;
  std::vector<PhotoPair> pairs;  // in file order
  size_t same_count() const;
};

// Reads either format (above). Refuses an empty list, a header that disagrees with the lines that
// follow it, a photo number below 1, a label other than 0 or 1, and names that leave the folder.
PairList read_pairs(const std::string& path);

}  // namespace ff
