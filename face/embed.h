// face/embed.h — training and evaluating the face-embedding network (`faceforge train-embed`,
// `faceforge eval-embed`), as library functions the commands, the demo and the tests share.
//
// Data flow of one training sample:
//   photo (CelebA layout, data/celeba.h) + its five landmarks
//   -> similarity transform (least squares) onto insightface's 5-point template scaled to the
//      config's input size S (data/geometry.h)
//   -> composed with the sample's random augmentation (rotation, scale, shift, flip; data/augment.h)
//      into ONE 2x3 matrix -> ONE warp_affine from the photo to S x S
//   -> colour jitter -> ImageNet mean/std normalisation -> float32 [3, S, S]
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
// The types here are plain (no data/celeba.h or data/geometry.h types), so callers need neither
// header; the data side lives in face/embed_data.cpp, the geometry side in face/embed_align.cpp.
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
#include "data/image.h"

namespace ff {

// ---------------------------------------------------------------- data
// One image of a face dataset in CelebA's layout. (Not face/landmark_data.h's FaceRecord: that
// one needs a face box, which alignment by the dataset's landmarks does not.)
struct EmbedFace {
  std::string file;  // "000001.jpg"
  std::string path;  // root/img_celeba/file
  int identity = 0;  // CelebA identity number
  int partition = 0; // 0 train, 1 validation, 2 test (list_eval_partition.txt)
  bool has_landmarks = false;
  // x, y of left eye, right eye, nose tip, left mouth corner, right mouth corner (image pixels,
  // "left" the image's left, pixel centres at integers).
  std::array<double, 10> landmarks{};
};

struct FaceSet {
  std::string root;
  std::vector<EmbedFace> records;  // in the identity file's order
  std::vector<int> identities;      // sorted distinct identity numbers
};

// Reads DIR's identity, partition and landmark files (data/celeba.h, CelebA's in-the-wild
// layout: img_celeba + list_landmarks_celeba.txt). Throws a one-line ff::Error when DIR is
// missing, is not a dataset, or has no landmarks; images without landmarks are left out, and
// their count is returned in *skipped_no_landmarks when given.
FaceSet load_face_set(const std::string& dir, size_t* skipped_no_landmarks = nullptr);

// Where the landmarks that align the faces came from.
struct LandmarkSource {
  std::string model;          // "" : the dataset's landmark file
  size_t used = 0;            // images kept
  size_t dropped_no_box = 0;  // images left out: no face box to run the landmark network on
  double mean_nme = 0;        // the predictions' mean NME against the file's landmarks
  std::string str() const;    // one line for logs and tables
};

// Replaces the landmarks of set's images by those the landmark network in `model_path` predicts
// (a train-landmarks checkpoint, models/factory.h kind "hourglass"), from each image's face box
// (list_bbox_celeba.txt), with the framing and heatmap decoder the network was trained with
// (face/landmarks.h predict_dataset); images without a box are left out. Runs on `device`.
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

// The 2x3 matrix (row-major, source -> destination pixels) that aligns a face with these
// landmarks to the template at size x size; with `flip`, the aligned face's mirror image, aligned
// exactly (see the file comment).
std::array<double, 6> alignment_matrix(const std::array<double, 10>& landmarks, int64_t size, bool flip);

// The embedding network's training augmentation: milder than the landmark network's (the faces
// are already aligned): flip 0.5, rotation +-10 degrees, scale 0.9..1.1, shift +-5%, colour
// jitter 0.2. enabled false: the aligned face as it is (--no-augment).
AugmentConfig embed_augment();
struct EmbedAugment {
  bool enabled = true;
  AugmentConfig config = embed_augment();
};

// One aligned face, float32 [3, size, size] in [0, 1] before normalisation: ONE warp of `img`
// by `matrix` (border: black, as insightface's crops).
Tensor warp_face(const Image& img, const std::array<double, 6>& matrix, int64_t size);

// Makes a training sample: alignment composed with a random augmentation drawn from rng (always
// the same number of draws), colour jitter, then normalisation. Returns [3, size, size].
Tensor make_train_face(const Image& img, const std::array<double, 10>& landmarks, int64_t size,
                       const EmbedAugment& aug, Rng& rng);
// An evaluation sample (no augmentation; optionally the exact flip), normalised.
Tensor make_eval_face(const Image& img, const std::array<double, 10>& landmarks, int64_t size, bool flip);

// ImageNet mean/std normalisation, in place, of float32 [..., 3, H, W] values in [0, 1].
void normalize_imagenet_(Tensor& images);
// The inverse, to show a normalised [3, H, W] tensor as an image.
Image denormalize_to_image(const Tensor& chw);

// ---------------------------------------------------------------- embeddings (training and evaluation)
class EmbeddingNet;
class Head;

// Embeddings of the images `records` of `set`, aligned without augmentation, and of their exact
// mirrors, computed in eval mode on `device` (the net's device), `batch` images at a time with
// `workers` threads preparing them: plain and flipped, float32 [n, D] on the CPU, not normalised.
// Leaves the net in eval mode.
struct FaceEmbeddings {
  Tensor plain, flipped;
};
FaceEmbeddings embed_faces(EmbeddingNet& net, const FaceSet& set, const std::vector<size_t>& records, Device device,
                           int64_t batch, int workers);

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
  std::string config = "small";   // small | reference (models/resnet.h EmbeddingConfig)
  int epochs = 10;
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
  std::string split = "celeba";   // celeba | identity8020
  int holdout = -1;               // held-out identities (-1: 15%, see make_embed_split)
  std::string landmarks_model;    // "" : align by the dataset's landmarks; else by this network's
  EmbedAugment augment;
  int64_t save_every = 0;         // also checkpoint "last" every this many steps (0: epoch ends only)
  int64_t report_faces = 16;      // aligned validation faces shown in the report
  bool quiet = false;             // no progress line (tests)
  // Test hooks (steps count from 1, as in log.csv). stop_after_steps: stop (after checkpointing
  // "last") once the run has made this many steps in total — an interruption at a known point.
  // nan_at_step: poison the inputs of that step with NaN, so its loss is NaN.
  int64_t stop_after_steps = -1;
  int64_t nan_at_step = -1;
};

