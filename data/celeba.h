// data/celeba.h — readers and writers for CelebA's annotation files exactly as distributed, and the
// face record every task uses: a dataset joined from those files by file name (load_faces).
//
// Formats (any run of spaces or tabs separates fields; CRLF line ends and trailing blank lines are
// accepted; values may be integers, as CelebA writes them, or decimals):
//   identity_CelebA.txt            `file identity`, no header
//   list_eval_partition.txt        `file 0|1|2`  (0 train, 1 validation, 2 test), no header
//   list_bbox_celeba.txt           line 1: the row count; line 2: `image_id x_1 y_1 width height`;
//                                  then `file x_1 y_1 width height`
//   list_landmarks_celeba.txt,     line 1: the row count; line 2: `lefteye_x lefteye_y righteye_x
//   list_landmarks_align_celeba.txt  righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x
//                                  rightmouth_y`; then `file` and the ten numbers
// "left" is the image's left (the smaller x on an upright face), as in CelebA. Coordinates are
// pixels of the image the file describes, pixel centres at integers (data/image.h).
//
// Every problem is an ff::Error naming the file and, for a row, its line number: a count line that
// disagrees with the rows, a wrong column header, a row with the wrong number of fields or a value
// that is not a number, a file listed twice, rows naming images the identity file does not list.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/geometry.h"
#include "data/image.h"

namespace ff {

// Points are data/geometry.h's Point2 (double x, y), so annotations feed the alignment directly.
// A face box, CelebA's x_1 y_1 width height: the top-left corner and the size, in pixels.
struct FaceBox {
  float x = 0, y = 0, width = 0, height = 0;
};

// The five CelebA landmarks, in the files' order.
enum LandmarkIndex : int { kLeftEye = 0, kRightEye = 1, kNose = 2, kLeftMouth = 3, kRightMouth = 4 };
using Landmarks5 = std::array<Point2, 5>;
const char* landmark_name(int i);  // "left eye", "right eye", "nose", "left mouth", "right mouth"

struct IdentityRow {
  std::string file;
  int identity = 0;  // CelebA's identity number (1..10177 in CelebA), >= 0
  size_t line = 0;   // the row's line in the file read (0: not read from a file)
};
struct PartitionRow {
  std::string file;
  int partition = 0;  // 0 train, 1 validation, 2 test
  size_t line = 0;
};
struct BoxRow {
  std::string file;
  FaceBox box;
  size_t line = 0;
};
struct LandmarkRow {
  std::string file;
  Landmarks5 points;
  size_t line = 0;
};

// ---------------------------------------------------------------- single files
std::vector<IdentityRow> read_identities(const std::string& path);
std::vector<PartitionRow> read_partitions(const std::string& path);
std::vector<BoxRow> read_boxes(const std::string& path);
// Reads list_landmarks_celeba.txt and list_landmarks_align_celeba.txt alike.
std::vector<LandmarkRow> read_landmarks(const std::string& path);

// Writers produce the same layouts (single spaces; whole numbers without decimals, others with at
// most two). Each file is written to a temporary name and renamed.
void write_identities(const std::string& path, const std::vector<IdentityRow>& rows);
void write_partitions(const std::string& path, const std::vector<PartitionRow>& rows);
void write_boxes(const std::string& path, const std::vector<BoxRow>& rows);
void write_landmarks(const std::string& path, const std::vector<LandmarkRow>& rows);

// ---------------------------------------------------------------- the joined dataset
// Which files make a dataset, relative to its root folder.
struct CelebAFiles {
  std::string image_dir = "img_celeba";
  std::string identities = "identity_CelebA.txt";       // required
  std::string partitions = "list_eval_partition.txt";   // required
  std::string boxes = "list_bbox_celeba.txt";           // optional: "" or no such file -> no boxes
  std::string landmarks = "list_landmarks_celeba.txt";  // optional, likewise
  // CelebA's aligned release: img_align_celeba with list_landmarks_align_celeba.txt; its boxes
  // describe the in-the-wild images, so none are attached.
  static CelebAFiles aligned();
};

// One image of a dataset: the face record of every task (landmarks, embedding, the pipeline).
struct FaceRecord {
  std::string file;  // "000001.jpg"
  std::string path;  // root/image_dir/file
  int identity = 0;  // CelebA's identity number
  int label = 0;     // 0 .. num_identities()-1: the rank of `identity` among the set's identities
  int partition = 0; // 0 train, 1 validation, 2 test
  std::optional<FaceBox> box;
  std::optional<Landmarks5> landmarks;
  size_t box_line = 0, landmark_line = 0;  // their rows in FaceSet::box_file and landmark_file
};

struct FaceSet {
  std::string root, image_dir;        // image_dir = root/files.image_dir
  std::vector<FaceRecord> faces;      // in the identity file's order
  std::vector<int> identities;        // sorted distinct identity numbers of `faces`: label i is identities[i]
  size_t listed = 0;                  // images the identity file lists (faces may be fewer: FaceFilter)
  size_t num_boxes = 0, num_landmarks = 0;  // rows of the box and landmark files
  std::string box_file, landmark_file;      // their paths ("" when not read)

