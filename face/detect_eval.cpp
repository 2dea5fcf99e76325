// face/detect_eval.cpp — detection metrics (AP, PR curves, recall at 1 FP per image, landmark NME
// of matched faces, time per photo) and their report (face/detect_eval.h).
#include "face/detect_eval.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <unordered_map>

#include "engine/error.h"
#include "engine/safetensors.h"  // write_file_atomic
#include "report/chart.h"
#include "train/metrics.h"

namespace ff {

namespace {

double box_area(const FaceBox& b) { return double(b.width) * double(b.height); }

// The index of the largest box (ties: the higher score, then the earlier face), or -1.
int64_t largest(const std::vector<FaceDetection>& faces) {
  int64_t best = -1;
  for (size_t i = 0; i < faces.size(); ++i) {
    if (best < 0) {
      best = static_cast<int64_t>(i);
      continue;
    }
    const FaceDetection &a = faces[i], &b = faces[best];
    if (box_area(a.box) > box_area(b.box) || (box_area(a.box) == box_area(b.box) && a.score > b.score))
      best = static_cast<int64_t>(i);
  }
  return best;
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += static_cast<char>(c);
    } else if (c < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else {
      o += static_cast<char>(c);
    }
  }
  return o;
}

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char b[40];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

}  // namespace

const IouEval* DetectionEval::at(double iou) const {
  for (const IouEval& e : per_iou)
    if (std::fabs(e.iou - iou) < 1e-9) return &e;
  return nullptr;
}

double average_precision(const std::vector<double>& recall, const std::vector<double>& precision) {
  FF_CHECK(recall.size() == precision.size(), "average_precision: ", recall.size(), " recall values but ",
           precision.size(), " precision values");
  // VOC 2010+: mrec = [0, r..., 1], mpre = [0, p..., 0], mpre made non-increasing from the right,
  // then the area over the points where recall changes.
  std::vector<double> mrec{0.0}, mpre{0.0};
  mrec.insert(mrec.end(), recall.begin(), recall.end());
  mpre.insert(mpre.end(), precision.begin(), precision.end());
  mrec.push_back(1.0);
  mpre.push_back(0.0);
  for (size_t i = mpre.size() - 1; i > 0; --i) mpre[i - 1] = std::max(mpre[i - 1], mpre[i]);
  double ap = 0;
  for (size_t i = 1; i < mrec.size(); ++i)
    if (mrec[i] != mrec[i - 1]) ap += (mrec[i] - mrec[i - 1]) * mpre[i];
  return ap;
}

IouEval match_detections(const std::vector<std::vector<FaceDetection>>& dets,
                         const std::vector<std::vector<FaceDetection>>& truth, double iou) {
  FF_CHECK(dets.size() == truth.size(), "match_detections: detections of ", dets.size(), " photos but ground truth of ",
           truth.size());
  FF_CHECK(iou > 0 && iou <= 1, "match_detections: the IoU threshold must be in (0, 1], got ", iou);
  IouEval r;
  r.iou = iou;
  int64_t g = 0;
  struct Ref {
    int64_t photo, face;
    double score;
  };
  std::vector<Ref> order;
  for (size_t p = 0; p < dets.size(); ++p) {
    g += static_cast<int64_t>(truth[p].size());
    for (size_t k = 0; k < dets[p].size(); ++k) {
      FF_CHECK(!std::isnan(dets[p][k].score), "match_detections: detection ", k, " of photo ", p, " has a NaN score");
      order.push_back({static_cast<int64_t>(p), static_cast<int64_t>(k), dets[p][k].score});
    }
  }
  std::stable_sort(order.begin(), order.end(), [](const Ref& a, const Ref& b) { return a.score > b.score; });
  std::vector<std::vector<char>> taken(truth.size());
  for (size_t p = 0; p < truth.size(); ++p) taken[p].assign(truth[p].size(), 0);
  for (const Ref& d : order) {
    const FaceBox& box = dets[d.photo][d.face].box;
    int64_t best = -1;
    double best_iou = 0;
    for (size_t t = 0; t < truth[d.photo].size(); ++t) {
      if (taken[d.photo][t]) continue;
      double o = box_iou(box, truth[d.photo][t].box);
      if (o >= iou && o > best_iou) best = static_cast<int64_t>(t), best_iou = o;
    }
    if (best >= 0) {
      taken[d.photo][best] = 1;
      ++r.tp;
      r.matches.push_back({d.photo, d.face, best, best_iou});
    } else {
      ++r.fp;
    }
    r.curve.score.push_back(d.score);
    r.curve.tp.push_back(r.tp);
    r.curve.fp.push_back(r.fp);
    r.curve.recall.push_back(g > 0 ? double(r.tp) / double(g) : std::nan(""));
    r.curve.precision.push_back(double(r.tp) / double(r.tp + r.fp));
  }
  r.ap = g > 0 ? average_precision(r.curve.recall, r.curve.precision) : std::nan("");
  return r;
}

