// face/verify_eval.h — `faceforge eval-verify` as a library function: a face-embedding model
// measured on a list of photo pairs (LFW's pairs.txt, or a plain list; data/pairs.h) with LFW's
// protocol.
//
// Every photo named by the list is read once, its face found and aligned by the pipeline's own
// stages (face/pipeline.h: the detector's largest face, the hourglass's five landmarks from that
// box, the similarity onto the template, the embedding with its mirror), or aligned by five
// points read from a landmark list in CelebA's format when one is given. Each pair scores the
// cosine similarity of its two embeddings. A photo that cannot be read, or where no face is found,
// is counted and listed, and its pairs score 0 (so they are still in every number: dropping them
// would flatter the model).
//
// The numbers (train/metrics.h computes them):
//   k-fold accuracy   LFW's protocol over the list's own folds: for each fold, the threshold that
//                     is best on the other folds, applied to this one; mean and standard deviation
//                     over the folds (population std, as insightface's LFW evaluation)
//   ROC AUC           the probability that a same pair scores above a different pair
//   TAR at FAR        the share of same pairs accepted at the highest threshold that accepts at
//                     most that share of different pairs (1e-1, 1e-2, 1e-3)
// A pair "fails" when its fold's threshold decides it wrongly; the worst failures are drawn.
//
// With an output folder: metrics.csv, scores.csv (each pair: its list line, photos, label, fold,
// score, the fold's threshold, right or wrong), roc.csv and roc.svg, failed_pairs.png (a contact
// sheet of the worst false rejects and false accepts, the two aligned faces side by side), and
// failed_photos.csv (the photos without a face, and why).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "train/metrics.h"

namespace ff {

struct VerifyEvalOptions {
  std::string pairs;   // the pairs list (LFW's pairs.txt or a plain list)
  std::string images;  // the folder the list's photo names are relative to
  std::string model;   // the embedding model (RUN/best.safetensors of train-embed)
  std::string out;     // "" : print only
  // How faces are aligned: by the five points of `landmarks` (a list in CelebA's
  // list_landmarks_celeba.txt format naming the photos as the pairs list does) when given;
  // otherwise each photo's largest face by `detector` ("" : the demo's), then its landmarks by
  // the hourglass `landmarks_model` ("" : the embedding model's own, recorded when it was trained
  // on predicted landmarks, else the demo's), or the detector's own five points when
  // detector_landmarks.
  std::string landmarks;
  std::string detector;
  double detect_threshold = -1;  // < 0: the detector's own
  bool detector_landmarks = false;
  std::string landmarks_model;
  int64_t batch = 32;        // faces per forward
  int workers = 2;           // threads decoding photos
  int64_t sheet_pairs = 24;  // failed pairs drawn (half false rejects, half false accepts)
  bool quiet = false;        // no progress lines on stderr
};

struct VerifyEvalResult {
  std::string format;  // "lfw" or "plain"
  int folds = 0;
  int64_t pairs = 0, same_pairs = 0, different_pairs = 0;
  int64_t photos = 0;                                 // distinct photos the list names
  int64_t photos_unreadable = 0, photos_no_face = 0;  // of them: not read / no face found (score 0)
  int64_t photos_several_faces = 0;                   // the largest face used
  int64_t pairs_with_failed_photo = 0;
  std::string aligned_by;      // "the landmarks of FILE", "DETECTOR + landmark network FILE", ...
  std::vector<double> scores;  // per pair, in list order
  std::vector<int> fold;       // per pair
  std::vector<uint8_t> same;   // per pair
  std::vector<uint8_t> right;  // per pair: its fold's threshold decides it correctly (empty when folds < 2)
  KFoldAccuracy kfold;         // empty fold_accuracy when the list has one fold
  std::vector<RocPoint> roc;
  double auc = 0;
  TarAtFar tar_far_1e1, tar_far_1e2, tar_far_1e3;
  double seconds = 0, ms_per_photo = 0, detect_ms_per_photo = 0;
  std::vector<std::string> written;  // files written under out
  std::string table;                 // the printed table
};

// Throws a one-line ff::Error for a missing or malformed list, folder or model (naming the file
// and line), and for a list without both same and different pairs.
VerifyEvalResult eval_verify(const VerifyEvalOptions& options);

}  // namespace ff
