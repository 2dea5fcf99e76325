// face/detect_eval.h — measuring a face detector: a detections file (data/detections.h) against
// the ground truth (data/detect_truth.h), as `faceforge eval-detector` reports it.
//
// Definitions (N photos, G labelled faces in all, detections of every photo pooled):
//   matching at IoU t   the detections of all photos in descending score (ties: the file's photo
//                       order, then the photo's face order), each matched to the not yet matched
//                       labelled face of its photo with the highest IoU >= t (COCO's rule; each
//                       labelled face matches at most once); unmatched detections are false
//                       positives: a second box on a matched face (a duplicate) and a box on a
//                       face nobody labelled alike.
//   PR curve            after the k-th detection: recall_k = TP_k / G, precision_k = TP_k / k.
//   AP                  PASCAL VOC's all-point interpolated area (VOC 2010 onward, not the 11-point
//                       form of VOC 2007): precision made monotone from the right,
//                       p_interp(r) = max_{r' >= r} precision(r'), and summed over the recall steps,
//                       AP = sum_k (recall_k - recall_{k-1}) p_interp(recall_k). Recall never reached
//                       counts as precision 0. NaN when G = 0.
//   AP@0.5              AP at t = 0.5; AP@[.5:.95] the mean of AP over t = 0.50, 0.55, ..., 0.95.
//   recall at 1 FP/img  at IoU 0.5, the recall reached by the highest-scoring detections that
//                       hold at most N false positives (one per photo on average): the detection
//                       before the (N+1)-th false positive; `score_at_1fp` is the score of that
//                       last detection. With fewer than N false positives in all, the final recall
//                       (reached_1fp false).
//   largest face only   each photo's single largest detection (by box area; ties: higher score)
//                       against its largest labelled face, matched at IoU 0.5: AP@0.5 over N
//                       one-box-per-photo detections. Where, like celeba_wild_val, only the largest
//                       face of a photo is labelled, the main AP counts a correct box on an
//                       unlabelled bystander as a false positive; this second number does not
//                       (it measures finding the main face, not every face).
//   NME                 on the faces matched at IoU 0.5 whose detection and label both have five
//                       points: train/metrics.h's landmark NME (mean point error over the labelled
//                       inter-ocular distance, points 0 and 1); labels with coincident eyes are left out.
//   ms                  mean and median of the photos' "ms" fields that are > 0 (0 means unknown).
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "data/detections.h"

namespace ff {

struct DetectionEvalOptions {
  std::vector<double> iou_thresholds;  // empty: 0.50, 0.55, ..., 0.95
  double min_score = -std::numeric_limits<double>::infinity();  // detections scoring below are dropped first
  // Photos of the ground truth that the detections file lacks: an error (false), or evaluated as
  // photos where nothing was found (true).
  bool missing_photos_empty = false;
};

struct PrCurve {
  std::vector<double> score, recall, precision;  // one point per detection, descending score
  std::vector<int64_t> tp, fp;                   // the counts so far at each point
};

struct DetectionMatch {
  int64_t photo = 0, detection = 0, truth = 0;  // indices: photo, its detection, its labelled face
  double iou = 0;
};

struct IouEval {
  double iou = 0;
  double ap = 0;
  int64_t tp = 0, fp = 0;
  PrCurve curve;
  std::vector<DetectionMatch> matches;  // in the order they were made (descending score)
};

struct DetectionEval {
  int64_t photos = 0, truth_faces = 0, detections = 0;
  int64_t photos_without_truth = 0;      // photos with no labelled face (every detection there is an FP)
  int64_t extra_photos = 0;              // photos of the detections file the ground truth lacks (ignored)
  std::vector<IouEval> per_iou;          // in the order of the thresholds
  double ap50 = std::numeric_limits<double>::quiet_NaN();
  double ap50_95 = std::numeric_limits<double>::quiet_NaN();  // mean over per_iou
  double recall_at_1fp = 0, score_at_1fp = std::numeric_limits<double>::quiet_NaN();
  bool reached_1fp = false;
  double ap50_largest = std::numeric_limits<double>::quiet_NaN();
  PrCurve curve_largest;
  int64_t nme_faces = 0;
  double mean_nme = std::numeric_limits<double>::quiet_NaN();
  double nme_failure_rate = std::numeric_limits<double>::quiet_NaN();  // share of those faces with NME > 0.1
  int64_t timed_photos = 0;
  double ms_mean = std::numeric_limits<double>::quiet_NaN(), ms_median = std::numeric_limits<double>::quiet_NaN();
  const IouEval* at(double iou) const;  // the entry for a threshold (within 1e-9), or nullptr
};

// The ground truth's photos are the evaluation set; each must appear in `detections` (by file
// name, once) unless options.missing_photos_empty. Throws ff::Error on a photo listed twice,
// a missing photo (naming how many and the first), NaN scores, or thresholds outside (0, 1].
DetectionEval evaluate_detections(const DetectionsFile& detections, const DetectionsFile& truth,
                                  const DetectionEvalOptions& options = {});

// Matching at one IoU threshold and the PR curve (exposed for tests): dets[i] and truth[i] are
// the faces of photo i.
IouEval match_detections(const std::vector<std::vector<FaceDetection>>& dets,
                         const std::vector<std::vector<FaceDetection>>& truth, double iou);
// VOC all-point interpolated AP of a PR curve whose points come in descending score order.
double average_precision(const std::vector<double>& recall, const std::vector<double>& precision);

// The report of an evaluation in folder `out`: metrics.json (every number above, with the
// definitions' names), pr_curve.png and pr_curve.svg (precision against recall at IoU 0.5 and 0.75,
// and largest face only), pr_curve.csv (score, recall, precision at IoU 0.5). Returns the paths.
struct DetectionEvalSource {
  std::string detector, data, detections;  // what ran, the ground-truth folder, the detections file
};
std::vector<std::string> write_detection_eval(const std::string& out, const DetectionEval& e,
                                              const DetectionEvalSource& source);

}  // namespace ff