DetectionEval evaluate_detections(const DetectionsFile& detections, const DetectionsFile& truth,
                                  const DetectionEvalOptions& o) {
  std::vector<double> thresholds = o.iou_thresholds;
  if (thresholds.empty())
    for (int i = 0; i < 10; ++i) thresholds.push_back(0.5 + 0.05 * i);
  bool has50 = false;
  for (double t : thresholds) {
    FF_CHECK(t > 0 && t <= 1, "evaluate_detections: IoU thresholds must be in (0, 1], got ", t);
    has50 = has50 || std::fabs(t - 0.5) < 1e-9;
  }
  if (!has50) thresholds.insert(thresholds.begin(), 0.5);

  std::unordered_map<std::string, size_t> by_file;
  for (size_t i = 0; i < detections.photos.size(); ++i)
    FF_CHECK(by_file.emplace(detections.photos[i].file, i).second, "evaluate_detections: photo ",
             detections.photos[i].file, " appears twice in the detections");
  std::unordered_map<std::string, int> in_truth;
  DetectionEval e;
  std::vector<std::vector<FaceDetection>> dets, gts;
  std::vector<double> ms;
  std::vector<std::string> missing;
  for (const PhotoDetections& t : truth.photos) {
    FF_CHECK(!in_truth[t.file]++, "evaluate_detections: photo ", t.file, " appears twice in the ground truth");
    auto it = by_file.find(t.file);
    std::vector<FaceDetection> d;
    if (it == by_file.end()) {
      missing.push_back(t.file);
    } else {
      const PhotoDetections& p = detections.photos[it->second];
      for (const FaceDetection& f : p.faces) {
        FF_CHECK(!std::isnan(f.score), "evaluate_detections: a detection in ", p.file, " has a NaN score");
        if (f.score >= o.min_score) d.push_back(f);
      }
      if (p.ms > 0) ms.push_back(p.ms);
    }
    e.detections += static_cast<int64_t>(d.size());
    e.truth_faces += static_cast<int64_t>(t.faces.size());
    if (t.faces.empty()) ++e.photos_without_truth;
    dets.push_back(std::move(d));
    gts.push_back(t.faces);
  }
  if (!missing.empty() && !o.missing_photos_empty)
    FF_FAIL("evaluate_detections: the detections lack ", missing.size(), " of the ground truth's ",
            truth.photos.size(), " photos (first: ", missing[0], ")");
  for (const PhotoDetections& p : detections.photos)
    if (!in_truth.count(p.file)) ++e.extra_photos;
  e.photos = static_cast<int64_t>(truth.photos.size());

  double sum = 0;
  for (double t : thresholds) {
    e.per_iou.push_back(match_detections(dets, gts, t));
    sum += e.per_iou.back().ap;
  }
  e.ap50_95 = sum / double(thresholds.size());
  const IouEval& m50 = *e.at(0.5);
  e.ap50 = m50.ap;
  if (!has50) {  // 0.5 was added for AP@0.5 alone: leave it out of the mean
    e.ap50_95 = (sum - m50.ap) / double(thresholds.size() - 1);
  }

  // Recall at one false positive per photo: the last point of the curve with FP <= N.
  e.reached_1fp = m50.fp >= e.photos;
  for (size_t k = 0; k < m50.curve.score.size(); ++k) {
    if (m50.curve.fp[k] > e.photos) break;
    e.recall_at_1fp = m50.curve.recall[k];
    e.score_at_1fp = m50.curve.score[k];
  }
  if (e.truth_faces == 0) e.recall_at_1fp = std::nan("");

  // The largest detection of each photo against its largest labelled face.
  std::vector<std::vector<FaceDetection>> big_d(dets.size()), big_t(gts.size());
  for (size_t p = 0; p < dets.size(); ++p) {
    int64_t a = largest(dets[p]), b = largest(gts[p]);
    if (a >= 0) big_d[p].push_back(dets[p][a]);
    if (b >= 0) big_t[p].push_back(gts[p][b]);
  }
  IouEval big = match_detections(big_d, big_t, 0.5);
  e.ap50_largest = big.ap;
  e.curve_largest = std::move(big.curve);

  // Landmarks of the faces matched at IoU 0.5.
  std::vector<double> pred, gt;
  for (const DetectionMatch& m : m50.matches) {
    const FaceDetection& d = dets[m.photo][m.detection];
    const FaceDetection& t = gts[m.photo][m.truth];
    if (!d.has_landmarks || !t.has_landmarks) continue;
    if (std::hypot(t.landmarks[0].x - t.landmarks[1].x, t.landmarks[0].y - t.landmarks[1].y) <= 0) continue;
    for (int k = 0; k < 5; ++k) {
      pred.insert(pred.end(), {d.landmarks[k].x, d.landmarks[k].y});
      gt.insert(gt.end(), {t.landmarks[k].x, t.landmarks[k].y});
    }
  }
  if (!pred.empty()) {
    LandmarkMetrics lm = landmark_metrics(pred, gt, 5, 0.10);
    e.nme_faces = lm.n_images;
    e.mean_nme = lm.mean_nme;
    e.nme_failure_rate = lm.failure_rate;
  }

  e.timed_photos = static_cast<int64_t>(ms.size());
  if (!ms.empty()) {
    e.ms_mean = std::accumulate(ms.begin(), ms.end(), 0.0) / double(ms.size());
    std::sort(ms.begin(), ms.end());
    size_t n = ms.size();
    e.ms_median = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
  }
  return e;
}

