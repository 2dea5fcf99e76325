// tests/test_celeba.cpp — CelebA annotation readers and the joined dataset: the real subset in
// ../shared/data/celeba_subset (skipped when absent), and small hand-written files, well-formed
// and malformed, in a temporary folder.
// Run: ./build-cpu/ff_tests --gtest_filter='CelebA*'
#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "data/celeba.h"
#include "data/detect_sample.h"
#include "data/detect_truth.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace ff;

namespace {

const std::string kSubset = std::string(FF_SOURCE_DIR) + "/../shared/data/celeba_subset";

using TempDir = ::ff::test::TempDir;

template <typename F>
void expect_error(F fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no error thrown (expected one mentioning " << parts.front() << ")";
  } catch (const Error& e) {
    std::string msg = e.what();
    for (const std::string& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << "message: " << msg << "\nmissing: " << p;
  }
}

const char* kLandmarkHeader =
    "lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y\n";

// A complete little dataset of three images (two identities), with real JPEG files.
void write_small_dataset(const TempDir& d) {
  fs::create_directories(d.path / "img_celeba");
  Image img(20, 16, 3, 128);
  for (const char* f : {"000001.jpg", "000002.jpg", "000003.jpg"}) save_jpeg(img, d.file(std::string("img_celeba/") + f));
  d.write("identity_CelebA.txt", "000001.jpg 17\n000002.jpg 5\n000003.jpg 17\n");
  d.write("list_eval_partition.txt", "000001.jpg 0\n000002.jpg 2\n000003.jpg 1\n");
  d.write("list_bbox_celeba.txt", "3\nimage_id x_1 y_1 width height\n000001.jpg 1 2 10 12\n000002.jpg 0 0 5 5\n000003.jpg 3 3 4 4\n");
  d.write("list_landmarks_celeba.txt", std::string("2\n") + kLandmarkHeader +
                                            "000001.jpg 5 6 12 6 9 9 6 12 12 12\n"
                                            "000003.jpg 4.5 5 13 5.25 9 8 5 11 13 11\n");
}

}  // namespace

// ---------------------------------------------------------------- the real subset
TEST(CelebA, RealSubsetParses) {
  if (!fs::is_directory(kSubset)) GTEST_SKIP() << "needs ../shared/data/celeba_subset: no CelebA subset at " << kSubset << " (see ../shared/data/README.md)";
  FaceSet ds = load_faces(kSubset);
  EXPECT_EQ(ds.size(), 3980u);
  EXPECT_EQ(ds.num_identities(), 187);
  EXPECT_EQ(ds.num_boxes, 3980u);
  EXPECT_EQ(ds.num_landmarks, 3980u);
  EXPECT_TRUE(missing_images(ds).empty());
  EXPECT_NO_THROW(check_images_present(ds));

  std::map<int, int> per_id, val_per_id;
  size_t left_of_right = 0, inside = 0;
  for (const FaceRecord& e : ds.faces) {
    ASSERT_TRUE(e.box.has_value()) << e.file;
    ASSERT_TRUE(e.landmarks.has_value()) << e.file;
    ASSERT_TRUE(e.partition == 0 || e.partition == 1) << e.file << " partition " << e.partition;
    ASSERT_EQ(ds.identities.at(e.label), e.identity);
    EXPECT_EQ(e.path, (fs::path(kSubset) / "img_celeba" / e.file).string());
    per_id[e.identity]++;
    val_per_id[e.identity] += e.partition == 1;
    const Landmarks5& p = *e.landmarks;
    left_of_right += p[kLeftEye].x < p[kRightEye].x && p[kLeftMouth].x < p[kRightMouth].x;
    bool in = true;
    for (const Point2& q : p) in = in && q.x >= 0 && q.y >= 0 && q.x < 250 && q.y < 250;
    inside += in;
    EXPECT_GT(e.box->width, 0);
  }
  EXPECT_EQ(per_id.size(), 187u);
  for (auto [id, n] : per_id) {  // README: per identity the last 20% (at least one) are validation
    EXPECT_GE(val_per_id[id], 1) << "identity " << id;
    EXPECT_LT(val_per_id[id], n) << "identity " << id;
  }
  EXPECT_EQ(ds.partition(0).size() + ds.partition(1).size(), 3980u);
  EXPECT_EQ(left_of_right, ds.size());  // "left" is the image's left
  EXPECT_EQ(inside, ds.size());

  // Decode a tenth of the images; every one must pass (no truncated files in the subset).
  std::vector<size_t> some;
  for (size_t i = 0; i < ds.size(); i += 10) some.push_back(i);
  LoadedImages li = load_celeba_images(ds, some, false);
  EXPECT_EQ(li.failed, 0u) << li.summary();
  ASSERT_EQ(li.images.size(), some.size());
  for (size_t k = 0; k < li.images.size(); ++k) {
    const Image& im = li.images[k];
    EXPECT_EQ(im.channels, 3);
    EXPECT_LE(std::max(im.width, im.height), 250);
    EXPECT_GE(std::min(im.width, im.height), 60);
    const FaceBox& b = *ds.faces[li.indices[k]].box;
    EXPECT_LE(b.x + b.width, im.width + 2) << ds.faces[li.indices[k]].file;
  }
}

