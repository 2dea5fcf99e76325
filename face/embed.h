// face/embed.h — training and evaluating the face-embedding network (`faceforge train-embed`,
// `faceforge eval-embed`), as library functions the commands, the demo and the tests share.
//
// Data flow of one training sample:
//   photo (CelebA layout, data/celeba.h) + its five landmarks
//   -> similarity transform (least squares) onto insightface's 5-point template scaled to the
//      config's input size S (data/geometry.h)
//   -> data/face_sample.h: composed with the sample's random augmentation (rotation, scale, shift,
//      flip; data/augment.h) into ONE 2x3 matrix -> ONE uint8 warp from the photo to S x S
//   -> float -> colour jitter -> ImageNet mean/std normalisation -> float32 [3, S, S]
//   -> EmbeddingNet (models/resnet.h) -> embedding [N, D] -> head (ArcFace or softmax) -> loss.
//
// Flips keep the alignment exact: a flipped sample is aligned by its own least-squares similarity
// from the mirrored photo, whose left/right landmarks trade places, to the template; so the
// mirrored face's eyes and mouth corners land on the template points too, not merely on their
// mirror images (the template is not exactly symmetric about the crop's centre line).
//
// Splits (EmbedSplit): the trained identities' images are divided into training and validation
// images (closed-set accuracy), and --holdout-identities whole identities are never trained on
// (open-set verification). Everything is deterministic for a seed.
//
// Faces are data/celeba.h's records (load_faces with FaceFilter::Landmarks); samples are
// data/face_sample.h's recipe on the alignment frame. Predicted landmarks: face/embed_data.cpp;
// splits, alignment and samples: face/embed_align.cpp; the training loop: face/embed_train.cpp.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/random.h"
#include "engine/tensor.h"
#include "data/augment.h"
#include "data/celeba.h"
#include "data/photo_cache.h"
#include "data/geometry.h"
#include "data/image.h"
#include "train/fit.h"

