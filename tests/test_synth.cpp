// tests/test_synth.cpp — the synthetic face dataset: byte-identical output for a seed, files that
// the CelebA readers parse, landmarks inside the image and in a face's order, and identities that
// differ more between each other than the images of one identity do.
// Run: ./build-cpu/ff_tests --gtest_filter='Synth*'
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <unistd.h>

#include "data/celeba.h"
#include "data/synth.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace ff;

namespace {

using TempDir = ::ff::test::TempDir;

std::string read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// Every regular file under root, by relative path, with its bytes.
std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) out[fs::relative(e.path(), root).string()] = read_all(e.path());
  return out;
}

template <typename F>
void expect_error(F fn, const std::string& part) {
  try {
    fn();
    ADD_FAILURE() << "no error thrown (expected one mentioning " << part << ")";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

// A face crop normalised by the eyes: a grid of n x n bilinear RGB samples covering the face
// from just above the eyes to below the mouth, in units of the inter-ocular distance, each value
// divided by the crop's mean (so brightness changes cancel and colour ratios stay).
std::vector<double> aligned_crop(const SynthSample& s, int n) {
  const Point2 l = s.landmarks[kLeftEye], r = s.landmarks[kRightEye];
  double mx = (l.x + r.x) / 2, my = (l.y + r.y) / 2;
  double dx = r.x - l.x, dy = r.y - l.y;  // the eye line: x axis, length = inter-ocular distance
  std::vector<double> v;
  const Image& im = s.image;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) {
      double u = -1.0 + 2.0 * (i + 0.5) / n, w = -0.5 + 2.0 * (j + 0.5) / n;  // w: 0 at the eyes
      double x = mx + u * dx - w * dy, y = my + u * dy + w * dx;
      x = std::min(std::max(x, 0.0), im.width - 1.001);
      y = std::min(std::max(y, 0.0), im.height - 1.001);
      int x0 = static_cast<int>(x), y0 = static_cast<int>(y);
      double fx = x - x0, fy = y - y0;
      for (int c = 0; c < 3; ++c)
        v.push_back((1 - fx) * (1 - fy) * im.at(x0, y0, c) + fx * (1 - fy) * im.at(x0 + 1, y0, c) +
                    (1 - fx) * fy * im.at(x0, y0 + 1, c) + fx * fy * im.at(x0 + 1, y0 + 1, c));
    }
  double mean = 0;
  for (double a : v) mean += a;
  mean /= static_cast<double>(v.size());
  for (double& a : v) a /= std::max(mean, 1.0);
  return v;
}

double dist(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(s);
}

}  // namespace

TEST(Synth, SameSeedSameBytes) {
  TempDir a, b, c;
  SynthConfig cfg;
  cfg.identities = 3;
  cfg.per_identity = 4;
  cfg.size = 64;
  cfg.seed = 11;
  EXPECT_EQ(write_synth_dataset(a.path.string(), cfg), 12u);
  write_synth_dataset(b.path.string(), cfg);
  std::map<std::string, std::string> sa = snapshot(a.path), sb = snapshot(b.path);
  EXPECT_EQ(sa.size(), 12u + 4u);  // images + the four annotation files
  ASSERT_EQ(sa.size(), sb.size());
  for (const auto& [name, bytes] : sa) {
    ASSERT_TRUE(sb.count(name)) << name;
    EXPECT_TRUE(bytes == sb[name]) << name << " differs between two runs with the same seed";
  }
  // Another seed gives other pictures.
  cfg.seed = 12;
  write_synth_dataset(c.path.string(), cfg);
  std::map<std::string, std::string> sc = snapshot(c.path);
  int same = 0;
  for (const auto& [name, bytes] : sa)
    if (name.rfind("img_celeba/", 0) == 0) same += bytes == sc[name];
  EXPECT_EQ(same, 0);
  // synth_sample itself is deterministic and independent of what was drawn before.
  SynthSample s1 = synth_sample(3, 1, 2, 48), s2 = synth_sample(3, 1, 2, 48);
  EXPECT_EQ(s1.image.pixels, s2.image.pixels);
  EXPECT_EQ(synth_identity(3, 1).vector(), synth_identity(3, 1).vector());
}