// ---------------------------------------------------------------- hand-written files
TEST(CelebA, ReadsAnyWhitespaceAndKeepsLandmarkOrder) {
  TempDir d;
  std::string ids = d.write("ids.txt", "000001.jpg\t7\r\n000002.jpg   12\r\n\r\n\n");
  std::vector<IdentityRow> r = read_identities(ids);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].file, "000001.jpg");
  EXPECT_EQ(r[0].identity, 7);
  EXPECT_EQ(r[1].identity, 12);

  // CelebA pads its columns with runs of spaces.
  std::string lm = d.write("lm.txt", std::string("1\r\n") + kLandmarkHeader +
                                         "000001.jpg    69  109   106  113    77  142    73  152   108  154\r\n");
  std::vector<LandmarkRow> l = read_landmarks(lm);
  ASSERT_EQ(l.size(), 1u);
  const Landmarks5& p = l[0].points;
  EXPECT_EQ(p[kLeftEye].x, 69);
  EXPECT_EQ(p[kLeftEye].y, 109);
  EXPECT_EQ(p[kRightEye].x, 106);
  EXPECT_EQ(p[kNose].y, 142);
  EXPECT_EQ(p[kLeftMouth].x, 73);
  EXPECT_EQ(p[kRightMouth].y, 154);
  EXPECT_STREQ(landmark_name(kRightMouth), "right mouth");

  std::string bb = d.write("bb.txt", "1\nimage_id  x_1 y_1 width height\n000001.jpg  95  71 226 313\n");
  std::vector<BoxRow> b = read_boxes(bb);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].box.x, 95);
  EXPECT_EQ(b[0].box.y, 71);
  EXPECT_EQ(b[0].box.width, 226);
  EXPECT_EQ(b[0].box.height, 313);

  std::vector<PartitionRow> parts = read_partitions(d.write("p.txt", "a.jpg 0\nb.jpg 1\nc.jpg 2\n"));
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[2].partition, 2);
}

