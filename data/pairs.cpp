// data/pairs.cpp — see data/pairs.h.
#include "data/pairs.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/celeba.h"
#include "engine/error.h"

namespace ff {
namespace {

struct Row {
  size_t line = 0;
  std::string text;
  std::vector<std::string> fields;
};

std::vector<Row> read_rows(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  FF_CHECK(f.is_open(), "read_pairs: ", path, ": cannot open (", std::strerror(errno), ")");
  std::vector<Row> rows;
  size_t n = 0;
  for (std::string text; std::getline(f, text);) {
    ++n;
    if (!text.empty() && text.back() == '\r') text.pop_back();
    Row r{n, text, {}};
    std::istringstream is(text);
    for (std::string w; is >> w;) r.fields.push_back(w);
    if (r.fields.empty() || r.fields[0][0] == '#') continue;
    rows.push_back(std::move(r));
  }
  FF_CHECK(!f.bad(), "read_pairs: ", path, ": read error (", std::strerror(errno), ")");
  return rows;
}

bool whole_number(const std::string& s, long& v) {
  if (s.empty() || s[0] == '-' || s[0] == '+') return false;
  char* end = nullptr;
  errno = 0;
  v = std::strtol(s.c_str(), &end, 10);
  return errno == 0 && end == s.c_str() + s.size();
}

std::string where(const std::string& path, const Row& r) { return path + ":" + std::to_string(r.line); }

// A name from the list must stay inside the photo folder: relative and without '..'.
void check_name(const std::string& name, const std::string& path, const Row& r) {
  const std::filesystem::path p(name);
  bool leaves = p.has_root_name() || p.has_root_directory();
  for (const auto& part : p) leaves = leaves || part == "..";
  FF_CHECK(!leaves, "read_pairs: ", where(path, r), ": photo name ", quote_for_message(name),
           " leaves the photo folder (names must be relative, without '..')");
}

long photo_number(const std::string& s, const std::string& path, const Row& r) {
  long n = 0;
  FF_CHECK(whole_number(s, n) && n >= 1 && n <= 9999, "read_pairs: ", where(path, r), ": photo number ",
           quote_for_message(s), " is not a whole number from 1 to 9999: ", quote_for_message(r.text));
  return n;
}

std::string lfw_photo(const std::string& name, long n) {
  char num[16];
  std::snprintf(num, sizeof num, "_%04ld.jpg", n);
  return name + "/" + name + num;
}

PairList read_lfw(const std::string& path, const std::vector<Row>& rows, long folds, long per_class) {
  PairList out;
  out.path = path;
  out.format = "lfw";
  out.folds = static_cast<int>(folds);
  const size_t want = static_cast<size_t>(folds) * static_cast<size_t>(per_class) * 2;
  FF_CHECK(rows.size() - 1 == want, "read_pairs: ", path, ": the header (line ", rows[0].line, ") promises ", folds,
           " folds of ", per_class, " same-person and ", per_class, " different-person pairs (", want,
           " lines), the file has ", rows.size() - 1);
  for (size_t i = 1; i < rows.size(); ++i) {
    const Row& r = rows[i];
    const size_t k = i - 1;
    PhotoPair p;
    p.line = r.line;
    p.fold = static_cast<int>(k / (2 * static_cast<size_t>(per_class)));
    p.same = k % (2 * static_cast<size_t>(per_class)) < static_cast<size_t>(per_class);
    if (p.same) {
      FF_CHECK(r.fields.size() == 3, "read_pairs: ", where(path, r),
               ": a same-person line is 'name n1 n2' (3 fields), got ", r.fields.size(), ": ",
               quote_for_message(r.text));
      check_name(r.fields[0], path, r);
      p.a = lfw_photo(r.fields[0], photo_number(r.fields[1], path, r));
      p.b = lfw_photo(r.fields[0], photo_number(r.fields[2], path, r));
    } else {
      FF_CHECK(r.fields.size() == 4, "read_pairs: ", where(path, r),
               ": a different-person line is 'name1 n1 name2 n2' (4 fields), got ", r.fields.size(), ": ",
               quote_for_message(r.text));
      check_name(r.fields[0], path, r);
      check_name(r.fields[2], path, r);
      p.a = lfw_photo(r.fields[0], photo_number(r.fields[1], path, r));
      p.b = lfw_photo(r.fields[2], photo_number(r.fields[3], path, r));
    }
    out.pairs.push_back(std::move(p));
  }
  return out;
}

PairList read_plain(const std::string& path, std::vector<Row> rows) {
  PairList out;
  out.path = path;
  out.format = "plain";
  long folds = 10;
  if (rows[0].fields.size() == 2 && rows[0].fields[0] == "folds") {  // the optional "folds N" line
    FF_CHECK(whole_number(rows[0].fields[1], folds) && folds >= 1 && folds <= 100, "read_pairs: ", where(path, rows[0]),
             ": 'folds N' needs N from 1 to 100, got ", quote_for_message(rows[0].text));
    rows.erase(rows.begin());
    FF_CHECK(!rows.empty(), "read_pairs: ", path, ": no pairs in the file");
  }
  out.folds = static_cast<int>(std::min<size_t>(static_cast<size_t>(folds), rows.size()));
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    FF_CHECK(r.fields.size() == 3 && (r.fields[2] == "0" || r.fields[2] == "1"), "read_pairs: ", where(path, r),
             ": expected 'photo_a photo_b 0|1' (1: the same person), got ", quote_for_message(r.text));
    check_name(r.fields[0], path, r);
    check_name(r.fields[1], path, r);
    PhotoPair p;
    p.a = r.fields[0];
    p.b = r.fields[1];
    p.same = r.fields[2] == "1";
    p.line = r.line;
    p.fold = static_cast<int>(i * static_cast<size_t>(out.folds) / rows.size());
    out.pairs.push_back(std::move(p));
  }
  return out;
}

}  // namespace

size_t PairList::same_count() const {
  size_t n = 0;
  for (const PhotoPair& p : pairs) n += p.same;
  return n;
}

PairList read_pairs(const std::string& path) {
  const std::vector<Row> rows = read_rows(path);
  FF_CHECK(!rows.empty(), "read_pairs: ", path, ": no pairs in the file");
  const Row& head = rows[0];
  long a = 0, b = 0;
  // LFW's header: "FOLDS N" or "N" (pairsDevTrain.txt: one fold); a plain list's first line has 3 fields.
  if (head.fields.size() == 2 && whole_number(head.fields[0], a) && whole_number(head.fields[1], b)) {
    FF_CHECK(a >= 1 && a <= 100 && b >= 1 && b <= 1000000, "read_pairs: ", where(path, head), ": the header says ", a,
             " folds of ", b, " pairs (allowed 1..100 folds, 1..1000000 pairs)");
    return read_lfw(path, rows, a, b);
  }
  if (head.fields.size() == 1 && whole_number(head.fields[0], b)) {
    FF_CHECK(b >= 1 && b <= 1000000, "read_pairs: ", where(path, head), ": the header says ", b,
             " pairs (allowed 1..1000000)");
    return read_lfw(path, rows, 1, b);
  }
  return read_plain(path, rows);
}

}  // namespace ff
