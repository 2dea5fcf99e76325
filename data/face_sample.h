// data/face_sample.h — the face-sample recipe every face task shares: the network input made from a
// decoded photo, for training (augmented) and evaluation (plain) alike.
//
//   frame (the task's matrix: photo pixels -> output pixels) composed with the sample's random
//   augmentation (data/augment.h) into ONE 2x3 matrix -> ONE bilinear warp of the uint8 photo to
//   size x size (black outside the photo) -> the output alone converted to float32 CHW in [0, 1]
//   -> colour jitter -> ImageNet mean/std normalisation; the landmarks moved by the same matrix,
//   the flip pairs swapped when the augmentation mirrored the face.
//
// The tasks differ only in the frame: the landmark network's is face_crop_matrix(box)
// (face/landmarks.h), the embedding network's alignment_matrix(landmarks) (face/embed.h).
// Randomness: random_affine then random_color from `rng`, a fixed number of draws per sample, so
// a seed repeats a sample exactly; no augmentation, no draw.
#pragma once
#include <cstdint>
#include <optional>

#include "data/augment.h"
#include "data/celeba.h"  // Landmarks5
#include "data/geometry.h"
#include "data/image.h"
#include "engine/random.h"
#include "engine/tensor.h"

namespace ff {

struct FaceSample {
  Tensor image;                       // float32 [3, size, size], ImageNet-normalised
  std::optional<Landmarks5> points;   // the given landmarks in output pixels (slot k: landmark k of the face shown)
  bool flipped = false;               // the augmentation mirrored the face
};

// One sample of `photo` (RGB) framed by `frame`. points: the photo's landmarks, or null. augment:
// null for the plain frame (evaluation). mirror_frame: when given, a flipping augmentation uses
// this frame of the mirrored face (e.g. an alignment of the mirror image onto the same template)
// instead of mirroring the frame's output about its centre line.
// Throws ff::Error naming the photo's shape for a non-RGB or empty photo, or a size below 1.
FaceSample warp_face_sample(const Image& photo, const Affine2& frame, const Landmarks5* points, int64_t size,
                            const AugmentConfig* augment, Rng& rng, const Affine2* mirror_frame = nullptr);

// One uint8 warp of `photo` by `m` (photo pixels -> output pixels) to width x height, black outside
// the photo: the pictures of the pipeline and the reports (what the network saw, before float).
Image warp_image(const Image& photo, const Affine2& m, int64_t width, int64_t height);

// ImageNet mean/std normalisation, in place, of float32 [..., 3, H, W] values in [0, 1] on the CPU.
void normalize_imagenet_(Tensor& images);
// The inverse, to show a normalised [3, H, W] tensor as an image.
Image denormalize_to_image(const Tensor& chw);

}  // namespace ff