TEST(CelebA, MalformedFilesNameFileAndLine) {
  TempDir d;
  // identities
  std::string p = d.write("id1.txt", "000001.jpg 1\n000002.jpg\n");
  expect_error([&] { read_identities(p); }, {p + ":2", "expected 2 fields"});
  p = d.write("id2.txt", "000001.jpg 1\n000002.jpg x7\n");
  expect_error([&] { read_identities(p); }, {p + ":2", "x7"});
  p = d.write("id3.txt", "000001.jpg 1\n000001.jpg 2\n");
  expect_error([&] { read_identities(p); }, {p + ":2", "listed twice", "line 1"});
  p = d.write("id4.txt", "000001.jpg -3\n");
  expect_error([&] { read_identities(p); }, {p + ":1", "non-negative"});
  // partitions
  p = d.write("part.txt", "000001.jpg 0\n000002.jpg 3\n");
  expect_error([&] { read_partitions(p); }, {p + ":2", "not 0, 1 or 2"});
  // boxes
  p = d.write("bb1.txt", "3\nimage_id x_1 y_1 width height\n000001.jpg 1 2 3 4\n000002.jpg 1 2 3 4\n");
  expect_error([&] { read_boxes(p); }, {p, "line 1 says 3 rows", "has 2"});
  p = d.write("bb2.txt", "1\nimage_id x y w h\n000001.jpg 1 2 3 4\n");
  expect_error([&] { read_boxes(p); }, {p + ":2", "column names"});
  p = d.write("bb3.txt", "2\nimage_id x_1 y_1 width height\n000001.jpg 1 2 3 4\n000002.jpg 1 2 3\n");
  expect_error([&] { read_boxes(p); }, {p + ":4", "expected 5 fields", "got 4"});
  p = d.write("bb4.txt", "1\nimage_id x_1 y_1 width height\n000001.jpg 1 2 abc 4\n");
  expect_error([&] { read_boxes(p); }, {p + ":3", "not a number", "abc"});
  p = d.write("bb5.txt", "many\nimage_id x_1 y_1 width height\n");
  expect_error([&] { read_boxes(p); }, {p + ":1", "number of rows"});
  p = d.write("bb6.txt", "");
  expect_error([&] { read_boxes(p); }, {p, "empty"});
  p = d.write("bb7.txt", "1\nimage_id x_1 y_1 width height\n000001.jpg 1 2 -3 4\n");
  expect_error([&] { read_boxes(p); }, {p + ":3", "no area", "must be positive"});
  p = d.write("bb9.txt", "2\nimage_id x_1 y_1 width height\n000001.jpg 1 2 3 4\n000002.jpg 1 2 3 0\n");
  expect_error([&] { read_boxes(p); }, {p + ":4", "no area"});
  p = d.write("bb10.txt", "1\nimage_id x_1 y_1 width height\n000001.jpg 1 2 0 5\n");
  expect_error([&] { read_boxes(p); }, {p + ":3", "no area"});
  p = d.write("bb8.txt", "0\n");
  expect_error([&] { read_boxes(p); }, {p, "line 2", "ends after line 1"});
  // landmarks: a header in another order is refused, so the points cannot be silently swapped
  p = d.write("lm1.txt", "1\nrighteye_x righteye_y lefteye_x lefteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y\n"
                         "000001.jpg 1 2 3 4 5 6 7 8 9 10\n");
  expect_error([&] { read_landmarks(p); }, {p + ":2", "lefteye_x"});
  p = d.write("lm2.txt", std::string("2\n") + kLandmarkHeader + "000001.jpg 1 2 3 4 5 6 7 8 9 10\n\n000002.jpg 1 2 3 4 5 6 7 8 9\n");
  expect_error([&] { read_landmarks(p); }, {p + ":5", "expected 11 fields"});
  p = d.write("lm3.txt", std::string("1\n") + kLandmarkHeader + "000001.jpg 1 2 3 4 5 6 7 8 9 nan\n");
  expect_error([&] { read_landmarks(p); }, {p + ":3", "field 11"});
  // 1e39 is finite as a double but infinite as the float it is stored in.
  p = d.write("lm5.txt", std::string("1\n") + kLandmarkHeader + "000001.jpg 1 1e39 3 4 5 6 7 8 9 10\n");
  expect_error([&] { read_landmarks(p); }, {p + ":3", "field 3", "not a number (finite as a 32-bit float)", "'1e39'"});
  p = d.write("bb11.txt", "1\nimage_id x_1 y_1 width height\n000001.jpg -1e39 2 3 4\n");
  expect_error([&] { read_boxes(p); }, {p + ":3", "field 2", "'-1e39'"});
  EXPECT_FLOAT_EQ(read_landmarks(d.write(
                      "lm6.txt", std::string("1\n") + kLandmarkHeader + "000001.jpg 1 3e38 3 4 5 6 7 8 9 10\n"))[0]
                      .points[0]
                      .y,
                  3e38f)
      << "the largest floats are still read";
  p = d.write("lm4.txt", std::string("3\n") + kLandmarkHeader + "000001.jpg 1 2 3 4 5 6 7 8 9 10\n");
  expect_error([&] { read_landmarks(p); }, {p, "line 1 says 3 rows", "has 1"});
  // missing file
  std::string none = d.file("nothing.txt");
  expect_error([&] { read_landmarks(none); }, {none, "cannot open"});
}