struct EmbedEpoch {
  int64_t epoch = 0, step = 0;   // step: optimizer steps done at the epoch's end
  double train_loss = 0, lr = 0, val_acc = 0, val_acc_flip = 0, images_per_second = 0, seconds = 0;
};

struct EmbedTrainResult {
  std::vector<double> losses;      // the loss of every step this call ran, in order
  int64_t first_step = 0;          // the step index of losses[0]
  std::vector<EmbedEpoch> epochs;  // the epochs this call finished
  int64_t steps = 0;               // optimizer steps of the run so far
  double best_val_acc = 0;         // best validation accuracy (with flip) of the run so far
  int64_t num_classes = 0, train_images = 0, val_images = 0, holdout_images = 0, holdout_identities = 0;
  bool stopped_early = false;      // stop_after_steps ended the call
};

// Trains (or, with resume, continues) a run in options.out. Prints a progress line on stderr
// unless quiet. Throws ff::Error for bad input and when a loss is not finite (naming the step; the
// last checkpoint is left as it was).
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
};

struct EmbedEvalResult {
  int64_t val_images = 0, num_classes = 0;
  double closed_acc = 0, closed_acc_flip = 0;
  int64_t holdout_identities = 0, holdout_images = 0, positive_pairs = 0, negative_pairs = 0;
  double auc = 0, tar_at_far_1e2 = 0, tar_at_far_1e3 = 0, acc10_mean = 0, acc10_std = 0;
  double acc_at_06 = 0;  // accuracy at the notebooks' fixed cosine threshold 0.6
  LandmarkSource landmarks;
  std::string table;     // the printed table
};

// Evaluates a checkpoint written by train_embed on the dataset DIR; writes OUT/metrics.csv,
// OUT/roc.csv and OUT/roc.svg when out is not empty.
EmbedEvalResult eval_embed(const EmbedEvalOptions& options);

}  // namespace ff