  size_t size() const { return faces.size(); }
  int num_identities() const { return static_cast<int>(identities.size()); }
  // Indices of the faces in partition p, in order; at most `limit` of them when limit > 0.
  std::vector<size_t> partition(int p, int64_t limit = 0) const;
  // Recomputes `identities` and every face's `label` from the faces (after faces were dropped).
  void relabel();
};

// Which images load_faces keeps.
enum class FaceFilter {
  All,              // every listed image
  Landmarks,        // those with five landmarks (the embedding aligns by them)
  BoxAndLandmarks,  // those with a face box and five landmarks (the landmark network)
};

// A value from a user's file, for a message: in single quotes, cut at 120 bytes, control bytes as
// \xNN (a list file must not drive the terminal).
std::string quote_for_message(const std::string& s);

// Reads and joins DIR's files. Every image of the identity file must have a partition; boxes and
// landmarks may cover a part of the images; rows of any file naming images the identity file does
// not list are an error. Then keeps the images `keep` asks for, and checks that they exist on disk
// (not decoded; see load_celeba_images). Throws a one-line ff::Error when DIR is missing, lacks a
// file the filter needs, keeps no image (Landmarks, BoxAndLandmarks), or misses image files (naming the first ten).
FaceSet load_faces(const std::string& dir, FaceFilter keep = FaceFilter::All, const CelebAFiles& files = {});

// Where the images of a list file live. path_of refuses, naming list:line, an image name that is
// absolute, has a `..` component, or resolves outside the folder (weakly_canonical of the joined
// path must lie under the folder's canonical path: the folder itself may be a symlink, a file in
// it may not point elsewhere). line 0: the list has no line numbers (faces.json).
struct ImageFolder {
  explicit ImageFolder(const std::string& dir);
  std::string path_of(const std::string& name, const std::string& list, size_t line) const;
  std::string dir, canonical;
};

// The listed images that are not regular files on disk (file names, in the dataset's order).
std::vector<std::string> missing_images(const FaceSet& ds);
// Throws when any listed image is missing, naming how many and the first ten.
void check_images_present(const FaceSet& ds);

// Faces left out because their annotations do not fit their photo.
struct SkippedFace {
  std::string list;    // the annotation file of the offending row
  size_t line = 0;     // its line there
  std::string image;   // "000123.jpg"
  std::string reason;  // "points outside the photo", "box outside the photo" or "eye points that coincide"
};
struct FaceSkips {
  size_t checked = 0;                // faces compared with their photo
  std::vector<SkippedFace> skipped;  // in the dataset's order
  // "skipped 2 of 3980 faces: 1 points outside the photo (first: DIR/list_landmarks_celeba.txt:123
  // 000123.jpg), 1 box outside the photo (first: ...)"; "" when none was skipped.
  std::string summary() const;
  std::string csv() const;  // "file,line,image,reason" and a row per face, quoted per RFC 4180
};
// Reads the size of every face's photo from its header (image_size: no decoding) and drops the
// faces whose two eye points (0 and 1) coincide, whose landmarks lie outside the photo
// ([-0.5, W - 0.5] x [-0.5, H - 0.5]) or whose box has less than half its area inside it (CelebA's own boxes overhang
// their photo by up to a fifth of their area, so overhang alone is allowed). Relabels what is kept. A photo whose
// header does not read (missing, not JPEG or PNG, too large) throws, naming it.
FaceSkips drop_faces_outside_photos(FaceSet& ds);
// What a trainer does with the skips: one line on stderr (when any face was skipped, prefixed by
// `who`) and the CSV written to csv_path (always, a header alone when none was).
void report_skipped_faces(const FaceSkips& skips, const std::string& who, const std::string& csv_path);

// Decodes the images of the faces `indices` (in parallel; results in the order asked).
// skip_failures false: the first image that fails to decode (in the order asked) throws.
// skip_failures true: failures are left out and counted, and their messages kept.
struct LoadedImages {
  std::vector<Image> images;
  std::vector<size_t> indices;      // face index of each image in `images`
  size_t failed = 0;                // images skipped because they failed to decode
  std::vector<std::string> errors;  // one message per failure: the file and the reason
  std::string summary() const;      // "decoded 3978 of 3980 images; 2 failed (first: ...)"
};
LoadedImages load_celeba_images(const FaceSet& ds, const std::vector<size_t>& indices,
                                bool skip_failures, int channels = 3);

}  // namespace ff