TEST(CelebA, ControlBytesInMessagesAreEscaped) {
  TempDir d;
  const std::string p = d.write("id.txt", "000001.jpg 1\n000002.jpg \x1b[2J\x07\x7f!\n");
  try {
    read_identities(p);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(p + ":2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'\\x1b[2J\\x07\\x7f!'"), std::string::npos) << msg;
    for (char c : msg) EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20 || c == 0x7f) << "raw control byte in " << msg;
  }
  // Every other message that names a listed image escapes it too: a name listed twice, a row of
  // another list naming an image the identities do not, an image without a partition, a missing
  // image (review #24: these printed the raw bytes).
  const std::string evil = "\x1b]0;owned\x07.jpg";
  auto escaped = [&](const std::function<void()>& f, const std::string& needle) {
    try {
      f();
      ADD_FAILURE() << "no error: " << needle;
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(needle), std::string::npos) << msg;
      EXPECT_NE(msg.find("'\\x1b]0;owned\\x07.jpg'"), std::string::npos) << msg;
      for (char c : msg)
        EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20 || c == 0x7f) << "raw control byte in " << msg;
    }
  };
  const std::string twice = d.write("twice.txt", "000001.jpg 1\n" + evil + " 2\n" + evil + " 3\n");
  escaped([&] { read_identities(twice); }, "is listed twice");
  TempDir root;
  write_small_dataset(root);
  std::ofstream(root.path / "list_eval_partition.txt", std::ios::app) << evil << " 0\n";
  escaped([&] { load_faces(root.path.string()); }, "does not list");
  write_small_dataset(root);
  std::ofstream(root.path / "identity_CelebA.txt", std::ios::app) << evil << " 7\n";
  escaped([&] { load_faces(root.path.string()); }, "have no partition");
  std::ofstream(root.path / "list_eval_partition.txt", std::ios::app) << evil << " 0\n";
  escaped([&] { load_faces(root.path.string(), FaceFilter::All); }, "missing");
}

TEST(CelebA, WritersRoundTrip) {
  TempDir d;
  std::vector<IdentityRow> ids = {{"000001.jpg", 3}, {"000002.jpg", 10177}};
  std::vector<PartitionRow> parts = {{"000001.jpg", 0}, {"000002.jpg", 1}};
  std::vector<BoxRow> boxes = {{"000001.jpg", FaceBox{1, 2, 30, 40}}, {"000002.jpg", FaceBox{0, 0.5f, 7.25f, 8}}};
  LandmarkRow lr;
  lr.file = "000002.jpg";
  for (int k = 0; k < 5; ++k) lr.points[k] = Point2{10.0f * k + 0.25f, -3.0f + k};
  write_identities(d.file("i.txt"), ids);
  write_partitions(d.file("p.txt"), parts);
  write_boxes(d.file("b.txt"), boxes);
  write_landmarks(d.file("l.txt"), {lr});
  std::vector<IdentityRow> i2 = read_identities(d.file("i.txt"));
  ASSERT_EQ(i2.size(), 2u);
  EXPECT_EQ(i2[1].identity, 10177);
  std::vector<PartitionRow> p2 = read_partitions(d.file("p.txt"));
  EXPECT_EQ(p2[1].partition, 1);
  std::vector<BoxRow> b2 = read_boxes(d.file("b.txt"));
  ASSERT_EQ(b2.size(), 2u);
  EXPECT_EQ(b2[1].box.y, 0.5f);
  EXPECT_EQ(b2[1].box.width, 7.25f);
  std::vector<LandmarkRow> l2 = read_landmarks(d.file("l.txt"));
  ASSERT_EQ(l2.size(), 1u);
  for (int k = 0; k < 5; ++k) {
    EXPECT_EQ(l2[0].points[k].x, lr.points[k].x);
    EXPECT_EQ(l2[0].points[k].y, lr.points[k].y);
  }
  // Whole numbers are written as CelebA writes them.
  std::ifstream f(d.file("b.txt"));
  std::string l1, l2s, l3;
  std::getline(f, l1);
  std::getline(f, l2s);
  std::getline(f, l3);
  EXPECT_EQ(l1, "2");
  EXPECT_EQ(l2s, "image_id x_1 y_1 width height");
  EXPECT_EQ(l3, "000001.jpg 1 2 30 40");
  expect_error([&] { write_partitions(d.file("bad.txt"), {{"a.jpg", 4}}); }, {"bad.txt", "not 0, 1 or 2"});
  expect_error([&] { write_identities(d.file("bad.txt"), {{"a b.jpg", 4}}); }, {"bad.txt", "whitespace"});
}

