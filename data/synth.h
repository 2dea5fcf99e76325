// data/synth.h — a synthetic face dataset in CelebA's formats, drawn procedurally.
//
// Each identity is a fixed set of shape and colour parameters (FaceParams: face outline, skin
// tone, eyes, brows, nose, mouth, ears, hair, facial hair, a mole). Each image of an identity
// varies the pose (in-plane rotation, scale, shift, and a small yaw/pitch that moves the features
// in depth), the expression (smile, open mouth, eye openness, gaze, brow raise), the surroundings
// (background gradient and clutter, clothing, sometimes glasses) and the photography (lighting
// gradient, brightness, colour cast, blur, noise, JPEG quality). The five landmarks are the exact
// drawn positions of the eye centres (the centre of each eye's white), the nose tip and the mouth
// corners after the pose; "left" is the image's left, as in CelebA. The box is tight, brow to
// chin, like dlib's (shared/data/README.md).
//
// Everything is deterministic for a seed: identity i draws from Rng(derive_seed(seed, {i, ~0})), image k of it
// from Rng(derive_seed(seed, {i, k})) (engine/random.h), so the output does not depend on the number of threads; the same seed
// gives byte-identical files.
//
// Canonical face frame (before the pose): x to the image's right, y down, z toward the camera;
// the face outline's half-height is 1.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/celeba.h"
#include "data/detections.h"
#include "data/image.h"

namespace ff {

struct FaceParams {
  // outline: an ellipse-like curve; the lower half is a superellipse (exponent jaw_power, 2 =
  // round, 3+ = square) narrowed toward the chin by chin_narrow
  float face_w = 0.75f, face_h = 1.0f, jaw_power = 2.0f, chin_narrow = 0.1f;
  float skin[3] = {200, 160, 130};
  float blush = 0;  // alpha of the cheek blush
  // eyes: centres at (+-eye_dx, eye_y); half-axes eye_w, eye_h; iris radius iris_r * eye_w
  float eye_dx = 0.3f, eye_y = -0.15f, eye_w = 0.11f, eye_h = 0.05f, iris_r = 0.5f;
  float iris[3] = {90, 60, 40};
  // brows: centre brow_dy above the eye, half-length brow_len, thickness, arch, outer tilt
  float brow_dy = 0.13f, brow_len = 0.12f, brow_thick = 0.03f, brow_arch = 0.03f, brow_tilt = 0;
  // nose: tip at (0, nose_y) at depth nose_z; half-width nose_w
  float nose_y = 0.22f, nose_w = 0.11f, nose_z = 0.95f;
  // mouth: corners at (+-mouth_w, mouth_y); lip thicknesses; lip colour
  float mouth_y = 0.52f, mouth_w = 0.2f, upper_lip = 0.035f, lower_lip = 0.05f;
  float lips[3] = {170, 90, 90};
  float ear = 0.17f;  // ear half-height
  // hair: 0 short, 1 long, 2 fringe, 3 buzz cut, 4 curly, 5 side part; hairline height (y);
  // volume (>1: the hair stands out of the head outline)
  int hair_style = 0;
  float hairline = -0.55f, hair_volume = 1.1f;
  float hair[3] = {60, 40, 25};
  float beard = 0, moustache = 0;  // alphas (0 = none)
  float mole_x = 0, mole_y = 0, mole_r = 0;  // mole_r 0 = none

  // The parameters as one vector (colours scaled to about unit range), for distances.
  std::vector<float> vector() const;
};

// The parameters of identity `identity` (0-based) for a seed.
FaceParams synth_identity(uint64_t seed, int identity);

struct SynthSample {
  Image image;          // RGB, size x size
  Landmarks5 landmarks;  // left eye, right eye, nose, left mouth, right mouth (pixels)
  FaceBox box;           // tight face box, whole pixels
  int jpeg_quality = 92;  // the quality this image is meant to be stored with
};

// Image `index` of identity `identity` (both 0-based) at size x size pixels (32..1024).
SynthSample synth_sample(uint64_t seed, int identity, int index, int size);

struct SynthConfig {
  int identities = 100, per_identity = 20, size = 128;
  uint64_t seed = 0;
};

// Writes a dataset to `dir` (created if needed): img_celeba/NNNNNN.jpg, identity_CelebA.txt
// (identity numbers 1..N), list_eval_partition.txt (per identity the last 20% of its images by
// file number, at least one, are 1, the rest 0), list_bbox_celeba.txt, list_landmarks_celeba.txt.
// File numbers are a seeded shuffle of all images, so identities are interleaved as in CelebA.
// Checks identities >= 2, per_identity >= 2, 32 <= size <= 1024. Returns the number of images.
size_t write_synth_dataset(const std::string& dir, const SynthConfig& config);

// ---------------------------------------------------------------- scenes (detector data)
// Photos with zero to four synthetic people of various sizes on a cluttered background, for
// training and testing face detectors on a fresh machine. Per scene: the size (width uniform in
// [min_width, max_width], height 0.62-0.9 of it, portrait one time in five), the number of faces
// (0: 10%, 1: 35%, 2: 25%, 3: 15%, 4: 15%, capped at max_faces), each face's side (the tight box's
// sqrt(w h)) log-uniform in [min_face, max_face_fraction x the picture's smaller side], placed
// largest first with the whole box inside the picture and so that no later person (hair,
// shoulders) covers an earlier face's box; a face that finds no place in 30 tries is left out.
// Identities are drawn from [0, identities) (synth_identity), each face's pose, expression,
// glasses and lighting as synth_sample draws them; one photography (brightness, cast, blur at most
// 1.1 px, noise, JPEG quality) for the whole picture. Deterministic: scene i draws from
// Rng(derive_seed(seed, {i, "SCENE"})).
struct SceneConfig {
  int scenes = 200;
  int min_width = 320, max_width = 640;
  int max_faces = 4;
  double min_face = 20, max_face_fraction = 0.8;
  int identities = 1000;
  uint64_t seed = 0;
};

struct SynthScene {
  Image image;                        // RGB
  std::vector<FaceDetection> faces;   // largest first; score 1, landmarks (the drawn positions)
  std::vector<int> identities;        // per face
  int jpeg_quality = 92;
};

SynthScene synth_scene(uint64_t seed, int index, const SceneConfig& config);

// Writes `config.scenes` scenes to `dir` (created if needed): img_celeba/NNNNNN.jpg;
// faces.json, a detections file (data/detections.h) of every face with its landmarks (detector
// "synthetic ground truth", ms 0); list_eval_partition.txt (the last 10% of the files, at least
// one, are 1, the rest 0); list_bbox_celeba.txt and list_landmarks_celeba.txt with the largest
// face of each photo that has one. Landmarks rounded to two decimals everywhere (as the CelebA
// files write them). Checks 1 <= scenes <= 10^7, 64 <= min_width <= max_width <= 2048,
// 0 <= max_faces <= 4, 8 <= min_face. Returns the number of faces written.
size_t write_synth_scenes(const std::string& dir, const SceneConfig& config);

}  // namespace ff
