// tests/test_detect_eval.cpp — detection metrics on hand-computed cases (face/detect_eval.h), the
// ground-truth loader (data/detect_truth.h) and the photo runner behind `faceforge detect`
// (face/detect_photos.h) with a fake detector.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "data/detect_truth.h"
#include "face/detect_eval.h"
#include "face/detect_photos.h"
#include "test_util.h"

namespace ff {
namespace {

FaceDetection face(float x, float y, float w, float h, double score = 1.0) {
  FaceDetection f;
  f.box = FaceBox{x, y, w, h};
  f.score = score;
  return f;
}

// A file of photos p0, p1, ... with the given faces.
DetectionsFile file_of(const std::vector<std::vector<FaceDetection>>& photos) {
  DetectionsFile d;
  for (size_t i = 0; i < photos.size(); ++i) {
    PhotoDetections p;
    p.file = "p" + std::to_string(i) + ".jpg";
    p.width = p.height = 400;
    p.faces = photos[i];
    d.photos.push_back(p);
  }
  return d;
}

const FaceDetection kFar = face(300, 300, 20, 20);  // overlaps no labelled face below

TEST(DetectEval, AveragePrecisionIsTheVocAllPointArea) {
  // TP FP TP FP TP with 4 labelled faces: envelope 1 on (0, .25], 2/3 on (.25, .5], .6 on (.5, .75].
  EXPECT_NEAR(average_precision({.25, .25, .5, .5, .75}, {1, .5, 2.0 / 3, .5, .6}),
              .25 * 1 + .25 * 2.0 / 3 + .25 * .6, 1e-12);
  EXPECT_DOUBLE_EQ(average_precision({}, {}), 0.0);
  EXPECT_DOUBLE_EQ(average_precision({1.0}, {1.0}), 1.0);
  // FP TP TP: the later, higher precision 2/3 lifts recall .5 too (the envelope): 2/3, where the
  // plain sum of the points would give .5 * .5 + .5 * 2/3.
  EXPECT_NEAR(average_precision({0, .5, 1.0}, {0, .5, 2.0 / 3}), 2.0 / 3, 1e-12);
  test::expect_throw_with([] { average_precision({.5}, {}); }, {"average_precision", "1 recall values"});
}

TEST(DetectEval, PerfectDetectorScoresOne) {
  DetectionsFile truth = file_of({{face(10, 10, 50, 50)}, {face(100, 20, 80, 80)}, {face(5, 5, 30, 40)}});
  DetectionsFile dets = truth;
  for (auto& p : dets.photos) p.faces[0].score = 0.9;
  DetectionEval e = evaluate_detections(dets, truth);
  EXPECT_EQ(e.photos, 3);
  EXPECT_EQ(e.truth_faces, 3);
  EXPECT_EQ(e.detections, 3);
  ASSERT_EQ(e.per_iou.size(), 10u);
  for (const IouEval& m : e.per_iou) {
    EXPECT_DOUBLE_EQ(m.ap, 1.0) << m.iou;
    EXPECT_EQ(m.tp, 3);
    EXPECT_EQ(m.fp, 0);
  }
  EXPECT_DOUBLE_EQ(e.ap50, 1.0);
  EXPECT_DOUBLE_EQ(e.ap50_95, 1.0);
  EXPECT_DOUBLE_EQ(e.recall_at_1fp, 1.0);
  EXPECT_FALSE(e.reached_1fp);
  EXPECT_DOUBLE_EQ(e.ap50_largest, 1.0);
  EXPECT_EQ(e.nme_faces, 0);
  EXPECT_TRUE(std::isnan(e.mean_nme));
}

TEST(DetectEval, HalfRightDetector) {
  DetectionsFile truth = file_of({{face(10, 10, 50, 50)}, {face(10, 10, 50, 50)}});
  // Right one first: (r .5, p 1), (r .5, p .5): AP .5.
  DetectionEval e = evaluate_detections(file_of({{face(10, 10, 50, 50, .9)}, {face(300, 300, 20, 20, .8)}}), truth);
  EXPECT_DOUBLE_EQ(e.ap50, 0.5);
  EXPECT_EQ(e.at(0.5)->tp, 1);
  EXPECT_EQ(e.at(0.5)->fp, 1);
  // Wrong one first: (r 0, p 0), (r .5, p .5): AP .25.
  e = evaluate_detections(file_of({{face(10, 10, 50, 50, .7)}, {face(300, 300, 20, 20, .8)}}), truth);
  EXPECT_DOUBLE_EQ(e.ap50, 0.25);
  const PrCurve& c = e.at(0.5)->curve;
  ASSERT_EQ(c.score.size(), 2u);
  EXPECT_DOUBLE_EQ(c.score[0], .8);
  EXPECT_DOUBLE_EQ(c.recall[0], 0.0);
  EXPECT_DOUBLE_EQ(c.precision[0], 0.0);
  EXPECT_DOUBLE_EQ(c.recall[1], 0.5);
  EXPECT_DOUBLE_EQ(c.precision[1], 0.5);
}

TEST(DetectEval, KnownPrCurveAcrossPhotos) {
  // Four photos, one labelled face each; by score: TP(p0) FP(p0) TP(p1) FP(p2) TP(p2); p3 missed.
  const FaceDetection g = face(10, 10, 50, 50);
  DetectionsFile truth = file_of({{g}, {g}, {g}, {g}});
  DetectionsFile dets = file_of({{face(10, 10, 50, 50, .9), face(300, 300, 20, 20, .8)},
                                 {face(10, 10, 50, 50, .7)},
                                 {face(300, 300, 20, 20, .6), face(10, 10, 50, 50, .5)},
                                 {}});
  DetectionEval e = evaluate_detections(dets, truth);
  const PrCurve& c = e.at(0.5)->curve;
  const std::vector<double> recall{.25, .25, .5, .5, .75}, precision{1, .5, 2.0 / 3, .5, .6};
  ASSERT_EQ(c.recall.size(), 5u);
  for (size_t k = 0; k < 5; ++k) {
    EXPECT_DOUBLE_EQ(c.recall[k], recall[k]) << k;
    EXPECT_DOUBLE_EQ(c.precision[k], precision[k]) << k;
  }
  EXPECT_NEAR(e.ap50, .25 + .25 * 2.0 / 3 + .25 * .6, 1e-12);
  // 2 false positives < 4 photos: the final recall, never reaching 1 FP per photo.
  EXPECT_DOUBLE_EQ(e.recall_at_1fp, .75);
  EXPECT_FALSE(e.reached_1fp);
  EXPECT_DOUBLE_EQ(e.score_at_1fp, .5);
}

TEST(DetectEval, RecallAtOneFalsePositivePerPhoto) {
  // Two photos; by score FP FP TP FP TP: the 3rd false positive (> 2 photos) comes at the 4th
  // detection, so the recall is the 3rd's, 1/2, at score .7.
  const FaceDetection g = face(10, 10, 50, 50);
  DetectionsFile truth = file_of({{g}, {g}});
  DetectionsFile dets = file_of({{face(300, 300, 20, 20, .9), face(10, 10, 50, 50, .7), face(300, 300, 20, 20, .6)},
                                 {face(300, 300, 20, 20, .8), face(10, 10, 50, 50, .5)}});
  DetectionEval e = evaluate_detections(dets, truth);
  EXPECT_DOUBLE_EQ(e.recall_at_1fp, .5);
  EXPECT_DOUBLE_EQ(e.score_at_1fp, .7);
  EXPECT_TRUE(e.reached_1fp);
}

TEST(DetectEval, DuplicateBoxIsAFalsePositive) {
  DetectionsFile truth = file_of({{face(10, 10, 50, 50)}});
  DetectionEval e = evaluate_detections(file_of({{face(10, 10, 50, 50, .9), face(10, 10, 50, 50, .8)}}), truth);
  EXPECT_EQ(e.at(0.5)->tp, 1);
  EXPECT_EQ(e.at(0.5)->fp, 1);
  EXPECT_DOUBLE_EQ(e.ap50, 1.0);  // the duplicate comes after full recall
  EXPECT_DOUBLE_EQ(e.at(0.5)->curve.precision[1], 0.5);
  // A worse-placed box scored higher takes the match (IoU .85); the exact box is then the duplicate.
  e = evaluate_detections(file_of({{face(12, 12, 50, 50, .95), face(10, 10, 50, 50, .9)}}), truth);
  ASSERT_EQ(e.at(0.5)->matches.size(), 1u);
  EXPECT_EQ(e.at(0.5)->matches[0].detection, 0);
  EXPECT_EQ(e.at(0.5)->fp, 1);
  EXPECT_EQ(e.at(0.9)->tp, 1);  // at IoU 0.9 the .85 box misses and the exact one matches
}

TEST(DetectEval, EachDetectionTakesTheBestUnmatchedFace) {
  // Two overlapping labelled faces; the first detection sits on face 1; the second overlaps both
  // but face 1 is taken, so it matches face 0 (COCO's rule).
  DetectionsFile truth = file_of({{face(0, 0, 40, 40), face(20, 0, 40, 40)}});
  DetectionsFile dets = file_of({{face(20, 0, 40, 40, .9), face(12, 0, 40, 40, .8)}});
  DetectionEval e = evaluate_detections(dets, truth, {{0.5}});
  const IouEval& m = *e.at(0.5);
  ASSERT_EQ(m.matches.size(), 2u);
  EXPECT_EQ(m.matches[0].truth, 1);
  EXPECT_EQ(m.matches[1].truth, 0);
  EXPECT_NEAR(m.matches[1].iou, (28.0 * 40) / (2 * 1600 - 28.0 * 40), 1e-6);
  EXPECT_DOUBLE_EQ(e.ap50, 1.0);
}

TEST(DetectEval, IouThresholdsAverage) {
  // IoU of the one detection: 0.62 (50 x 31 inside 50 x 50): a match at 0.50, 0.55, 0.60 only.
  DetectionsFile truth = file_of({{face(0, 0, 50, 50)}});
  DetectionEval e = evaluate_detections(file_of({{face(0, 0, 50, 31, .9)}}), truth);
  EXPECT_DOUBLE_EQ(e.ap50, 1.0);
  EXPECT_EQ(e.at(0.6)->tp, 1);
  EXPECT_EQ(e.at(0.65)->tp, 0);
  EXPECT_NEAR(e.ap50_95, 0.3, 1e-12);
  // Thresholds without 0.5: AP@0.5 is still there, and not in the mean.
  e = evaluate_detections(file_of({{face(0, 0, 50, 31, .9)}}), truth, {{0.6, 0.7}});
  EXPECT_DOUBLE_EQ(e.ap50, 1.0);
  EXPECT_DOUBLE_EQ(e.ap50_95, 0.5);
  test::expect_throw_with([&] { evaluate_detections(truth, truth, {{1.5}}); }, {"IoU thresholds", "1.5"});
}

TEST(DetectEval, EmptyPhotos) {
  // p0: a labelled face, nothing found; p1: no label, one box (an FP); p2: found.
  DetectionsFile truth = file_of({{face(10, 10, 50, 50)}, {}, {face(10, 10, 50, 50)}});
  DetectionsFile dets = file_of({{}, {face(10, 10, 50, 50, .9)}, {face(10, 10, 50, 50, .8)}});
  DetectionEval e = evaluate_detections(dets, truth);
  EXPECT_EQ(e.truth_faces, 2);
  EXPECT_EQ(e.photos_without_truth, 1);
  EXPECT_DOUBLE_EQ(e.ap50, 0.25);  // (r 0, p 0), (r .5, p .5)
  // Nothing found anywhere: AP 0, recall 0.
  e = evaluate_detections(file_of({{}, {}, {}}), truth);
  EXPECT_DOUBLE_EQ(e.ap50, 0.0);
  EXPECT_DOUBLE_EQ(e.recall_at_1fp, 0.0);
  // No labelled face at all: AP undefined.
  e = evaluate_detections(dets, file_of({{}, {}, {}}));
  EXPECT_TRUE(std::isnan(e.ap50));
}

TEST(DetectEval, MissingAndDuplicatePhotos) {
  DetectionsFile truth = file_of({{face(10, 10, 50, 50)}, {face(10, 10, 50, 50)}});
  DetectionsFile dets = file_of({{face(10, 10, 50, 50, .9)}});
  test::expect_throw_with([&] { evaluate_detections(dets, truth); }, {"lack 1 of", "2 photos", "p1.jpg"});
  DetectionEvalOptions o;
  o.missing_photos_empty = true;
  EXPECT_DOUBLE_EQ(evaluate_detections(dets, truth, o).ap50, 0.5);
  DetectionsFile twice = file_of({{}, {}});
  twice.photos[1].file = "p0.jpg";
  test::expect_throw_with([&] { evaluate_detections(twice, truth); }, {"p0.jpg", "twice", "detections"});
  // Photos only the detections have are ignored and counted.
  DetectionsFile more = file_of({{face(10, 10, 50, 50, .9)}, {face(10, 10, 50, 50, .9)}, {face(1, 1, 5, 5, .9)}});
  DetectionEval e = evaluate_detections(more, truth);
  EXPECT_EQ(e.extra_photos, 1);
  EXPECT_DOUBLE_EQ(e.ap50, 1.0);
  DetectionsFile nan = file_of({{face(10, 10, 50, 50, std::nan(""))}, {}});
  test::expect_throw_with([&] { evaluate_detections(nan, truth); }, {"NaN score", "p0.jpg"});
}

TEST(DetectEval, LargestFaceOnlyIgnoresBystanders) {
  // Only the large face is labelled; the detector also finds a smaller bystander, scored higher.
  DetectionsFile truth = file_of({{face(0, 0, 100, 100)}, {face(0, 0, 100, 100)}});
  DetectionsFile dets = file_of({{face(200, 0, 50, 50, .9), face(0, 0, 100, 100, .6)}, {face(0, 0, 100, 100, .7)}});
  DetectionEval e = evaluate_detections(dets, truth);
  // Main: FP(.9) TP(.7) TP(.6): (0, 0) (.5, .5) (1, 2/3): envelope 2/3 everywhere: AP 2/3.
  EXPECT_NEAR(e.ap50, 2.0 / 3, 1e-12);
  EXPECT_DOUBLE_EQ(e.ap50_largest, 1.0);
  ASSERT_EQ(e.curve_largest.score.size(), 2u);
  EXPECT_DOUBLE_EQ(e.curve_largest.score[0], .7);
  // The largest box is wrong: AP 0 there for that photo.
  dets = file_of({{face(200, 0, 150, 150, .9), face(0, 0, 100, 100, .6)}, {face(0, 0, 100, 100, .7)}});
  e = evaluate_detections(dets, truth);
  EXPECT_DOUBLE_EQ(e.ap50_largest, 0.25);  // FP(.9: p0's largest box, on nobody) TP(.7): (0, 0) (.5, .5)
}

TEST(DetectEval, MinScoreDropsDetectionsFirst) {
  DetectionsFile truth = file_of({{face(10, 10, 50, 50)}, {face(10, 10, 50, 50)}});
  DetectionsFile dets = file_of({{face(10, 10, 50, 50, .9), kFar}, {face(10, 10, 50, 50, .3)}});
  dets.photos[0].faces[1].score = .4;
  DetectionEvalOptions o;
  o.min_score = 0.5;
  DetectionEval e = evaluate_detections(dets, truth, o);
  EXPECT_EQ(e.detections, 1);
  EXPECT_DOUBLE_EQ(e.ap50, 0.5);
}

TEST(DetectEval, LandmarkNmeOfMatchedFaces) {
  FaceDetection g = face(0, 0, 50, 50);
  g.has_landmarks = true;
  g.landmarks = {Point2{10, 20}, Point2{30, 20}, Point2{20, 30}, Point2{12, 40}, Point2{28, 40}};  // IOD 20
  FaceDetection d = g;
  d.score = .9;
  for (auto& q : d.landmarks) q = Point2{q.x + 0.6, q.y + 0.8};  // 1 px off: NME 0.05
  FaceDetection unmatched = kFar;
  unmatched.score = .8;
  unmatched.has_landmarks = true;
  unmatched.landmarks = {Point2{0, 0}, Point2{0, 0}, Point2{0, 0}, Point2{0, 0}, Point2{0, 0}};
  FaceDetection exact = g;
  exact.score = .7;
  FaceDetection no_points = face(0, 0, 50, 50, .6);
  DetectionsFile truth = file_of({{g}, {g}, {g}});
  DetectionEval e = evaluate_detections(file_of({{d, unmatched}, {exact}, {no_points}}), truth);
  EXPECT_EQ(e.nme_faces, 2);
  EXPECT_NEAR(e.mean_nme, 0.025, 1e-9);  // 0.05 and the exact one's 0
  EXPECT_DOUBLE_EQ(e.nme_failure_rate, 0.0);
}

TEST(DetectEval, MillisecondsPerPhoto) {
  DetectionsFile truth = file_of({{}, {}, {}, {}});
  DetectionsFile dets = file_of({{}, {}, {}, {}});
  const double ms[4] = {10, 20, 0, 40};
  for (int i = 0; i < 4; ++i) dets.photos[i].ms = ms[i];
  DetectionEval e = evaluate_detections(dets, truth);
  EXPECT_EQ(e.timed_photos, 3);
  EXPECT_DOUBLE_EQ(e.ms_mean, 70.0 / 3);
  EXPECT_DOUBLE_EQ(e.ms_median, 20.0);
  dets.photos[2].ms = 30;
  EXPECT_DOUBLE_EQ(evaluate_detections(dets, truth).ms_median, 25.0);
}

TEST(DetectEval, ReportFiles) {
  test::TempDir dir("ff_detect_eval");
  DetectionsFile truth = file_of({{face(10, 10, 50, 50)}, {face(10, 10, 50, 50)}});
  DetectionEval e = evaluate_detections(file_of({{face(10, 10, 50, 50, .9)}, {face(300, 300, 20, 20, .8)}}), truth);
  std::vector<std::string> w = write_detection_eval(dir.str("out"), e, {"fake \"det\"", "data", "d.json"});
  ASSERT_EQ(w.size(), 4u);
  for (const std::string& p : w) EXPECT_TRUE(std::filesystem::is_regular_file(p)) << p;
  std::ifstream f(dir.str("out/metrics.json"));
  std::string j((std::istreambuf_iterator<char>(f)), {});
  EXPECT_NE(j.find("\"ap50\": 0.5,"), std::string::npos) << j;
  EXPECT_NE(j.find("\"detector\": \"fake \\\"det\\\"\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"nme\": null"), std::string::npos) << j;
  std::ifstream c(dir.str("out/pr_curve.csv"));
  std::string csv((std::istreambuf_iterator<char>(c)), {});
  EXPECT_EQ(csv, "score,recall,precision\n0.9,0.5,1\n0.8,0.5,0.5\n");
}

// ---------------------------------------------------------------- ground truth
TEST(DetectTruth, CelebAFolder) {
  test::TempDir dir("ff_detect_truth");
  std::filesystem::create_directories(dir.file("img_celeba"));
  save_png(Image(30, 20, 3, 100), dir.file("img_celeba/a.png"));
  save_jpeg(Image(17, 41, 3, 100), dir.file("img_celeba/b.jpg"));
  dir.write("list_bbox_celeba.txt", "2\nimage_id x_1 y_1 width height\na.png 1 2 10 12\nb.jpg 3 4 5 6\n");
  dir.write("list_landmarks_celeba.txt",
            "1\nlefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x "
            "rightmouth_y\nb.jpg 1 2 3 4 5 6 7 8 9 10\n");
  DetectionsFile t = load_detection_ground_truth(dir.str());
  ASSERT_EQ(t.photos.size(), 2u);
  EXPECT_EQ(t.photos[0].file, "a.png");
  EXPECT_EQ(t.photos[0].width, 30);
  EXPECT_EQ(t.photos[0].height, 20);
  EXPECT_EQ(t.photos[1].width, 17);
  EXPECT_EQ(t.photos[1].height, 41);
  ASSERT_EQ(t.photos[0].faces.size(), 1u);
  EXPECT_FLOAT_EQ(t.photos[0].faces[0].box.height, 12);
  EXPECT_DOUBLE_EQ(t.photos[0].faces[0].score, 1.0);
  EXPECT_FALSE(t.photos[0].faces[0].has_landmarks);
  ASSERT_TRUE(t.photos[1].faces[0].has_landmarks);
  EXPECT_DOUBLE_EQ(t.photos[1].faces[0].landmarks[4].y, 10);

  dir.write("list_landmarks_celeba.txt",
            "1\nlefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x "
            "rightmouth_y\nc.jpg 1 2 3 4 5 6 7 8 9 10\n");
  test::expect_throw_with([&] { load_detection_ground_truth(dir.str()); }, {"list_landmarks_celeba.txt", "c.jpg"});
  dir.write("list_landmarks_celeba.txt", "1\nlefteye_x lefteye_y\nb.jpg 1 2\n");
  test::expect_throw_with([&] { load_detection_ground_truth(dir.str()); }, {"list_landmarks_celeba.txt:2"});
  std::filesystem::remove(dir.file("list_landmarks_celeba.txt"));
  dir.write("list_bbox_celeba.txt", "2\nimage_id x_1 y_1 width height\na.png 1 2 10 12\nz.jpg 3 4 5 6\n");
  test::expect_throw_with([&] { load_detection_ground_truth(dir.str()); }, {"no such image", "z.jpg"});
  dir.write("list_bbox_celeba.txt", "1\nimage_id x_1 y_1 width height\na.png 1 2 ten 12\n");
  test::expect_throw_with([&] { load_detection_ground_truth(dir.str()); }, {"list_bbox_celeba.txt:3"});
  std::filesystem::remove(dir.file("list_bbox_celeba.txt"));
  test::expect_throw_with([&] { load_detection_ground_truth(dir.str()); }, {"neither faces.json"});
}

TEST(DetectTruth, FacesJson) {
  test::TempDir dir("ff_detect_truth");
  DetectionsFile f = file_of({{face(1, 2, 3, 4, .3), face(5, 6, 7, 8, .2)}, {}});
  write_detections(dir.file("faces.json"), f);
  DetectionsFile t = load_detection_ground_truth(dir.str());
  ASSERT_EQ(t.photos.size(), 2u);
  ASSERT_EQ(t.photos[0].faces.size(), 2u);
  EXPECT_DOUBLE_EQ(t.photos[0].faces[1].score, 1.0);
  EXPECT_FLOAT_EQ(t.photos[0].faces[1].box.width, 7);
  EXPECT_TRUE(t.photos[1].faces.empty());
  EXPECT_EQ(detection_photo_dir(dir.str()), dir.str());
  f.photos[1].file = f.photos[0].file;
  write_detections(dir.file("faces.json"), f);
  test::expect_throw_with([&] { load_detection_ground_truth(dir.str()); }, {"p0.jpg", "twice"});
}

// ---------------------------------------------------------------- running a detector
// Finds one face in the middle of photos wider than 16 px, none in smaller ones.
struct FakeDetector : FaceDetector {
  std::vector<FaceDetection> detect(const Image& photo) override {
    if (photo.width <= 16) return {};
    FaceDetection f = face(photo.width / 4.f, photo.height / 4.f, photo.width / 2.f, photo.height / 2.f, 0.87);
    f.has_landmarks = true;
    for (int k = 0; k < 5; ++k) f.landmarks[k] = Point2{photo.width / 2.0 + k, photo.height / 2.0};
    return {f};
  }
  std::string name() const override { return "fake"; }
};

TEST(DetectPhotos, StatusNamesPhotosWithoutFacesAndUnreadable) {
  test::TempDir dir("ff_detect_photos");
  save_jpeg(Image(40, 30, 3, 120), dir.file("big.jpg"));
  save_png(Image(12, 12, 3, 120), dir.file("small.png"));
  dir.write("broken.jpg", "not a jpeg");
  FakeDetector det;
  std::vector<std::string> log;
  auto to_log = [&](const std::string& m) { log.push_back(m); };
  DetectPhotosResult r = detect_photos(det, {dir.file("big.jpg")}, dir.file("o1"), to_log);
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(log.empty());
  EXPECT_TRUE(std::filesystem::is_regular_file(dir.file("o1/big_faces.jpg")));
  DetectionsFile back = read_detections(dir.file("o1/detections.json"));
  ASSERT_EQ(back.photos.size(), 1u);
  EXPECT_EQ(back.photos[0].file, "big.jpg");
  ASSERT_EQ(back.photos[0].faces.size(), 1u);
  EXPECT_TRUE(back.photos[0].faces[0].has_landmarks);
  EXPECT_FLOAT_EQ(back.photos[0].faces[0].box.width, 20);

  r = detect_photos(det, {dir.file("big.jpg"), dir.file("small.png")}, dir.file("o2"), to_log);
  EXPECT_EQ(r.status, 3);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0], dir.file("small.png") + ": no face found");
  EXPECT_TRUE(std::filesystem::is_regular_file(dir.file("o2/small_faces.png")));
  std::ifstream csv(dir.file("o2/detections.csv"));
  std::string text((std::istreambuf_iterator<char>(csv)), {});
  EXPECT_NE(text.find("small.png,-1,"), std::string::npos) << text;