TEST(CelebA, JoinsByFileName) {
  TempDir d;
  write_small_dataset(d);
  FaceSet ds = load_faces(d.path.string());
  ASSERT_EQ(ds.size(), 3u);
  EXPECT_EQ(ds.num_identities(), 2);
  EXPECT_EQ(ds.identities, (std::vector<int>{5, 17}));
  EXPECT_EQ(ds.faces[0].identity, 17);
  EXPECT_EQ(ds.faces[0].label, 1);
  EXPECT_EQ(ds.faces[1].label, 0);
  EXPECT_EQ(ds.faces[1].partition, 2);
  EXPECT_EQ(ds.faces[2].partition, 1);
  EXPECT_EQ(ds.num_boxes, 3u);
  EXPECT_EQ(ds.num_landmarks, 2u);  // landmarks may cover a part of the images
  ASSERT_TRUE(ds.faces[0].box.has_value());
  EXPECT_EQ(ds.faces[0].box->height, 12);
  EXPECT_FALSE(ds.faces[1].landmarks.has_value());
  ASSERT_TRUE(ds.faces[2].landmarks.has_value());
  EXPECT_EQ((*ds.faces[2].landmarks)[kRightEye].y, 5.25f);
  EXPECT_EQ(ds.partition(1), (std::vector<size_t>{2}));
  EXPECT_EQ(ds.partition(0, 1), (std::vector<size_t>{0}));
  EXPECT_EQ(ds.listed, 3u);
  EXPECT_TRUE(missing_images(ds).empty());

  // Without the optional files, no boxes or landmarks.
  CelebAFiles f;
  f.boxes = "";
  f.landmarks = "absent.txt";
  FaceSet bare = load_faces(d.path.string(), FaceFilter::All, f);
  EXPECT_EQ(bare.num_boxes, 0u);
  EXPECT_FALSE(bare.faces[0].box.has_value());
  EXPECT_FALSE(bare.faces[0].landmarks.has_value());
  EXPECT_EQ(CelebAFiles::aligned().landmarks, "list_landmarks_align_celeba.txt");

  // Filters keep the faces a task needs, labelled among the identities kept.
  FaceSet with_lm = load_faces(d.path.string(), FaceFilter::Landmarks);
  ASSERT_EQ(with_lm.size(), 2u);
  EXPECT_EQ(with_lm.listed, 3u);
  EXPECT_EQ(with_lm.faces[1].file, "000003.jpg");
  EXPECT_EQ(with_lm.identities, (std::vector<int>{17}));
  EXPECT_EQ(with_lm.faces[1].label, 0);
  EXPECT_EQ(load_faces(d.path.string(), FaceFilter::BoxAndLandmarks).size(), 2u);
  expect_error([&] { load_faces(d.path.string(), FaceFilter::Landmarks, f); }, {"absent.txt", "landmarks"});
  CelebAFiles no_boxes;
  no_boxes.boxes = "absent.txt";
  expect_error([&] { load_faces(d.path.string(), FaceFilter::BoxAndLandmarks, no_boxes); }, {"absent.txt", "box"});
  EXPECT_EQ(load_faces(d.path.string(), FaceFilter::Landmarks, no_boxes).size(), 2u);
}

