// face/landmarks.h — training and evaluating the stacked hourglass landmark network
// (models/hourglass.h) on CelebA-format data, as library code: `faceforge train-landmarks` and
// `faceforge eval-landmarks` (apps/) are thin wrappers, and the demo and tests call it directly.
//
// The framing every stage shares (training, validation, evaluation, inference):
//   - the face box (x_1, y_1, width, height) is enlarged to a square of side crop_scale * max(w, h)
//     (1.35, the reference notebooks' margin) centred on the box, and that square is resized to
//     input_size x input_size: image pixel p -> crop pixel C p with
//       C = [s 0 S/2 - 0.5 - s cx; 0 s S/2 - 0.5 - s cy], s = S / side,
//       (cx, cy) = (x_1 + w/2 - 0.5, y_1 + h/2 - 0.5) (the box centre; pixel centres at integers),
//     which maps the square's edges exactly onto the crop's edges [-0.5, S - 0.5];
//   - in training, the augmentation's affine A (data/augment.h: flip with left/right swap,
//     rotation, scale, shift) is composed with C, and the photo is warped ONCE by A C (bilinear,
//     black outside the photo); colour jitter follows; then ImageNet mean/std normalisation;
//   - landmarks move by the same matrix and are expressed in heatmap pixels
//     q = (p + 0.5) / stride - 0.5, stride = input_size / heatmap_size = 4 (pixel-centre exact:
//     heatmap pixel i covers crop pixels [4i - 0.5, 4i + 3.5]);
//   - targets are Gaussians of sigma = 2 * heatmap_size / 64 heatmap pixels: the reference's sigma
//     2 at 64x64 heatmaps, scaled with the heatmap so that a target covers the same fraction of the
//     face at every input size (sigma 1 for the small configuration's 32x32 heatmaps);
//   - predictions are decoded from the last stack's heatmaps (ff::decode_heatmaps) and mapped back
//     to photo pixels by the inverse: p = C^-1 (stride (q + 0.5) - 0.5).
//
// The run folder (train/run.h): log.csv (one row per step: epoch, step, loss, lr, images_per_s),
// val.csv (one row per epoch: validation NME with both heatmap decoders, mean training loss, lr),
// last / best checkpoints (weights with model metadata, plus the training state), report/.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/image_types.h"  // HeatmapDecode
#include "models/hourglass.h"
#include "data/augment.h"
#include "data/image.h"
#include "face/landmark_data.h"
#include "train/loader.h"
#include "train/metrics.h"

