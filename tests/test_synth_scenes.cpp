// tests/test_synth_scenes.cpp — synthetic detector scenes: 0-4 faces of sizes from min_face to
// most of the picture, boxes inside and apart, landmarks in a face's order inside their box,
// byte-identical folders for a seed, and files that the detections and CelebA readers (and
// load_detect_source) read back.
// Run: ./build/ff_tests --gtest_filter='SynthScene*'
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "data/celeba.h"
#include "data/detect_sample.h"
#include "data/detections.h"
#include "data/synth.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace ff;

namespace {
std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) {
      std::ifstream f(e.path(), std::ios::binary);
      out[fs::relative(e.path(), root).string()] =
          std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    }
  return out;
}
}  // namespace

TEST(SynthScene, FacesCountsSizesAndPlaces) {
  SceneConfig c;
  int counts[5] = {0, 0, 0, 0, 0};
  double smallest = 1e9, largest_frac = 0;
  for (int i = 0; i < 150; ++i) {
    SynthScene s = synth_scene(4, i, c);
    const int W = s.image.width, H = s.image.height;
    ASSERT_EQ(s.image.channels, 3);
    EXPECT_TRUE(std::min(W, H) >= 0.62 * 320 - 1 && std::max(W, H) <= 640) << W << "x" << H;
    ASSERT_LE(s.faces.size(), 4u);
    ASSERT_EQ(s.faces.size(), s.identities.size());
    ++counts[s.faces.size()];
    for (size_t a = 0; a < s.faces.size(); ++a) {
      const FaceDetection& f = s.faces[a];
      const FaceBox& b = f.box;
      EXPECT_GE(b.x, 0);
      EXPECT_GE(b.y, 0);
      EXPECT_LE(b.x + b.width, W - 1);
      EXPECT_LE(b.y + b.height, H - 1);
      EXPECT_EQ(f.score, 1);
      ASSERT_TRUE(f.has_landmarks);
      const Landmarks5& p = f.landmarks;
      EXPECT_LT(p[kLeftEye].x, p[kRightEye].x) << "scene " << i;
      EXPECT_LT(p[kLeftMouth].x, p[kRightMouth].x) << "scene " << i;
      EXPECT_LT(p[kLeftEye].y, p[kLeftMouth].y) << "scene " << i;
      EXPECT_LT(p[kRightEye].y, p[kRightMouth].y) << "scene " << i;
      for (const Point2& q : p) {
        EXPECT_GT(q.x, b.x - 0.1 * b.width);
        EXPECT_LT(q.x, b.x + 1.1 * b.width);
        EXPECT_GT(q.y, b.y - 0.1 * b.height);
        EXPECT_LT(q.y, b.y + 1.1 * b.height);
      }
      const double side = std::sqrt(double(b.width) * b.height);
      smallest = std::min(smallest, side);
      largest_frac = std::max(largest_frac, side / std::min(W, H));
      for (size_t o = 0; o < a; ++o) EXPECT_EQ(box_iou(b, s.faces[o].box), 0.0) << "scene " << i << ": faces overlap";
      // A face is drawn there: the box is not the flat background (its pixels vary).
      double m = 0, m2 = 0;
      int n = 0;
      for (int y = int(b.y); y <= int(b.y + b.height); ++y)
        for (int x = int(b.x); x <= int(b.x + b.width); ++x) {
          double g = s.image.at(x, y, 0);
          m += g;
          m2 += g * g;
          ++n;
        }
      m /= n;
      EXPECT_GT(std::sqrt(std::max(0.0, m2 / n - m * m)), 5.0) << "scene " << i << " face " << a;
    }
  }
  for (int k = 0; k <= 4; ++k) EXPECT_GT(counts[k], 3) << k << " faces";
  EXPECT_LT(smallest, 28);
  EXPECT_GT(largest_frac, 0.5);
  c.max_faces = 0;
  EXPECT_TRUE(synth_scene(4, 0, c).faces.empty());
}

TEST(SynthScene, FolderIsDeterministicAndReadable) {
  test::TempDir a("ff_scenes_a"), b("ff_scenes_b");
  SceneConfig c;
  c.scenes = 20;
  c.seed = 9;
  c.max_width = 400;
  c.min_width = 200;
  const size_t faces = write_synth_scenes(a.str(), c);
  EXPECT_EQ(write_synth_scenes(b.str(), c), faces);
  EXPECT_EQ(snapshot(a.path), snapshot(b.path)) << "the same seed should give byte-identical files";

  DetectionsFile df = read_detections(a.file("faces.json"));
  ASSERT_EQ(df.photos.size(), 20u);
  size_t n = 0, with_faces = 0;
  for (const PhotoDetections& p : df.photos) {
    n += p.faces.size();
    with_faces += !p.faces.empty();
    Image im = load_image(a.file("img_celeba/" + p.file));
    EXPECT_EQ(im.width, p.width);
    EXPECT_EQ(im.height, p.height);
    for (const FaceDetection& f : p.faces) EXPECT_TRUE(f.has_landmarks);
  }
  EXPECT_EQ(n, faces);
  // CelebA lists: the largest face of each photo that has one.
  std::vector<BoxRow> boxes = read_boxes(a.file("list_bbox_celeba.txt"));
  ASSERT_EQ(boxes.size(), with_faces);
  EXPECT_EQ(read_landmarks(a.file("list_landmarks_celeba.txt")).size(), with_faces);
  std::map<std::string, const PhotoDetections*> by_file;
  for (const PhotoDetections& p : df.photos) by_file[p.file] = &p;
  for (const BoxRow& r : boxes)
    for (const FaceDetection& f : by_file.at(r.file)->faces)
      EXPECT_GE(double(r.box.width) * r.box.height, double(f.box.width) * f.box.height);
  std::vector<PartitionRow> parts = read_partitions(a.file("list_eval_partition.txt"));
  ASSERT_EQ(parts.size(), 20u);
  EXPECT_EQ(parts[17].partition, 0);
  EXPECT_EQ(parts[18].partition, 1);
  EXPECT_EQ(parts[19].partition, 1);

  DetectSource src = load_detect_source(a.str());
  EXPECT_EQ(src.format, "faces.json");
  EXPECT_EQ(src.size(), 20);
  EXPECT_EQ(load_detect_source(a.str(), {.partition = 1}).size(), 2);
  Rng rng(1);
  DetectSample s = make_detect_sample(src, 0, 128, rng);
  EXPECT_EQ(s.image.width, 128);

  SceneConfig bad = c;
  bad.max_faces = 5;
  EXPECT_THROW(synth_scene(0, 0, bad), Error);
  bad = c;
  bad.min_width = 500;
  EXPECT_THROW(synth_scene(0, 0, bad), Error);
}