  log.clear();
  r = detect_photos(det, {dir.file("broken.jpg"), dir.file("small.png"), dir.file("big.jpg"), dir.file("nope.jpg")},
                    dir.file("o3"), to_log);
  EXPECT_EQ(r.status, 2);
  ASSERT_EQ(r.unreadable.size(), 2u);
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0].rfind(dir.file("broken.jpg") + ": cannot read", 0), 0u) << log[0];
  EXPECT_EQ(log[2].rfind(dir.file("nope.jpg") + ": cannot read", 0), 0u) << log[2];
  EXPECT_EQ(read_detections(dir.file("o3/detections.json")).photos.size(), 2u);  // the readable ones
}

TEST(DetectPhotos, SameFileNameTwiceGetsTwoFigures) {
  test::TempDir dir("ff_detect_photos");
  std::filesystem::create_directories(dir.file("x"));
  save_png(Image(40, 30, 3, 120), dir.file("a.png"));
  save_png(Image(40, 30, 3, 60), dir.file("x/a.png"));
  FakeDetector det;
  DetectPhotosResult r = detect_photos(det, {dir.file("a.png"), dir.file("x/a.png")}, dir.file("o"), [](auto&) {});
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(std::filesystem::is_regular_file(dir.file("o/a_faces.png")));
  EXPECT_TRUE(std::filesystem::is_regular_file(dir.file("o/a_2_faces.png")));
}