namespace ff {

// How faces are framed and targets drawn; see the file comment.
struct LandmarkFraming {
  int64_t input_size = 128;  // the network's input side (its heatmaps are input_size / 4)
  double crop_scale = 1.35;  // square side = crop_scale * the box's longer side
  int64_t heatmap_size() const { return input_size / 4; }
  double sigma() const { return 2.0 * static_cast<double>(heatmap_size()) / 64.0; }
  // The soft-argmax window's half-size: about 2.5 sigma holds the bulk of the peak
  // (engine/ops_geometry.h), at least 2.
  int64_t decode_radius() const;
};

// The training augmentation: data/augment.h's defaults (flip 0.5 with the left/right swap,
// rotation +-30 degrees, scale 0.75..1.25, shift +-10%) plus colour jitter 0.2.
AugmentConfig landmark_augment();

// The training loss: the sum over stacks (intermediate supervision) of the weighted heatmap MSE
//   mean(w (output - target)^2),  w = 1 + fg_weight * target,
// outputs = every stack's heatmaps [N, K, H, H], target [N, K, H, H] in [0, 1]. fg_weight 0 is
// the reference notebooks' plain MSE. A Gaussian of sigma 1 covers about 7 of a 32x32 heatmap's
// 1024 pixels, so under plain MSE the all-zero output is a deep plateau: the small network sat on
// it (loss 0.006, validation NME ~1) for the demo's first 5 epochs. Weighting the peak pixels
// (as the Adaptive Wing loss paper's weight map does) pulls it off at once; docs/results.md has
// the runs.
Tensor heatmap_loss(const std::vector<Tensor>& outputs, const Tensor& target, double fg_weight);

// A 2x3 affine matrix, row-major (m[0..2] first row): photo pixels -> crop pixels.
using Matrix23 = std::array<double, 6>;
Matrix23 face_crop_matrix(const std::array<float, 4>& box, const LandmarkFraming& framing);

// One training or evaluation sample from a decoded photo (RGB) and its face record:
//   image  float32 [3, S, S], ImageNet-normalised;
//   points float32 [5, 2], the record's landmarks in heatmap pixels (flip pairs swapped when the
//          augmentation flipped).
// augment null: the plain crop (no draw from rng). Otherwise a fixed number of draws per sample
// (random_affine, then random_color; data/augment.h), so a seed repeats a sample exactly.
Sample make_landmark_sample(const Image& photo, const FaceRecord& face, const LandmarkFraming& framing,
                            const AugmentConfig* augment, Rng& rng);

// Heatmap-pixel points (5 x, y pairs) -> photo pixels, for a face cropped from `box`.
std::array<float, 10> heatmap_to_photo(const float* heatmap_xy, const std::array<float, 4>& box,
                                       const LandmarkFraming& framing);

// Five landmarks (photo pixels, x0 y0 x1 y1 ...) per face, one face box per photo; runs the net
// in eval mode without gradients on `device` in batches of `batch`.
std::vector<std::array<float, 10>> predict_landmarks(StackedHourglass& net, const std::vector<const Image*>& photos,
                                                     const std::vector<std::array<float, 4>>& boxes,
                                                     const LandmarkFraming& framing, HeatmapDecode decode,
                                                     Device device, int64_t batch = 32);

// The faces data.faces[idx[i]] through the net (eval mode, no gradients), with both decoders:
// samples made by a Loader (`workers` threads, batches of `batch`), photo-pixel points in idx order.
struct DatasetPredictions {
  std::vector<std::array<float, 10>> quarter_pixel, soft_argmax;
  const std::vector<std::array<float, 10>>& of(HeatmapDecode d) const {
    return d == HeatmapDecode::SoftArgmax ? soft_argmax : quarter_pixel;
  }
};
DatasetPredictions predict_dataset(StackedHourglass& net, const LandmarkData& data, const std::vector<size_t>& idx,
                                   const LandmarkFraming& framing, Device device, int64_t batch, int workers);

// Mean NME (train/metrics.h) of predictions against the records' landmarks; NaN when a prediction
// is not finite (a diverged network), so callers can name the epoch instead of failing inside.
double mean_nme(const std::vector<std::array<float, 10>>& predictions, const LandmarkData& data,
                const std::vector<size_t>& idx);

// Reads the framing and decoder a landmark checkpoint was trained with from its metadata (keys
// written by train_landmarks: "input_size" from the config, "crop_scale", "decode").
LandmarkFraming framing_from_metadata(const std::map<std::string, std::string>& meta);
HeatmapDecode decode_from_metadata(const std::map<std::string, std::string>& meta);
const char* decode_name(HeatmapDecode d);  // "quarter_pixel", "soft_argmax"

// ---------------------------------------------------------------- training
struct LandmarkTrainOptions {
  std::string data;  // CelebA-format folder (face/landmark_data.h)
  std::string out;   // the run folder
  std::string config = "small";  // "small" or "reference" (HourglassConfig::named), or a config string
  int64_t epochs = 30;
  int64_t batch = 16;
  double lr = 1e-3;  // Adam (the reference notebooks: Adam with PyTorch's defaults, lr 1e-3)
  std::string device = "cpu";
  bool resume = false;  // continue the run in `out` from last.safetensors
  uint64_t seed = 1;
  int workers = 2;
  int64_t max_images = 0;      // > 0: train on the first N training images only
  int64_t max_val_images = 0;  // > 0: validate on the first N validation images only
  int64_t save_every = 0;      // > 0: also write `last` every N steps (always at each epoch's end)
  double crop_scale = 1.35;
  // Multiplies the initial weights and biases of every out_conv (the 1x1 convs that make the
  // heatmaps) for a new run. PyTorch's default init (the notebooks') makes the small network's two
  // stacks output heatmaps of RMS 4 and 25 against targets in [0, 1] (loss ~650), and the first
  // epochs go to unlearning that: on 60 x 10 synthetic faces at lr 1e-3, after the same 1920
  // images (120 steps of 16) the loss was still 1.5 and the validation NME 1.8; at 0.01 (small
  // final layers, as HRNet initialises them with std 0.001; 240 steps of 8) the loss was at the
  // all-zero floor (0.006) and the NME 0.51. 1 = the default init.
  double head_init_scale = 0.01;
  // heatmap_loss's foreground weight (0: plain MSE, as the notebooks). A resumed run keeps the
  // weight it was started with (checkpoint metadata "heatmap_fg_weight").
  double fg_weight = 50.0;
  AugmentConfig augment = landmark_augment();
  // The decoder whose validation NME drives the LR plateau and the best checkpoint, and which the
  // checkpoint's metadata names for inference. Both are measured and logged every epoch (val.csv);
  // soft-argmax had the lower NME at every epoch of the small-config runs measured (60 x 10
  // synthetic faces, 8 epochs: 0.2460 vs 0.2462 quarter-pixel; celeba_subset, 3 epochs of 1600
  // faces: 0.2285 vs 0.2304), so it is the default.
  HeatmapDecode decode = HeatmapDecode::SoftArgmax;
  int report_samples = 12;  // validation faces drawn in report/samples.png
  bool progress = true;     // the progress line on stderr
  // Test hook for the NaN guard: the heatmap targets of this step (1-based, as logged) are filled
  // with NaN, so the loss becomes NaN the way corrupt labels would make it.
  int64_t debug_nan_step = 0;
};

struct LandmarkTrainResult {
  std::vector<double> losses;   // per step run by this call
  std::vector<double> val_nme;  // per epoch run by this call (the chosen decoder)
  double best_nme = 0;          // best validation NME of the whole run
  int64_t steps = 0;            // optimizer steps of the whole run
  double images_per_s = 0;      // training images per second of this call (training steps only)
  double validation_seconds = 0;  // wall time of this call's validation passes
  double seconds = 0;           // wall time of this call
};

LandmarkTrainResult train_landmarks(const LandmarkTrainOptions& options);

// ---------------------------------------------------------------- evaluation
struct LandmarkEvalOptions {
  std::string data;
  std::string model;  // a landmark checkpoint (RUN/best.safetensors)
  int partition = 1;
  std::string out;  // "" : no files
  std::string device = "cpu";
  int64_t batch = 32;
  int64_t max_images = 0;
  int workers = 2;
};

struct LandmarkEvalResult {
  LandmarkMetrics metrics;         // NME per image and mean, failure rate and AUC at 0.1, per point
  std::vector<std::string> files;  // the images, in the partition's order
  std::vector<std::array<float, 10>> predictions, truth;  // photo pixels
  HeatmapDecode decode = HeatmapDecode::SoftArgmax;      // the checkpoint's decoder
  std::vector<std::string> written;                      // files written under `out`
};

// Runs a landmark checkpoint over one partition of a CelebA-format folder. With `out`, writes
// out/summary.csv (metric,value), out/points.csv (per point: normalised and pixel error),
// out/images.csv (per image: file, NME, predicted and true points) and out/ced.png (the CED curve
// up to NME 0.1).
LandmarkEvalResult eval_landmarks(const LandmarkEvalOptions& options);

}  // namespace ff