TEST(CelebA, JoinErrors) {
  TempDir d;
  write_small_dataset(d);
  std::string root = d.path.string();
  // An image without a partition.
  d.write("list_eval_partition.txt", "000001.jpg 0\n000002.jpg 2\n");
  expect_error([&] { load_faces(root); }, {"list_eval_partition.txt", "1 images", "000003.jpg", "no partition"});
  // A partition row for an image the identity file does not list.
  d.write("list_eval_partition.txt", "000001.jpg 0\n000002.jpg 2\n000003.jpg 1\n000009.jpg 1\n");
  expect_error([&] { load_faces(root); }, {"list_eval_partition.txt", "000009.jpg", "does not list"});
  d.write("list_eval_partition.txt", "000001.jpg 0\n000002.jpg 2\n000003.jpg 1\n");
  d.write("list_bbox_celeba.txt", "1\nimage_id x_1 y_1 width height\n000004.jpg 0 0 1 1\n");
  expect_error([&] { load_faces(root); }, {"list_bbox_celeba.txt", "000004.jpg"});
  fs::remove(d.path / "list_bbox_celeba.txt");
  fs::remove(d.path / "identity_CelebA.txt");
  expect_error([&] { load_faces(root); }, {"identity_CelebA.txt", "holds no"});
  expect_error([&] { load_faces(d.file("nowhere")); }, {"nowhere", "does not exist"});
}

TEST(CelebA, ImageNamesMustStayInTheImageFolder) {
  TempDir d;
  write_small_dataset(d);
  const std::string root = d.path.string(), ids = d.file("identity_CelebA.txt"), dir = d.file("img_celeba");
  auto with_name = [&](const std::string& name) {
    d.write("identity_CelebA.txt", "000001.jpg 17\n" + name + " 5\n000003.jpg 17\n");
    d.write("list_eval_partition.txt", "000001.jpg 0\n" + name + " 2\n000003.jpg 1\n");
    fs::remove(d.path / "list_bbox_celeba.txt");
  };
  save_jpeg(Image(8, 8, 3), d.file("outside.jpg"));
  for (const std::string& name : {std::string("../outside.jpg"), std::string("sub/../../outside.jpg"),
                                  d.file("outside.jpg"), std::string("/etc/passwd")}) {
    with_name(name);
    expect_error([&] { load_faces(root); }, {ids + ":2", "image name '" + name + "' leaves the image folder " + dir});
  }
  // A symlink in the folder that points out of it is refused too...
  fs::create_symlink("../outside.jpg", d.path / "img_celeba" / "link.jpg");
  with_name("link.jpg");
  expect_error([&] { load_faces(root); }, {ids + ":2", "image name 'link.jpg' leaves the image folder"});
  // ... one that stays inside is followed, and a `..` that only looks inside is still refused.
  fs::create_symlink("000002.jpg", d.path / "img_celeba" / "inside.jpg");
  with_name("inside.jpg");
  EXPECT_EQ(load_faces(root).faces[1].path, dir + "/inside.jpg");
  fs::create_directories(d.path / "img_celeba" / "sub");
  with_name("sub/../000002.jpg");
  expect_error([&] { load_faces(root); }, {ids + ":2", "leaves the image folder"});
  // The image folder itself may be a symlink (data on another disk).
  TempDir other;
  write_small_dataset(other);
  fs::rename(other.path / "img_celeba", other.path / "real_images");
  fs::create_symlink(other.path / "real_images", other.path / "img_celeba");
  EXPECT_EQ(load_faces(other.path.string()).size(), 3u);
}

// The detector's readers of the same folders apply the same rule.
TEST(CelebA, DetectorListsMustStayInTheImageFolder) {
  TempDir d;
  write_small_dataset(d);
  save_jpeg(Image(8, 8, 3), d.file("outside.jpg"));
  const std::string bb = d.write("list_bbox_celeba.txt",
                                 "2\nimage_id x_1 y_1 width height\n000001.jpg 1 2 10 12\n"
                                 "../outside.jpg 0 0 5 5\n");
  fs::remove(d.path / "list_landmarks_celeba.txt");
  const std::string dir = d.file("img_celeba");
  expect_error([&] { load_detection_ground_truth(d.path.string()); },
               {bb + ":4: image name '../outside.jpg' leaves the image folder " + dir});
  expect_error([&] { load_detect_source(d.path.string()); }, {bb + ":4", "leaves the image folder " + dir});
  d.write("list_bbox_celeba.txt", "1\nimage_id x_1 y_1 width height\n000001.jpg 1 2 10 12\n");
  EXPECT_EQ(load_detection_ground_truth(d.path.string()).photos.at(0).width, 20);
  EXPECT_EQ(load_detect_source(d.path.string()).photos.at(0).path, dir + "/000001.jpg");
}