TEST(DetectPhotos, DrawnFigureMarksTheBox) {
  Image photo(64, 64, 3, 0);
  std::vector<FaceDetection> faces{face(10, 20, 30, 30, .5)};
  Image fig = draw_detections(photo, faces);
  ASSERT_EQ(fig.width, 64);
  // The box's left edge (x = 10) is drawn green; the inside stays black.
  EXPECT_GT(fig.at(10, 35, 1), 150);
  EXPECT_LT(fig.at(10, 35, 0), 100);
  EXPECT_EQ(fig.at(25, 35, 1), 0);
}

TEST(DetectPhotos, FolderRunKeepsOrderOnTwoThreads) {
  test::TempDir dir("ff_detect_folder");
  std::vector<std::string> files;
  for (int i = 0; i < 9; ++i) {
    files.push_back("f" + std::to_string(i) + ".png");
    save_png(Image(i % 3 == 0 ? 10 : 30 + i, 20, 3, 50), dir.file(files.back()));
  }
  files.push_back("missing.png");
  int made = 0;
  size_t last_done = 0;
  DetectFolderResult r = detect_folder(
      [&] {
        ++made;
        return std::make_unique<FakeDetector>();
      },
      dir.str(), files, 2, [&](size_t done, size_t) { last_done = std::max(last_done, done); });
  EXPECT_EQ(made, 2);
  EXPECT_EQ(last_done, 10u);
  ASSERT_EQ(r.detections.photos.size(), 9u);
  ASSERT_EQ(r.unreadable.size(), 1u);
  EXPECT_NE(r.unreadable[0].find("missing.png"), std::string::npos);
  for (int i = 0; i < 9; ++i) {
    EXPECT_EQ(r.detections.photos[i].file, files[i]);
    EXPECT_EQ(r.detections.photos[i].faces.size(), i % 3 == 0 ? 0u : 1u) << i;
    EXPECT_EQ(r.detections.photos[i].width, i % 3 == 0 ? 10 : 30 + i);
    EXPECT_GE(r.detections.photos[i].ms, 0.0);
  }
  EXPECT_EQ(r.detections.detector, "fake");
}

}  // namespace
}  // namespace ff