std::vector<std::string> write_detection_eval(const std::string& out, const DetectionEval& e,
                                              const DetectionEvalSource& source) {
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  FF_CHECK(!ec, "eval-detector: cannot create ", out, " (", ec.message(), ")");
  std::vector<std::string> written;

  std::string j = "{\n";
  auto add = [&](const std::string& k, const std::string& v, bool last = false) {
    j += "  \"" + k + "\": " + v + (last ? "\n" : ",\n");
  };
  auto str = [](const std::string& s) { return "\"" + json_escape(s) + "\""; };
  add("format", str("faceforge-detector-eval-1"));
  add("detector", str(source.detector));
  add("data", str(source.data));
  add("detections", str(source.detections));
  add("photos", std::to_string(e.photos));
  add("photos_without_truth", std::to_string(e.photos_without_truth));
  add("extra_photos_ignored", std::to_string(e.extra_photos));
  add("truth_faces", std::to_string(e.truth_faces));
  add("detections_count", std::to_string(e.detections));
  add("ap_interpolation", str("VOC all-point (area under the precision envelope)"));
  add("matching", str("greedy by descending score over all photos; best unmatched IoU >= t (COCO)"));
  add("ap50", json_number(e.ap50));
  add("ap50_95", json_number(e.ap50_95));
  std::string per = "[";
  for (size_t i = 0; i < e.per_iou.size(); ++i)
    per += std::string(i ? ", " : "") + "{\"iou\": " + json_number(e.per_iou[i].iou) +
           ", \"ap\": " + json_number(e.per_iou[i].ap) + ", \"tp\": " + std::to_string(e.per_iou[i].tp) +
           ", \"fp\": " + std::to_string(e.per_iou[i].fp) + "}";
  add("per_iou", per + "]");
  add("recall_at_1fp_per_image", json_number(e.recall_at_1fp));
  add("score_at_1fp_per_image", json_number(e.score_at_1fp));
  add("reached_1fp_per_image", e.reached_1fp ? "true" : "false");
  add("ap50_largest_face_only", json_number(e.ap50_largest));
  add("nme_faces", std::to_string(e.nme_faces));
  add("nme", json_number(e.mean_nme));
  add("nme_failure_rate_0.1", json_number(e.nme_failure_rate));
  add("timed_photos", std::to_string(e.timed_photos));
  add("ms_per_photo_mean", json_number(e.ms_mean));
  add("ms_per_photo_median", json_number(e.ms_median), true);
  j += "}\n";
  write_file_atomic(out + "/metrics.json", j, "eval-detector metrics");
  written.push_back(out + "/metrics.json");

  const IouEval* m50 = e.at(0.5);
  std::string csv = "score,recall,precision\n";
  char line[96];
  if (m50)
    for (size_t k = 0; k < m50->curve.score.size(); ++k) {
      std::snprintf(line, sizeof line, "%.9g,%.9g,%.9g\n", m50->curve.score[k], m50->curve.recall[k],
                    m50->curve.precision[k]);
      csv += line;
    }
  write_file_atomic(out + "/pr_curve.csv", csv, "eval-detector PR curve");
  written.push_back(out + "/pr_curve.csv");

  std::vector<Series> series;
  char name[96];
  for (double t : {0.5, 0.75}) {
    const IouEval* m = e.at(t);
    if (!m) continue;
    std::snprintf(name, sizeof name, "IoU %.2f (AP %.3f)", t, m->ap);
    series.emplace_back(name, m->curve.recall, m->curve.precision);
  }
  std::snprintf(name, sizeof name, "largest face only, IoU 0.50 (AP %.3f)", e.ap50_largest);
  series.emplace_back(name, e.curve_largest.recall, e.curve_largest.precision);
  ChartOptions c;
  std::snprintf(name, sizeof name, "Precision-recall, %lld photos, %lld labelled faces",
                static_cast<long long>(e.photos), static_cast<long long>(e.truth_faces));
  c.title = name;
  c.x_label = "recall";
  c.y_label = "precision";
  c.x_min = 0;
  c.x_max = 1;
  c.y_min = 0;
  c.y_max = 1.02;
  c.legend = LegendPlace::BottomLeft;
  for (const char* ext : {"png", "svg"}) {
    const std::string path = out + "/pr_curve." + ext;
    save_line_chart(path, series, c);
    written.push_back(path);
  }
  return written;
}

}  // namespace ff
