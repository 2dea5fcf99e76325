// data/celeba.cpp — CelebA annotation readers/writers, the join by file name, the presence
// check and the parallel image loader.
#include "data/celeba.h"

#include "engine/safetensors.h"  // write_file_atomic

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

namespace ff {

namespace {

const char* const kBoxColumns[] = {"x_1", "y_1", "width", "height"};
const char* const kLandmarkColumns[] = {"lefteye_x",   "lefteye_y",   "righteye_x", "righteye_y",
                                        "nose_x",      "nose_y",      "leftmouth_x", "leftmouth_y",
                                        "rightmouth_x", "rightmouth_y"};

struct Line {
  size_t number = 0;  // 1-based
  std::vector<std::string> fields;
  std::string text;  // as read, for messages
};

std::vector<std::string> split_ws(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0, n = s.size();
  while (i < n) {
    while (i < n && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    size_t j = i;
    while (j < n && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// All lines of a text file, split on whitespace; blank lines are kept (with no fields) so line
// numbers stay true.
std::vector<Line> read_text(const std::string& path, const char* who) {
  std::ifstream f(path);
  if (!f) FF_FAIL(who, ": ", path, ": cannot open (", std::strerror(errno), ")");
  std::vector<Line> lines;
  std::string s;
  size_t number = 0;
  while (std::getline(f, s)) {
    ++number;
    if (!s.empty() && s.back() == '\r') s.pop_back();
    lines.push_back({number, split_ws(s), s});
  }
  if (f.bad()) FF_FAIL(who, ": ", path, ": read error (", std::strerror(errno), ")");
  return lines;
}

std::string where(const std::string& path, const Line& l) {
  return detail::cat(path, ":", l.number);
}

// A value from a file, for a message: cut at 120 bytes, control bytes (< 0x20, 0x7f) as \xNN so
// that a list file cannot drive the terminal.
std::string quoted(const std::string& s) {
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < 120; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += s[i];
    }
  }
  return out + (s.size() > 120 ? "...'" : "'");
}

bool parse_int(const std::string& s, long& v) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  v = std::strtol(s.c_str(), &end, 10);
  return errno == 0 && end == s.c_str() + s.size();
}

bool parse_float(const std::string& s, float& v) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  double d = std::strtod(s.c_str(), &end);
  if (errno != 0 || end != s.c_str() + s.size() || !std::isfinite(d)) return false;
  v = static_cast<float>(d);
  return std::isfinite(v);  // 1e39 is a finite double but an infinite float
}

// Rows of a headerless file with `nfields` fields each; checks duplicates.
std::vector<const Line*> plain_rows(const std::vector<Line>& lines, size_t nfields,
                                    const std::string& path, const char* who, const char* layout) {
  std::vector<const Line*> rows;
  std::unordered_map<std::string, size_t> seen;
  for (const Line& l : lines) {
    if (l.fields.empty()) continue;
    if (l.fields.size() != nfields)
      FF_FAIL(who, ": ", where(path, l), ": expected ", nfields, " fields (", layout, "), got ",
              l.fields.size(), ": ", quoted(l.text));
    auto [it, fresh] = seen.emplace(l.fields[0], l.number);
    if (!fresh)
      FF_FAIL(who, ": ", where(path, l), ": ", quoted(l.fields[0]), " is listed twice (first on line ", it->second,
              ")");
    rows.push_back(&l);
  }
  return rows;
}

// Rows of a file with a count line and a column-name line. The column names must be `columns`
// (an optional leading "image_id" is accepted, as list_bbox_celeba.txt has one and the landmark
// files do not). Checks the count and duplicates.
std::vector<const Line*> counted_rows(const std::vector<Line>& lines, const char* const* columns,
                                      size_t ncolumns, const std::string& path, const char* who) {
  std::string expected;
  for (size_t i = 0; i < ncolumns; ++i) expected += (i ? " " : "") + std::string(columns[i]);
  FF_CHECK(!lines.empty() && !lines[0].fields.empty(), who, ": ", path,
           ": line 1 should be the number of rows, but the file is empty or starts with a blank line");
  long count = 0;
  if (lines[0].fields.size() != 1 || !parse_int(lines[0].fields[0], count) || count < 0)
    FF_FAIL(who, ": ", path, ":1: line 1 should be the number of rows, got ", quoted(lines[0].text));
  FF_CHECK(lines.size() >= 2, who, ": ", path, ": line 2 should name the columns (", expected,
           "), but the file ends after line 1");
  std::vector<std::string> header = lines[1].fields;
  if (!header.empty() && header[0] == "image_id") header.erase(header.begin());
  bool ok = header.size() == ncolumns;
  for (size_t i = 0; ok && i < ncolumns; ++i) ok = header[i] == columns[i];
  if (!ok)
    FF_FAIL(who, ": ", path, ":2: expected the column names ", quoted(expected), ", got ",
            quoted(lines[1].text));
  std::vector<const Line*> rows;
  std::unordered_map<std::string, size_t> seen;
  for (size_t i = 2; i < lines.size(); ++i) {
    const Line& l = lines[i];
    if (l.fields.empty()) continue;
    if (l.fields.size() != ncolumns + 1)
      FF_FAIL(who, ": ", where(path, l), ": expected ", ncolumns + 1, " fields (file name and ",
              expected, "), got ", l.fields.size(), ": ", quoted(l.text));
    auto [it, fresh] = seen.emplace(l.fields[0], l.number);
    if (!fresh)
      FF_FAIL(who, ": ", where(path, l), ": ", quoted(l.fields[0]), " is listed twice (first on line ", it->second,
              ")");
    rows.push_back(&l);
  }
  if (static_cast<size_t>(count) != rows.size())
    FF_FAIL(who, ": ", path, ": line 1 says ", count, " rows, but the file has ", rows.size());
  return rows;
}

void read_numbers(const Line& l, size_t first, size_t n, float* out, const std::string& path,
                  const char* who) {
  for (size_t i = 0; i < n; ++i)
    if (!parse_float(l.fields[first + i], out[i]))
      FF_FAIL(who, ": ", where(path, l), ": field ", first + i + 1,
              " is not a number (finite as a 32-bit float): ", quoted(l.fields[first + i]));
}

std::string fmt_num(float v) {
  double d = v, r = std::round(d);
  if (std::fabs(d - r) < 1e-6) return std::to_string(static_cast<long long>(r));
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.2f", d);
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

void check_file_name(const std::string& f, const char* who, const std::string& path) {
  FF_CHECK(!f.empty() && split_ws(f).size() == 1 && split_ws(f)[0] == f, who, ": ", path,
           ": file name ", quoted(f), " is empty or contains whitespace");
}

}  // namespace

const char* landmark_name(int i) {
  static const char* const names[] = {"left eye", "right eye", "nose", "left mouth", "right mouth"};
  FF_CHECK(i >= 0 && i < 5, "landmark_name: index ", i, " is not in 0..4");
  return names[i];
}

// ---------------------------------------------------------------- readers
std::vector<IdentityRow> read_identities(const std::string& path) {
  const char* who = "read_identities";
  std::vector<Line> lines = read_text(path, who);
  std::vector<IdentityRow> out;
  for (const Line* l : plain_rows(lines, 2, path, who, "file identity")) {
    long id = 0;
    if (!parse_int(l->fields[1], id) || id < 0 || id > 0x7fffffff)
      FF_FAIL(who, ": ", where(path, *l), ": identity ", quoted(l->fields[1]),
              " is not a non-negative integer");
    out.push_back({l->fields[0], static_cast<int>(id), l->number});
  }
  return out;
}

std::vector<PartitionRow> read_partitions(const std::string& path) {
  const char* who = "read_partitions";
  std::vector<Line> lines = read_text(path, who);
  std::vector<PartitionRow> out;
  for (const Line* l : plain_rows(lines, 2, path, who, "file partition")) {
    long p = 0;
    if (!parse_int(l->fields[1], p) || p < 0 || p > 2)
      FF_FAIL(who, ": ", where(path, *l), ": partition ", quoted(l->fields[1]),
              " is not 0, 1 or 2");
    out.push_back({l->fields[0], static_cast<int>(p), l->number});
  }
  return out;
}

std::vector<BoxRow> read_boxes(const std::string& path) {
  const char* who = "read_boxes";
  std::vector<Line> lines = read_text(path, who);
  std::vector<BoxRow> out;
  for (const Line* l : counted_rows(lines, kBoxColumns, 4, path, who)) {
    float v[4];
    read_numbers(*l, 1, 4, v, path, who);
    if (!(v[2] > 0) || !(v[3] > 0))
      FF_FAIL(who, ": ", where(path, *l),
              ": the box has no area (width and height must be positive): ", quoted(l->text));
    out.push_back({l->fields[0], FaceBox{v[0], v[1], v[2], v[3]}, l->number});
  }
  return out;
}

std::vector<LandmarkRow> read_landmarks(const std::string& path) {
  const char* who = "read_landmarks";
  std::vector<Line> lines = read_text(path, who);
  std::vector<LandmarkRow> out;
  for (const Line* l : counted_rows(lines, kLandmarkColumns, 10, path, who)) {
    float v[10];
    read_numbers(*l, 1, 10, v, path, who);
    LandmarkRow r;
    r.file = l->fields[0];
    r.line = l->number;
    for (int k = 0; k < 5; ++k) r.points[k] = Point2{v[2 * k], v[2 * k + 1]};
    out.push_back(r);
  }
  return out;
}

// ---------------------------------------------------------------- writers
void write_identities(const std::string& path, const std::vector<IdentityRow>& rows) {
  std::ostringstream os;
  for (const IdentityRow& r : rows) {
    check_file_name(r.file, "write_identities", path);
    FF_CHECK(r.identity >= 0, "write_identities: ", path, ": negative identity for ", r.file);
    os << r.file << ' ' << r.identity << '\n';
  }
  write_file_atomic(path, os.str(), "write_identities");
}

void write_partitions(const std::string& path, const std::vector<PartitionRow>& rows) {
  std::ostringstream os;
  for (const PartitionRow& r : rows) {
    check_file_name(r.file, "write_partitions", path);
    FF_CHECK(r.partition >= 0 && r.partition <= 2, "write_partitions: ", path, ": partition ",
             r.partition, " for ", r.file, " is not 0, 1 or 2");
    os << r.file << ' ' << r.partition << '\n';
  }
  write_file_atomic(path, os.str(), "write_partitions");
}

void write_boxes(const std::string& path, const std::vector<BoxRow>& rows) {
  std::ostringstream os;
  os << rows.size() << "\nimage_id";
  for (const char* c : kBoxColumns) os << ' ' << c;
  os << '\n';
  for (const BoxRow& r : rows) {
    check_file_name(r.file, "write_boxes", path);
    os << r.file << ' ' << fmt_num(r.box.x) << ' ' << fmt_num(r.box.y) << ' '
       << fmt_num(r.box.width) << ' ' << fmt_num(r.box.height) << '\n';
  }
  write_file_atomic(path, os.str(), "write_boxes");
}

void write_landmarks(const std::string& path, const std::vector<LandmarkRow>& rows) {
  std::ostringstream os;
  os << rows.size() << '\n';
  for (size_t i = 0; i < 10; ++i) os << (i ? " " : "") << kLandmarkColumns[i];
  os << '\n';
  for (const LandmarkRow& r : rows) {
    check_file_name(r.file, "write_landmarks", path);
    os << r.file;
    for (const Point2& p : r.points) os << ' ' << fmt_num(p.x) << ' ' << fmt_num(p.y);
    os << '\n';
  }
  write_file_atomic(path, os.str(), "write_landmarks");
}

// ---------------------------------------------------------------- the joined dataset
CelebAFiles CelebAFiles::aligned() {
  CelebAFiles f;
  f.image_dir = "img_align_celeba";
  f.boxes = "";
  f.landmarks = "list_landmarks_align_celeba.txt";
  return f;
}

std::vector<size_t> FaceSet::partition(int p, int64_t limit) const {
  std::vector<size_t> out;
  for (size_t i = 0; i < faces.size(); ++i) {
    if (limit > 0 && static_cast<int64_t>(out.size()) >= limit) break;
    if (faces[i].partition == p) out.push_back(i);
  }
  return out;
}

void FaceSet::relabel() {
  identities.clear();
  for (const FaceRecord& f : faces) identities.push_back(f.identity);
  std::sort(identities.begin(), identities.end());
  identities.erase(std::unique(identities.begin(), identities.end()), identities.end());
  for (FaceRecord& f : faces)
    f.label = static_cast<int>(std::lower_bound(identities.begin(), identities.end(), f.identity) - identities.begin());
}

namespace {
namespace fs = std::filesystem;

std::string join_path(const std::string& a, const std::string& b) {
  return (fs::path(a) / b).string();
}

// Index of each file of the identity list; rows of another file naming unknown images are an
// error naming how many and the first few.
template <typename Row>
void check_known(const std::vector<Row>& rows, const std::unordered_map<std::string, size_t>& index,
                 const std::string& path, const std::string& ids_path) {
  size_t unknown = 0;
  std::string examples;
  for (const Row& r : rows)
    if (!index.count(r.file)) {
      if (unknown < 5) examples += (unknown ? ", " : "") + quoted(r.file);
      ++unknown;
    }
  if (unknown)
    FF_FAIL("load_faces: ", path, ": ", unknown, " rows name images that ", ids_path,
            " does not list (", examples, unknown > 5 ? ", ..." : "", ")");
}

bool file_exists(const std::string& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}
}  // namespace

ImageFolder::ImageFolder(const std::string& d) : dir(d) {
  std::error_code ec;
  const fs::path c = fs::weakly_canonical(d, ec);
  canonical = (ec ? fs::absolute(d).lexically_normal() : c).string();
}

std::string ImageFolder::path_of(const std::string& name, const std::string& list, size_t line) const {
  const fs::path n(name);
  bool leaves = n.empty() || n.has_root_name() || n.has_root_directory();
  for (const fs::path& part : n) leaves = leaves || part == "..";
  if (!leaves) {  // through symlinks: the resolved path must stay under the folder
    std::error_code ec;
    const fs::path full = fs::weakly_canonical(fs::path(canonical) / n, ec);
    const fs::path rel = full.lexically_relative(canonical);
    leaves = ec || rel.empty() || *rel.begin() == "..";
  }
  if (leaves)
    FF_FAIL(list, line ? ":" + std::to_string(line) : std::string(), ": image name ", quoted(name),
            " leaves the image folder ", dir,
            " (names must be relative, without '..', and not resolve outside it through a symlink)");
  return join_path(dir, name);
}

std::string quote_for_message(const std::string& s) { return quoted(s); }

FaceSet load_faces(const std::string& root, FaceFilter keep, const CelebAFiles& files) {
  std::error_code ec;
  FF_CHECK(fs::exists(root, ec), "data folder ", root, " does not exist");
  FF_CHECK(fs::is_directory(root, ec), "data folder ", root, " is not a folder");
  FF_CHECK(file_exists(join_path(root, files.identities)), "data folder ", root, " holds no ", files.identities,
           " (expected a dataset in CelebA's layout, e.g. written by `faceforge synth`)");
  const bool need_box = keep == FaceFilter::BoxAndLandmarks, need_landmarks = keep != FaceFilter::All;
  if (need_box)
    FF_CHECK(!files.boxes.empty() && file_exists(join_path(root, files.boxes)), "data folder ", root, " has no ",
             files.boxes, " (the face boxes are needed here)");
  if (need_landmarks)
    FF_CHECK(!files.landmarks.empty() && file_exists(join_path(root, files.landmarks)), "data folder ", root,
             " has no ", files.landmarks, " (the five landmarks of each face are needed here)");
  FaceSet ds;
  ds.root = root;
  ds.image_dir = join_path(root, files.image_dir);

  const std::string ids_path = join_path(root, files.identities);
  std::vector<IdentityRow> ids = read_identities(ids_path);
  std::unordered_map<std::string, size_t> index;
  ds.faces.reserve(ids.size());
  const ImageFolder folder(ds.image_dir);
  for (const IdentityRow& r : ids) {
    index.emplace(r.file, ds.faces.size());
    FaceRecord e;
    e.file = r.file;
    e.path = folder.path_of(r.file, ids_path, r.line);
    e.identity = r.identity;
    e.partition = -1;
    ds.faces.push_back(std::move(e));
  }
  ds.listed = ds.faces.size();

  const std::string part_path = join_path(root, files.partitions);
  std::vector<PartitionRow> parts = read_partitions(part_path);
  check_known(parts, index, part_path, ids_path);
  for (const PartitionRow& r : parts) ds.faces[index.at(r.file)].partition = r.partition;
  size_t unassigned = 0;
  std::string examples;
  for (const FaceRecord& e : ds.faces)
    if (e.partition < 0) {
      if (unassigned < 5) examples += (unassigned ? ", " : "") + quoted(e.file);
      ++unassigned;
    }
  if (unassigned)
    FF_FAIL("load_faces: ", part_path, ": ", unassigned, " images of ", ids_path,
            " have no partition (", examples, unassigned > 5 ? ", ..." : "", ")");

  if (!files.boxes.empty() && file_exists(join_path(root, files.boxes))) {
    const std::string p = join_path(root, files.boxes);
    std::vector<BoxRow> rows = read_boxes(p);
    check_known(rows, index, p, ids_path);
    for (const BoxRow& r : rows) {
      ds.faces[index.at(r.file)].box = r.box;
      ds.faces[index.at(r.file)].box_line = r.line;
    }
    ds.num_boxes = rows.size();
    ds.box_file = p;
  }
  if (!files.landmarks.empty() && file_exists(join_path(root, files.landmarks))) {
    const std::string p = join_path(root, files.landmarks);
    std::vector<LandmarkRow> rows = read_landmarks(p);
    check_known(rows, index, p, ids_path);
    for (const LandmarkRow& r : rows) {
      ds.faces[index.at(r.file)].landmarks = r.points;
      ds.faces[index.at(r.file)].landmark_line = r.line;
    }
    ds.num_landmarks = rows.size();
    ds.landmark_file = p;
  }

  if (need_landmarks) {
    std::vector<FaceRecord> kept;
    for (FaceRecord& f : ds.faces)
      if (f.landmarks && (f.box || !need_box)) kept.push_back(std::move(f));
    ds.faces = std::move(kept);
    FF_CHECK(!ds.faces.empty(), "data folder ", root, ": none of its ", ds.listed, " images has ",
             need_box ? "both a face box and landmarks" : "landmarks");
  }
  ds.relabel();
  check_images_present(ds);
  return ds;
}

std::vector<std::string> missing_images(const FaceSet& ds) {
  std::vector<std::string> out;
  for (const FaceRecord& e : ds.faces)
    if (!file_exists(e.path)) out.push_back(e.file);
  return out;
}

void check_images_present(const FaceSet& ds) {
  const std::vector<std::string> miss = missing_images(ds);
  if (miss.empty()) return;
  std::string list;
  for (size_t i = 0; i < miss.size() && i < 10; ++i) list += (i ? ", " : "") + quoted(miss[i]);
  FF_FAIL("check_images_present: ", miss.size(), " of ", ds.faces.size(), " images listed in ",
          ds.root, " are missing from ", ds.image_dir, ": ", list, miss.size() > 10 ? ", ..." : "");
}

// ---------------------------------------------------------------- faces against their photos
namespace {
const char* const kPointsOutside = "points outside the photo";
const char* const kBoxOutside = "box outside the photo";
const char* const kEyesCoincide = "eye points that coincide";

// Why the face does not fit a W x H photo, or nullptr.
const char* misfit(const FaceRecord& f, int W, int H) {
  // Points 0 and 1 are the eyes: their distance normalises every landmark error (NME) and sets the
  // alignment's scale, so a face whose eyes coincide cannot be trained or scored.
  if (f.landmarks && f.landmarks->size() >= 2 && (*f.landmarks)[0].x == (*f.landmarks)[1].x &&
      (*f.landmarks)[0].y == (*f.landmarks)[1].y)
    return kEyesCoincide;
  if (f.landmarks)
    for (const Point2& p : *f.landmarks)
      if (!(p.x >= -0.5 && p.x <= W - 0.5 && p.y >= -0.5 && p.y <= H - 0.5)) return kPointsOutside;
  if (f.box) {
    const double x0 = f.box->x - 0.5, y0 = f.box->y - 0.5, x1 = x0 + f.box->width, y1 = y0 + f.box->height;
    const double ix = std::min(x1, W - 0.5) - std::max(x0, -0.5), iy = std::min(y1, H - 0.5) - std::max(y0, -0.5);
    const double inside = ix > 0 && iy > 0 ? ix * iy : 0.0;
    if (!(inside >= 0.5 * static_cast<double>(f.box->width) * f.box->height)) return kBoxOutside;
  }
  return nullptr;
}

std::string csv_field(const std::string& s) {  // RFC 4180: quoted when it holds , " CR or LF
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}
}  // namespace

FaceSkips drop_faces_outside_photos(FaceSet& ds) {
  const int64_t n = static_cast<int64_t>(ds.faces.size());
  std::vector<const char*> why(ds.faces.size(), nullptr);
  std::vector<std::string> errors(ds.faces.size());
#pragma omp parallel for schedule(dynamic, 64)
  for (int64_t i = 0; i < n; ++i) {
    const FaceRecord& f = ds.faces[i];
    if (!f.box && !f.landmarks) continue;
    try {
      const ImageSize sz = image_size(f.path);
      why[i] = misfit(f, sz.width, sz.height);
    } catch (const std::exception& e) {
      errors[i] = e.what();
    }
  }
  FaceSkips out;
  std::vector<FaceRecord> kept;
  for (size_t i = 0; i < ds.faces.size(); ++i) {
    if (!errors[i].empty()) throw Error(errors[i]);
    FaceRecord& f = ds.faces[i];
    if (f.box || f.landmarks) ++out.checked;
    if (!why[i]) {
      kept.push_back(std::move(f));
      continue;
    }
    const bool points = why[i] == kPointsOutside || why[i] == kEyesCoincide;
    out.skipped.push_back(
        {points ? ds.landmark_file : ds.box_file, points ? f.landmark_line : f.box_line, f.file, why[i]});
  }
  ds.faces = std::move(kept);
  if (!out.skipped.empty()) ds.relabel();
  return out;
}

std::string FaceSkips::summary() const {
  if (skipped.empty()) return "";
  std::string s = detail::cat("skipped ", skipped.size(), " of ", checked, " faces:");
  bool first_reason = true;
  for (const char* reason : {kPointsOutside, kBoxOutside, kEyesCoincide}) {
    size_t count = 0;
    const SkippedFace* first = nullptr;
    for (const SkippedFace& f : skipped)
      if (f.reason == reason && count++ == 0) first = &f;
    if (!count) continue;
    s += detail::cat(first_reason ? " " : ", ", count, " ", reason, " (first: ", first->list, ":", first->line, " ",
                     quoted(first->image), ")");
    first_reason = false;
  }
  return s;
}

std::string FaceSkips::csv() const {
  std::string s = "file,line,image,reason\n";
  for (const SkippedFace& f : skipped)
    s += csv_field(f.list) + "," + std::to_string(f.line) + "," + csv_field(f.image) + "," + csv_field(f.reason) + "\n";
  return s;
}

void report_skipped_faces(const FaceSkips& skips, const std::string& who, const std::string& csv_path) {
  if (!skips.skipped.empty()) std::fprintf(stderr, "%s: %s\n", who.c_str(), skips.summary().c_str());
  write_file_atomic(csv_path, skips.csv(), "skipped faces");
}

std::string LoadedImages::summary() const {
  std::string s = detail::cat("decoded ", images.size(), " of ", images.size() + failed, " images");
  if (failed) s += detail::cat("; ", failed, " failed (first: ", errors.front(), ")");
  return s;
}

LoadedImages load_celeba_images(const FaceSet& ds, const std::vector<size_t>& indices,
                                bool skip_failures, int channels) {
  for (size_t i : indices)
    FF_CHECK(i < ds.faces.size(), "load_celeba_images: index ", i, " out of range (dataset has ",
             ds.faces.size(), " images)");
  FF_CHECK(channels == 1 || channels == 3, "load_celeba_images: channels must be 1 or 3, got ", channels);
  const int64_t n = static_cast<int64_t>(indices.size());
  std::vector<Image> images(n);
  std::vector<std::string> errors(n);
#pragma omp parallel for schedule(dynamic, 8)
  for (int64_t k = 0; k < n; ++k) {
    try {
      images[k] = load_image(ds.faces[indices[k]].path, channels);
    } catch (const std::exception& e) {  // ff::Error, or bad_alloc on an absurd header
      errors[k] = e.what();
    }
  }
  LoadedImages out;
  for (int64_t k = 0; k < n; ++k) {
    if (!errors[k].empty()) {
      if (!skip_failures) throw Error(errors[k]);
      ++out.failed;
      out.errors.push_back(std::move(errors[k]));
      continue;
    }
    out.images.push_back(std::move(images[k]));
    out.indices.push_back(indices[k]);
  }
  return out;
}

}  // namespace ff