TEST(Synth, FilesParseWithTheCelebAReaders) {
  TempDir d;
  SynthConfig cfg;
  cfg.identities = 4;
  cfg.per_identity = 7;
  cfg.size = 80;
  cfg.seed = 2;
  write_synth_dataset(d.path.string(), cfg);
  FaceSet ds = load_faces(d.path.string());
  ASSERT_EQ(ds.size(), 28u);
  EXPECT_EQ(ds.num_identities(), 4);
  EXPECT_EQ(ds.identities, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(ds.num_boxes, 28u);
  EXPECT_EQ(ds.num_landmarks, 28u);
  EXPECT_TRUE(missing_images(ds).empty());
  // File names are CelebA's: 000001.jpg ... in order.
  for (size_t i = 0; i < ds.size(); ++i) {
    char want[32];
    std::snprintf(want, sizeof want, "%06zu.jpg", i + 1);
    EXPECT_EQ(ds.faces[i].file, want);
  }
  // Per identity: 7 images, the last max(1, 7/5) = 1 by file number in validation.
  std::map<int, std::vector<int>> parts;
  for (const FaceRecord& e : ds.faces) parts[e.identity].push_back(e.partition);
  for (const auto& [id, p] : parts) {
    ASSERT_EQ(p.size(), 7u) << "identity " << id;
    EXPECT_EQ(p, (std::vector<int>{0, 0, 0, 0, 0, 0, 1})) << "identity " << id;
  }
  // Identities interleave (a shuffle), as in CelebA.
  bool interleaved = false;
  for (size_t i = 1; i < ds.size(); ++i) interleaved |= ds.faces[i].identity < ds.faces[i - 1].identity;
  EXPECT_TRUE(interleaved);
  // Every image decodes at the asked size; the file's landmarks are the rendered ones.
  std::vector<size_t> all(ds.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  LoadedImages li = load_celeba_images(ds, all, false);
  ASSERT_EQ(li.images.size(), 28u);
  for (const Image& im : li.images) {
    EXPECT_EQ(im.width, 80);
    EXPECT_EQ(im.height, 80);
  }
  for (const FaceRecord& e : ds.faces) {  // one of its identity's renders has these landmarks
    int matches = 0;
    for (int k = 0; k < 7; ++k) {
      SynthSample s = synth_sample(cfg.seed, e.identity - 1, k, 80);
      bool same = true;
      for (int i = 0; i < 5; ++i)
        same = same && std::fabs(s.landmarks[i].x - (*e.landmarks)[i].x) < 0.006 &&
               std::fabs(s.landmarks[i].y - (*e.landmarks)[i].y) < 0.006;
      matches += same;
    }
    EXPECT_EQ(matches, 1) << e.file;
  }
  // 20 images per identity: the last 4 are validation.
  TempDir d2;
  cfg.identities = 2;
  cfg.per_identity = 20;
  cfg.size = 32;
  write_synth_dataset(d2.path.string(), cfg);
  FaceSet ds2 = load_faces(d2.path.string());
  EXPECT_EQ(ds2.partition(1).size(), 8u);
  EXPECT_EQ(ds2.partition(0).size(), 32u);
}

TEST(Synth, LandmarksInsideAndInAFacesOrder) {
  const int S = 96;
  int n = 0;
  for (int id = 0; id < 12; ++id)
    for (int k = 0; k < 8; ++k) {
      SynthSample s = synth_sample(5, id, k, S);
      const Landmarks5& p = s.landmarks;
      for (int i = 0; i < 5; ++i) {
        EXPECT_GE(p[i].x, 2) << id << "/" << k << " " << landmark_name(i);
        EXPECT_GE(p[i].y, 2) << id << "/" << k << " " << landmark_name(i);
        EXPECT_LE(p[i].x, S - 3) << id << "/" << k << " " << landmark_name(i);
        EXPECT_LE(p[i].y, S - 3) << id << "/" << k << " " << landmark_name(i);
        // Inside the face box (with a pixel of rounding).
        EXPECT_GE(p[i].x, s.box.x - 1);
        EXPECT_GE(p[i].y, s.box.y - 1);
        EXPECT_LE(p[i].x, s.box.x + s.box.width + 1);
        EXPECT_LE(p[i].y, s.box.y + s.box.height + 1);
      }
      EXPECT_LT(p[kLeftEye].x, p[kRightEye].x) << id << "/" << k;
      EXPECT_LT(p[kLeftMouth].x, p[kRightMouth].x) << id << "/" << k;
      // Along the face's vertical axis (perpendicular to the eye line): eyes, then nose, then
      // mouth; and the nose lies between the eyes across it.
      double ex = p[kRightEye].x - p[kLeftEye].x, ey = p[kRightEye].y - p[kLeftEye].y;
      double iod = std::hypot(ex, ey);
      double ux = ex / iod, uy = ey / iod, vx = -uy, vy = ux;  // v points down the face
      auto along = [&](const Point2& q) { return (q.x - p[kLeftEye].x) * vx + (q.y - p[kLeftEye].y) * vy; };
      auto across = [&](const Point2& q) { return (q.x - p[kLeftEye].x) * ux + (q.y - p[kLeftEye].y) * uy; };
      double mouth = (along(p[kLeftMouth]) + along(p[kRightMouth])) / 2;
      EXPECT_GT(along(p[kNose]), 0.2 * iod) << id << "/" << k;
      EXPECT_GT(mouth, along(p[kNose]) + 0.1 * iod) << id << "/" << k;
      EXPECT_GT(across(p[kNose]), 0.05 * iod) << id << "/" << k;
      EXPECT_LT(across(p[kNose]), 0.95 * iod) << id << "/" << k;
      // The inter-ocular distance is in CelebA's range relative to the picture.
      EXPECT_GT(iod, 0.09 * S);
      EXPECT_LT(iod, 0.3 * S);
      EXPECT_GT(s.box.width, iod);
      EXPECT_GE(s.jpeg_quality, 75);
      ++n;
    }
  EXPECT_EQ(n, 96);
}

TEST(Synth, IdentitiesDifferMoreThanImagesOfOneIdentity) {
  // On eye-aligned, brightness-normalised crops: the mean distance between images of different
  // identities exceeds that between images of the same identity, and a nearest-centroid rule
  // (leave one out) names the identity far above chance — but it is no lookup either.
  const int ids = 10, per = 6, S = 96, grid = 16;
  std::vector<std::vector<std::vector<double>>> crops(ids);
  for (int id = 0; id < ids; ++id)
    for (int k = 0; k < per; ++k) crops[id].push_back(aligned_crop(synth_sample(21, id, k, S), grid));
  double intra = 0, inter = 0;
  int n_intra = 0, n_inter = 0;
  for (int a = 0; a < ids; ++a)
    for (int i = 0; i < per; ++i)
      for (int b = a; b < ids; ++b)
        for (int j = 0; j < per; ++j) {
          if (a == b && j <= i) continue;
          double d = dist(crops[a][i], crops[b][j]);
          if (a == b) {
            intra += d;
            ++n_intra;
          } else {
            inter += d;
            ++n_inter;
          }
        }
  intra /= n_intra;
  inter /= n_inter;
  int correct = 0;
  for (int a = 0; a < ids; ++a)
    for (int i = 0; i < per; ++i) {
      int best = -1;
      double best_d = 1e300;
      for (int b = 0; b < ids; ++b) {
        std::vector<double> c(crops[a][i].size(), 0.0);
        int m = 0;
        for (int j = 0; j < per; ++j) {
          if (a == b && i == j) continue;
          for (size_t t = 0; t < c.size(); ++t) c[t] += crops[b][j][t];
          ++m;
        }
        for (double& x : c) x /= m;
        double d = dist(crops[a][i], c);
        if (d < best_d) {
          best_d = d;
          best = b;
        }
      }
      correct += best == a;
    }
  double acc = static_cast<double>(correct) / (ids * per);
  std::cout << "[ synth    ] crop distance: intra " << intra << ", inter " << inter << " (ratio " << intra / inter
            << "); nearest-centroid accuracy " << acc << " (chance " << 1.0 / ids << ")\n";
  EXPECT_LT(intra, 0.85 * inter);
  EXPECT_GT(acc, 4.0 / ids);

  // The identity parameters themselves: distinct identities are apart.
  double min_d = 1e300;
  for (int a = 0; a < ids; ++a)
    for (int b = a + 1; b < ids; ++b) {
      std::vector<float> va = synth_identity(21, a).vector(), vb = synth_identity(21, b).vector();
      double s = 0;
      for (size_t t = 0; t < va.size(); ++t) s += (va[t] - vb[t]) * (va[t] - vb[t]);
      min_d = std::min(min_d, std::sqrt(s));
    }
  EXPECT_GT(min_d, 0.05);
}

TEST(Synth, ChecksItsArguments) {
  TempDir d;
  SynthConfig cfg;
  cfg.size = 32;
  cfg.identities = 1;
  expect_error([&] { write_synth_dataset(d.path.string(), cfg); }, "--identities must be >= 2");
  cfg.identities = 2;
  cfg.per_identity = 1;
  expect_error([&] { write_synth_dataset(d.path.string(), cfg); }, "--per-identity must be >= 2");
  cfg.per_identity = 2;
  cfg.size = 31;
  expect_error([&] { write_synth_dataset(d.path.string(), cfg); }, "--size must be in 32..1024");
  cfg.size = 1025;
  expect_error([&] { write_synth_dataset(d.path.string(), cfg); }, "--size must be in 32..1024");
  expect_error([&] { synth_sample(0, -1, 0, 64); }, "identity");
  expect_error([&] { synth_sample(0, 0, 0, 16); }, "size");
  EXPECT_TRUE(fs::is_empty(d.path));  // nothing written on a refused call
  // The extremes of the size range work.
  EXPECT_EQ(synth_sample(0, 0, 0, 32).image.width, 32);
}
