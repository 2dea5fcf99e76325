// face/landmarks.h — training and evaluating the stacked hourglass landmark network
// (models/hourglass.h) on CelebA-format data, as library code: `faceforge train-landmarks` and
// `faceforge eval-landmarks` (apps/) are thin wrappers, and the demo and tests call it directly.
//
// Every stage (training, validation, evaluation, inference) frames a face the same way: the box,
// enlarged to a square, is cropped by face_crop_matrix into the network's input; a sample is
// data/face_sample.h's recipe on that frame; heatmap pixels map back to photo pixels by
// heatmap_to_photo (docs/pipeline.md section 2 walks through it).
//
// The run folder (train/run.h, train/fit.h): log.csv (one row per logging interval), val.csv (one
// row per epoch: validation NME with both heatmap decoders, mean training loss, lr), last / best
// checkpoints (weights with model metadata, plus the training state), report/.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/image_types.h"  // HeatmapDecode
#include "models/hourglass.h"
#include "data/augment.h"
#include "data/celeba.h"
#include "data/photo_cache.h"
#include "data/geometry.h"
#include "data/image.h"
#include "train/fit.h"
#include "train/loader.h"
#include "train/metrics.h"

namespace ff {

// How faces are framed and targets drawn.
struct LandmarkFraming {
  int64_t input_size = 128;  // the network's input side (its heatmaps are input_size / 4)
  double crop_scale = 1.35;  // square side = crop_scale * the box's longer side (the notebooks' margin)
  int64_t heatmap_size() const { return input_size / 4; }
  // Gaussian targets of sigma 2 at 64x64 heatmaps (the reference), scaled with the heatmap so a
  // target covers the same fraction of the face at every input size.
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
// outputs = every stack's heatmaps [N, K, H, H], target [N, K, H, H] in [0, 1]. fg_weight 0 is the
// reference notebooks' plain MSE, on which the small network sits at the all-zero output for epochs
// (docs/design.md section 6; the runs are in docs/results.md).
Tensor heatmap_loss(const std::vector<Tensor>& outputs, const Tensor& target, double fg_weight);

// Photo pixels -> crop pixels: the box's square of side crop_scale * max(w, h), centred on the box
// centre (cx, cy) = (x_1 + w/2 - 0.5, y_1 + h/2 - 0.5), onto input_size S: p -> s (p - c) + S/2 - 0.5
// with s = S / side, so the square's edges land exactly on the crop's [-0.5, S - 0.5].
// `image` (the photo's path or name, when known) is named by the error for a box without area.
Affine2 face_crop_matrix(const FaceBox& box, const LandmarkFraming& framing, const std::string& image = "");

// One training or evaluation sample of a decoded photo (RGB) and its face record (which needs a
// box): warp_face_sample (data/face_sample.h) on the crop frame.
//   image  float32 [3, S, S], ImageNet-normalised;
//   points float32 [5, 2], the record's landmarks in heatmap pixels q = (p + 0.5) / 4 - 0.5 (flip
//          pairs swapped when the augmentation flipped); undefined when the record has none.
// augment null: the plain crop (no draw from rng); otherwise a fixed number of draws per sample.
Sample make_landmark_sample(const Image& photo, const FaceRecord& face, const LandmarkFraming& framing,
                            const AugmentConfig* augment, Rng& rng);

// Heatmap-pixel points (5 x, y pairs) -> photo pixels, for a face cropped from `box`: the inverse
// of the crop, p = C^-1 (4 (q + 0.5) - 0.5).
Landmarks5 heatmap_to_photo(const float* heatmap_xy, const FaceBox& box, const LandmarkFraming& framing);

// Five landmarks (photo pixels) per face, one face box per photo; runs the net in eval mode
// without gradients on `device` in batches of `batch`.
std::vector<Landmarks5> predict_landmarks(StackedHourglass& net, const std::vector<const Image*>& photos,
                                          const std::vector<FaceBox>& boxes, const LandmarkFraming& framing,
                                          HeatmapDecode decode, Device device, int64_t batch = 32);

// The faces set.faces[idx[i]] (each with a box) through the net (eval mode, no gradients), with
// both decoders: samples made by a Loader (`workers` threads, batches of `batch`), photo-pixel
// points in idx order.
struct DatasetPredictions {
  std::vector<Landmarks5> quarter_pixel, soft_argmax;
  const std::vector<Landmarks5>& of(HeatmapDecode d) const {
    return d == HeatmapDecode::SoftArgmax ? soft_argmax : quarter_pixel;
  }
};
DatasetPredictions predict_dataset(StackedHourglass& net, const FaceSet& set, const std::vector<size_t>& idx,
                                   const LandmarkFraming& framing, Device device, int64_t batch, int workers);

// Mean NME (train/metrics.h) of predictions against the records' landmarks; NaN when a prediction
// is not finite (a diverged network), so callers can name the epoch instead of failing inside.
double mean_nme(const std::vector<Landmarks5>& predictions, const FaceSet& set, const std::vector<size_t>& idx);

// Reads the framing and decoder a landmark checkpoint was trained with from its metadata (keys
// written by train_landmarks: "input_size" from the config, "crop_scale", "decode").
LandmarkFraming framing_from_metadata(const std::map<std::string, std::string>& meta);
HeatmapDecode decode_from_metadata(const std::map<std::string, std::string>& meta);
const char* decode_name(HeatmapDecode d);  // "quarter_pixel", "soft_argmax"

// ---------------------------------------------------------------- training
struct LandmarkTrainOptions {
  std::string data;  // CelebA-format folder with boxes and landmarks (data/celeba.h load_faces)
  std::string out;   // the run folder
  // "small", "mid" or "reference" (HourglassConfig::named), or a config string; "" = "small" for a
  // new run, the checkpoint's own for a resumed one (which refuses any other).
  std::string config;
  int64_t batch = 16;
  double lr = 1e-3;  // Adam (the reference notebooks: Adam with PyTorch's defaults, lr 1e-3)
  std::string device = "cpu";
  bool resume = false;  // continue the run in `out` from last.safetensors
  uint64_t seed = 1;
  int workers = 2;
  int64_t cache_mb = kDefaultPhotoCacheMb;  // decoded photos kept across epochs (data/photo_cache.h); 0: none
  int64_t max_images = 0;      // > 0: train on the first N training images only
  int64_t max_val_images = 0;  // > 0: validate on the first N validation images only
  double crop_scale = 1.35;
  // Multiplies the initial weights and biases of the heatmap-making 1x1 convs (out_conv*) of a new
  // run: PyTorch's default init starts the heatmaps at RMS 4-25 against targets in [0, 1], and the
  // first epochs go to unlearning that (docs/results.md, "Landmark options"). 1: the default init.
  double head_init_scale = 0.01;
  // heatmap_loss's foreground weight (0: plain MSE, as the notebooks). A resumed run keeps the
  // weight it was started with (checkpoint metadata "heatmap_fg_weight").
  double fg_weight = 50.0;
  AugmentConfig augment = landmark_augment();
  // The decoder whose validation NME drives the LR plateau and the best checkpoint and which the
  // checkpoint names for inference (both are logged in val.csv); soft-argmax measured lower
  // (docs/results.md, "Landmark options").
  HeatmapDecode decode = HeatmapDecode::SoftArgmax;
  int report_samples = 12;  // validation faces drawn in report/samples.png
  FitOptions fit;           // epochs, checkpoints, logging, progress, test hooks (train/fit.h)
  LandmarkTrainOptions() { fit.epochs = 30; }
};

// epochs[i].metric and best_metric: the validation NME of `decode` (lower is better).
using LandmarkTrainResult = FitResult;

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
  std::vector<Landmarks5> predictions, truth;             // photo pixels
  HeatmapDecode decode = HeatmapDecode::SoftArgmax;      // the checkpoint's decoder
  std::vector<std::string> written;                      // files written under `out`
};

// Runs a landmark checkpoint over one partition of a CelebA-format folder. With `out`, writes
// out/summary.csv (metric,value), out/points.csv (per point: normalised and pixel error),
// out/images.csv (per image: file, NME, predicted and true points) and out/ced.svg (the CED curve
// up to NME 0.1).
LandmarkEvalResult eval_landmarks(const LandmarkEvalOptions& options);

}  // namespace ff