TEST(CelebA, FacesOutsideTheirPhotoAreSkippedAndCounted) {
  TempDir d;
  write_small_dataset(d);                      // 20 x 16 photos
  FaceSet fine = load_faces(d.path.string());  // the small dataset fits its photos: kept whole
  const FaceSet before = fine;
  EXPECT_TRUE(drop_faces_outside_photos(fine).skipped.empty());
  ASSERT_EQ(fine.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(fine.faces[i].path, before.faces[i].path);
  EXPECT_EQ(drop_faces_outside_photos(fine).summary(), "");

  // 000001.jpg: a landmark at (5000, -4000); 000003.jpg: its box far outside the photo.
  d.write("list_bbox_celeba.txt",
          "3\nimage_id x_1 y_1 width height\n000001.jpg 1 2 10 12\n000002.jpg 0 0 5 5\n"
          "000003.jpg 100000 100000 4 4\n");
  d.write("list_landmarks_celeba.txt", std::string("2\n") + kLandmarkHeader +
                                           "000001.jpg 5 6 12 6 9 9 6 12 5000 -4000\n"
                                           "000003.jpg 4.5 5 13 5.25 9 8 5 11 13 11\n");
  FaceSet ds = load_faces(d.path.string());
  const FaceSkips skips = drop_faces_outside_photos(ds);
  EXPECT_EQ(skips.checked, 3u);
  ASSERT_EQ(skips.skipped.size(), 2u);
  const std::string lm = d.file("list_landmarks_celeba.txt"), bb = d.file("list_bbox_celeba.txt");
  EXPECT_EQ(skips.skipped[0].list, lm);
  EXPECT_EQ(skips.skipped[0].line, 3u);
  EXPECT_EQ(skips.skipped[0].image, "000001.jpg");
  EXPECT_EQ(skips.skipped[0].reason, "points outside the photo");
  EXPECT_EQ(skips.skipped[1].list, bb);
  EXPECT_EQ(skips.skipped[1].line, 5u);
  EXPECT_EQ(skips.skipped[1].reason, "box outside the photo");
  EXPECT_EQ(skips.summary(), "skipped 2 of 3 faces: 1 points outside the photo (first: " + lm +
                                 ":3 '000001.jpg'), 1 box outside the photo (first: " + bb + ":5 '000003.jpg')");
  ASSERT_EQ(ds.size(), 1u);  // what is left is relabelled
  EXPECT_EQ(ds.faces[0].file, "000002.jpg");
  EXPECT_EQ(ds.identities, (std::vector<int>{5}));
  EXPECT_EQ(ds.faces[0].label, 0);
  EXPECT_EQ(skips.csv(), "file,line,image,reason\n" + lm + ",3,000001.jpg,points outside the photo\n" + bb +
                             ",5,000003.jpg,box outside the photo\n");
  report_skipped_faces(skips, "test", d.file("skipped.csv"));
  std::ifstream f(d.file("skipped.csv"));
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>()), skips.csv());

  // A box that overhangs the photo (as CelebA's own do, by up to a fifth) is kept; one mostly outside is not.
  d.write("list_bbox_celeba.txt",
          "3\nimage_id x_1 y_1 width height\n000001.jpg -3 2 10 12\n000002.jpg 15 11 10 10\n"
          "000003.jpg 3 3 4 4\n");
  d.write("list_landmarks_celeba.txt",
          std::string("1\n") + kLandmarkHeader + "000001.jpg -0.5 -0.5 19.5 15.5 9 9 6 12 12 12\n");
  FaceSet edge = load_faces(d.path.string());
  const FaceSkips e = drop_faces_outside_photos(edge);
  ASSERT_EQ(e.skipped.size(), 1u) << e.summary();
  EXPECT_EQ(e.skipped[0].image, "000002.jpg");  // 5 x 5 of its 10 x 10 inside
  EXPECT_EQ(e.skipped[0].line, 4u);
  EXPECT_EQ(edge.size(), 2u);

  // Eyes that coincide (no inter-ocular distance: nothing to normalise an error by or to align
  // with) are found when the data is read, not at the first validation (review #20).
  d.write("list_bbox_celeba.txt",
          "3\nimage_id x_1 y_1 width height\n000001.jpg 1 2 10 12\n000002.jpg 0 0 5 5\n"
          "000003.jpg 3 3 4 4\n");
  d.write("list_landmarks_celeba.txt", std::string("1\n") + kLandmarkHeader + "000001.jpg 5 6 5 6 9 9 6 12 12 12\n");
  FaceSet eyes = load_faces(d.path.string(), FaceFilter::Landmarks);
  const FaceSkips es = drop_faces_outside_photos(eyes);
  ASSERT_EQ(es.skipped.size(), 1u) << es.summary();
  EXPECT_EQ(es.skipped[0].reason, "eye points that coincide");
  EXPECT_EQ(es.skipped[0].line, 3u);
  EXPECT_EQ(es.summary(), "skipped 1 of 1 faces: 1 eye points that coincide (first: " + lm + ":3 '000001.jpg')");
  EXPECT_EQ(eyes.size(), 0u);

  // CSV fields with a comma or a quote are quoted (RFC 4180).
  FaceSkips q;
  q.skipped.push_back({"a,b.txt", 7, "x\"y.jpg", "box outside the photo"});
  EXPECT_EQ(q.csv(), "file,line,image,reason\n\"a,b.txt\",7,\"x\"\"y.jpg\",box outside the photo\n");
  // A photo whose header does not read stops the check, naming it.
  d.write("img_celeba/000003.jpg", "P5\n1 1\n255\n\x01");
  FaceSet bad = load_faces(d.path.string());
  expect_error([&] { drop_faces_outside_photos(bad); }, {"000003.jpg", "a PNM/PGM/PPM file"});
}