namespace ff {

// ---------------------------------------------------------------- data
// Where the landmarks that align the faces came from.
struct LandmarkSource {
  std::string model;          // "" : the dataset's landmark file
  size_t used = 0;            // images kept
  size_t dropped_no_box = 0;  // images left out: no face box to run the landmark network on
  double mean_nme = 0;        // the predictions' mean NME against the file's landmarks
  std::string str() const;    // one line for logs and tables
};

// Replaces the landmarks of set's faces by those the landmark network in `model_path` predicts
// (a train-landmarks checkpoint, models/factory.h kind "hourglass"), from each face's box
// (list_bbox_celeba.txt), with the framing and heatmap decoder the network was trained with
// (face/landmarks.h predict_dataset); faces without a box are left out. Runs on `device`.
// Throws a one-line error for a missing file, a model of another kind, or non-finite predictions.
LandmarkSource use_predicted_landmarks(FaceSet& set, const std::string& model_path, Device device, int64_t batch,
                                       int workers);

// ---------------------------------------------------------------- splits
enum class SplitKind {
  CelebA,        // list_eval_partition.txt: 0 train, 1 and 2 validation
  Identity8020,  // per identity a seeded 80/20 shuffle split (the reference notebooks' split)
};
SplitKind parse_split_kind(const std::string& s);  // "celeba" | "identity8020"
const char* split_kind_name(SplitKind k);

struct EmbedSplit {
  std::vector<int> train_identities;    // sorted; class label i is train_identities[i]
  std::vector<int> holdout_identities;  // sorted; never trained on
  std::vector<size_t> train, val;       // record indices of trained identities' images
  std::vector<size_t> holdout;          // record indices of held-out identities' images
  std::vector<int> label;               // per record: class label, or -1 (held out / unused)
};

// Holds out `holdout` identities chosen by a seeded shuffle among the identities with at least two
// images (so each gives same-identity pairs); -1 picks 15% of the identities (none below 10
// identities). The other identities are trained: with SplitKind::CelebA their partition-0 images
// are training images and the rest validation images; an identity without any partition-0 image
// (CelebA's own partitions are identity-disjoint) cannot be trained and joins the held-out ones.
// With Identity8020, each identity's images are shuffled (seeded per identity) and
// floor(20%) of them, at least one when it has two or more, are validation images.
// Deterministic for (records, kind, holdout, seed); throws when too few identities remain.
EmbedSplit make_embed_split(const FaceSet& set, SplitKind kind, int holdout, uint64_t seed);

// ---------------------------------------------------------------- alignment
// insightface's 5-point template scaled to size x size (data/geometry.h scale_template).
std::vector<std::array<double, 2>> embed_template(int64_t size);

// The matrix (photo -> aligned pixels) that aligns a face with these landmarks to the template at
// size x size; with `flip`, the aligned face's mirror image, aligned exactly (see the file comment).
// `image` (the photo's path or name, when known) is named by the error for a non-finite landmark.
Affine2 alignment_matrix(const Landmarks5& landmarks, int64_t size, bool flip, const std::string& image = "");

// The embedding network's training augmentation: milder than the landmark network's (the faces
// are already aligned): flip 0.5, rotation +-10 degrees, scale 0.9..1.1, shift +-5%, colour
// jitter 0.2. enabled false: the aligned face as it is (--no-augment).
AugmentConfig embed_augment();
struct EmbedAugment {
  bool enabled = true;
  AugmentConfig config = embed_augment();
};

// A training sample, float32 [3, size, size]: warp_face_sample on the alignment, with a random
// augmentation drawn from rng (always the same number of draws) whose flips use the exact mirror
// alignment; aug.enabled false: the plain aligned face (no draw).
Tensor make_train_face(const Image& photo, const Landmarks5& landmarks, int64_t size, const EmbedAugment& aug,
                       Rng& rng);
// An evaluation sample (no augmentation; optionally the exact flip), normalised.
Tensor make_eval_face(const Image& photo, const Landmarks5& landmarks, int64_t size, bool flip);

// ---------------------------------------------------------------- embeddings (training and evaluation)
class EmbeddingNet;
class Head;

// Embeddings of the faces `records` of `set`, aligned without augmentation, and of their exact
// mirrors, computed in eval mode on `device` (the net's device), `batch` images at a time with
// `workers` threads preparing them: plain and flipped, float32 [n, D] on the CPU, not normalised.
// Leaves the net in eval mode.
struct FaceEmbeddings {
  Tensor plain, flipped;
};
// cache: decoded photos kept across calls (data/photo_cache.h); null decodes each photo here.
FaceEmbeddings embed_faces(EmbeddingNet& net, const FaceSet& set, const std::vector<size_t>& records, Device device,
                           int64_t batch, int workers, PhotoCache* cache = nullptr);
// The photo of `r` from `cache` (null: decoded now), at the DCT reduction its aligned face at
// `size` affords with augmentation zoom `zoom`, and its landmarks in that photo's pixels.
std::shared_ptr<const DecodedPhoto> aligned_photo(const FaceRecord& r, int64_t size, double zoom, PhotoCache* cache,
                                                  Landmarks5* landmarks);

// L2-normalised sum of the L2-normalised embeddings of each image and its mirror: the flip
// test-time-augmented embedding used for verification. [n, D] float32 on the CPU.
Tensor flip_tta_embeddings(const FaceEmbeddings& e);

// Closed-set top-1 accuracy of `head` on these embeddings: the argmax of head.scores() against
// labels, and with flip test-time augmentation the argmax of the average of the scores of the
// image and of its mirror. Scores are computed on `device` (the head's).
struct ClosedSetAccuracy {
  double plain = 0, flip = 0;
};
ClosedSetAccuracy closed_set_accuracy(Head& head, const FaceEmbeddings& e, const std::vector<int64_t>& labels,
                                      Device device);

// ---------------------------------------------------------------- training
struct EmbedTrainOptions {
  std::string data, out;
  std::string head = "arcface";   // arcface | softmax
  // small | cpu | reference (models/resnet.h EmbeddingConfig) or a config string; "" = small for a
  // new run, the checkpoint's own for a resumed one (which refuses any other).
  std::string config;
  int64_t batch = 64;
  double lr = 0.1;
  double momentum = 0.9;
  double weight_decay = 5e-4;     // on conv/linear/class weights; not on batch-norm parameters or biases
  std::string schedule = "cosine";  // cosine | step (x0.1 every ceil(epochs / 3) epochs)
  double arcface_s = 45.0, arcface_m = 0.1;
  std::string device = "cpu";
  bool resume = false;
  uint64_t seed = 1;
  int workers = 2;
  int64_t cache_mb = kDefaultPhotoCacheMb;  // decoded photos kept across epochs (data/photo_cache.h); 0: none
  std::string split = "celeba";   // celeba | identity8020
  int holdout = -1;               // held-out identities (-1: 15%, see make_embed_split)
  std::string landmarks_model;    // "" : align by the dataset's landmarks; else by this network's
  EmbedAugment augment;
  int64_t report_faces = 16;      // aligned validation faces shown in the report
  FitOptions fit;                 // epochs, checkpoints, logging, progress, test hooks (train/fit.h)
  EmbedTrainOptions() { fit.epochs = 10; }
};

// epochs[i].metric and best_metric: the validation accuracy with flip TTA (higher is better), or
// minus the training loss when there is no validation image.
struct EmbedTrainResult : FitResult {
  std::vector<ClosedSetAccuracy> val_acc;  // per epoch this call finished
  int64_t num_classes = 0, train_images = 0, val_images = 0, holdout_images = 0, holdout_identities = 0;
};

// Trains (or, with resume, continues) a run in options.out. Prints progress on stderr when
// options.fit.progress. Throws ff::Error for bad input and when a loss is not finite (naming the
// step; the last checkpoint is left as it was).
EmbedTrainResult train_embed(const EmbedTrainOptions& options);

// The training options recorded in RUN/last.safetensors (for --resume: a resumed run keeps them).
EmbedTrainOptions saved_train_options(const std::string& run_dir);

// ---------------------------------------------------------------- evaluation
struct EmbedEvalOptions {
  std::string data, model, out;
  // Alignment: by default as the model was trained (the landmark network recorded in its
  // metadata, or the dataset's landmarks); landmarks_model overrides that network, and
  // ground_truth_landmarks forces the dataset's landmarks.
  std::string landmarks_model;
  bool ground_truth_landmarks = false;
  std::string device = "cpu";
  int64_t batch = 64;
  int workers = 2;
  uint64_t pair_seed = 0;  // the random different-identity pairs and the folds
  bool quiet = false;      // no progress lines on stderr
  // The whole pipeline on photos as taken: wild is a folder with img_celeba/ holding (some of)
  // data's validation and held-out photos uncropped (../shared/data/celeba_wild_val). Each face
  // is found by `detector` (the largest), its landmarks predicted from that box by the landmark
  // network (or taken from the detector when detector_landmarks), aligned and embedded; the
  // result is that, and the crops_* fields the same photos of `data` aligned by its landmarks.
  std::string wild, detector;
  double detect_threshold = -1;  // the detector's score threshold (< 0: its default)
  bool detector_landmarks = false;
};

struct EmbedEvalResult {
  int64_t val_images = 0, num_classes = 0;
  double closed_acc = 0, closed_acc_flip = 0;
  int64_t holdout_identities = 0, holdout_images = 0, positive_pairs = 0, negative_pairs = 0;
  double auc = 0, tar_at_far_1e2 = 0, tar_at_far_1e3 = 0, acc10_mean = 0, acc10_std = 0;
  double acc_at_06 = 0;  // accuracy at the notebooks' fixed cosine threshold 0.6
  LandmarkSource landmarks;
  // With options.wild: photos looked at, of them without a face found (misclassified, and scoring 0
  // against every other face) and with several; detection ms per photo; how they were aligned;
  // and the dataset side's numbers on the same photos.
  int64_t wild_photos = 0, wild_no_face = 0, wild_several_faces = 0;
  int64_t wild_other_face = 0;  // the face used is not the one wild labels (IoU < 0.5 with its box)
  double wild_detect_ms = 0;
  double wild_landmark_nme = -1, wild_landmark_failures = 0;  // against wild's own labels (-1: none)
  std::string wild_landmarks;
  double crops_closed_acc_flip = 0, crops_auc = 0, crops_acc10_mean = 0;
  std::string table;     // the printed table
};

// Evaluates a checkpoint written by train_embed on the dataset DIR; writes OUT/metrics.csv,
// OUT/roc.csv and OUT/roc.svg when out is not empty.
EmbedEvalResult eval_embed(const EmbedEvalOptions& options);

}  // namespace ff