TEST(CelebA, MissingImagesAreListed) {
  TempDir d;
  write_small_dataset(d);
  FaceSet ds = load_faces(d.path.string());
  fs::remove(d.path / "img_celeba" / "000002.jpg");
  EXPECT_EQ(missing_images(ds), (std::vector<std::string>{"000002.jpg"}));
  expect_error([&] { check_images_present(ds); }, {"1 of 3 images", "000002.jpg", "missing"});
  // load_faces checks the images it keeps.
  expect_error([&] { load_faces(d.path.string()); }, {"1 of 3 images", "000002.jpg", "missing"});
  EXPECT_EQ(load_faces(d.path.string(), FaceFilter::Landmarks).size(), 2u) << "000002.jpg has no landmarks";
}

TEST(CelebA, LoaderSkipsAndCountsUndecodableImages) {
  TempDir d;
  write_small_dataset(d);
  // 000002.jpg: cut short; 000003.jpg: not an image at all.
  {
    std::ifstream in(d.file("img_celeba/000002.jpg"), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    d.write("img_celeba/000002.jpg", bytes.substr(0, bytes.size() / 2));
    d.write("img_celeba/000003.jpg", "this is not a jpeg");
  }
  FaceSet ds = load_faces(d.path.string());
  LoadedImages li = load_celeba_images(ds, {0, 1, 2}, true);
  EXPECT_EQ(li.images.size(), 1u);
  EXPECT_EQ(li.indices, (std::vector<size_t>{0}));
  EXPECT_EQ(li.failed, 2u);
  ASSERT_EQ(li.errors.size(), 2u);
  EXPECT_NE(li.errors[0].find("000002.jpg"), std::string::npos) << li.errors[0];
  EXPECT_NE(li.errors[1].find("000003.jpg"), std::string::npos) << li.errors[1];
  EXPECT_NE(li.summary().find("decoded 1 of 3 images; 2 failed"), std::string::npos) << li.summary();
  EXPECT_EQ(li.images[0].width, 20);
  // Without skipping, the first failure in the order asked throws.
  expect_error([&] { load_celeba_images(ds, {0, 2, 1}, false); }, {"000003.jpg"});
  expect_error([&] { load_celeba_images(ds, {5}, true); }, {"index 5 out of range"});
  // Gray on request.
  EXPECT_EQ(load_celeba_images(ds, {0}, false, 1).images[0].channels, 1);
}
