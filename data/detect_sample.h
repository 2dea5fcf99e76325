// data/detect_sample.h — the face detector's training data: the photos of a folder with all their
// faces (DetectSource), and one augmented training picture made from them (make_detect_sample).
//
// What the augmentation is for: the detector must find faces as photos hold them — from about
// 16-20 px to the whole frame, anywhere, several at once, sometimes none — while the training
// folders (CelebA crops) hold one face filling the middle of every photo. So each sample:
//   - picks a face of the photo and scales the photo so that face's side (sqrt(w h) of its box) is
//     log-uniform in [min_face, max_face_fraction x the output's smaller side], rotates it a little,
//     mirrors it sometimes, and puts that face's centre anywhere in the output (a face may be cut
//     by the border by up to a third of its side);
//   - fills what the photo does not cover (zoom-out) with a face-free crop of another photo
//     (`pad_photo`), the photo's own border pixels repeated (`pad_replicate`) or its mean colour
//     (the rest), the photo's edge feathered over a few pixels when it lies over another photo.
//     Why mixed: every single filling leaves a cue (a flat frame, streaks, a seam) that a detector
//     could learn as "a face is inside"; drawing among three, and showing the same seams in
//     no-face samples, leaves none reliable. The other photo's crop is the most realistic (real
//     texture, real colours) and is the default's majority;
//   - sometimes is a mosaic instead: 2x2 or 3x3 tiles split at random lines, each tile a sample of
//     another photo made as above (several smaller faces per image);
//   - sometimes holds no face: a face-free crop of a photo, a flat / gradient / noise picture,
//     half of them with another face-free crop pasted on as a zoomed-out photo would be;
//   - then colour jitter (brightness, contrast, saturation; torchvision's formulas, per tile) and
//     sometimes grayscale.
// Downscaling by more than 2x first averages the photo over whole-pixel blocks (area filter), so a
// small face is as smooth as in a photo taken small, not aliased by the bilinear warp.
//
// Faces of a sample: every face of every photo shown (not only the chosen one) in output pixels:
// its centre mapped by the warp; its width and height scaled (a small rotation keeps a face box's
// size); landmarks mapped, left/right pairs swapped when mirrored (has_landmarks turns false when
// a point falls outside the face's tile: a cut face); score 1. A face lands in
//   - `faces` when its centre lies inside its tile and its side is >= min_kept_face px; the box is
//     clipped to its tile;
//   - `ignored` when it is visible but too small or its centre is outside its tile: a trainer
//     should count these neither as faces nor as background (no loss there);
//   - nowhere when it lies entirely outside its tile.
// Coordinates: pixel centres at integers (data/geometry.h, data/image.h).
//
// Randomness: from the Rng only, so the same rng state gives the same sample (the number of draws
// varies from sample to sample). Pass the loader's per-sample Rng (train/loader.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/detections.h"
#include "data/image.h"
#include "engine/random.h"

namespace ff {

// ---------------------------------------------------------------- the photos
struct DetectPhoto {
  std::string file;   // "000001.jpg"
  std::string path;   // root/img_celeba/file
  int partition = 0;  // list_eval_partition.txt's value, 0 when the folder has no such file
  std::vector<FaceDetection> faces;  // photo pixels; score 1
};

enum class DetectCache {
  Encoded,  // the files' bytes in memory, decoded for each use (celeba_subset: 62 MB; 1200-2300
            // decodes/s on one core, so 160-240 samples/s: the default)
  Decoded,  // RGB pixels in memory (celeba_subset: 623 MB; a sample decodes one photo per tile
            // and one to four per padding, so decoding is most of its cost)
  None,     // read and decoded from disk for each use
};

struct DetectSourceOptions {
  int partition = -1;       // keep only the photos of this partition (-1: all)
  int64_t limit = 0;        // > 0: at most this many photos (the first ones)
  DetectCache cache = DetectCache::Encoded;
};

struct DetectSource {
  std::string root;
  std::string format;       // "faces.json" or "celeba"
  bool has_landmarks = false;
  std::vector<DetectPhoto> photos;
  std::vector<std::vector<uint8_t>> encoded;  // per photo (DetectCache::Encoded)
  std::vector<Image> decoded;                 // per photo (DetectCache::Decoded)

  int64_t size() const { return static_cast<int64_t>(photos.size()); }
  // Photo i as RGB, from the cache or the disk (thread-safe: reads only).
  Image image(int64_t i) const;
};

// Reads a folder of photos and their faces, in one of two layouts:
//   - DIR/faces.json: a detections file (data/detections.h, faceforge-detections-1) listing every
//     photo and all its faces (what `faceforge synth --scenes` writes); photos in DIR/img_celeba/
//     when that folder exists, else in DIR; has_landmarks when every face has landmarks;
//   - otherwise CelebA's: DIR/img_celeba/ and DIR/list_bbox_celeba.txt (one face per photo),
//     DIR/list_landmarks_celeba.txt when present (has_landmarks; photos without a landmark row are
//     dropped).
// Either way DIR/list_eval_partition.txt, when present, gives each photo's partition (photos it
// does not list are dropped). Throws a one-line ff::Error naming DIR when it has neither layout, or
// a file (the first one) that fails to read or decode (Encoded/Decoded caches read every file).
DetectSource load_detect_source(const std::string& dir, const DetectSourceOptions& options = {});

// ---------------------------------------------------------------- the samples
struct DetectAugment {
  // Face sizes (side = sqrt(box width x height), output pixels): the chosen face's side is
  // log-uniform in [min_face, max_face_fraction x min(tile width, tile height)].
  double min_face = 16.0;
  double max_face_fraction = 1.0;
  double max_rotation_deg = 10.0;   // uniform in [-max, max], about the chosen face's centre
  double flip_probability = 0.5;
  // Faces smaller than this (side, px) go to `ignored`.
  double min_kept_face = 8.0;
  // Mosaics: with this probability the sample is a mosaic; of those, mosaic3_fraction are 3x3,
  // the rest 2x2. Split lines uniform in the middle 40% (2x2) or around the thirds (3x3).
  double mosaic_probability = 0.3;
  double mosaic3_fraction = 0.3;
  // Samples with no face: with this probability (checked before the mosaic draw) the whole
  // sample, and in a mosaic each tile with half this probability, shows no face: a face-free
  // crop of a photo (no_face_photo_fraction of them) or a flat / gradient / noise picture.
  double no_face_probability = 0.07;
  double no_face_photo_fraction = 0.7;
  // Of the no-face pictures, this fraction also gets a smaller face-free crop of a photo pasted
  // on (turned, feathered), so a pasted photo's seams are no sign of a face.
  double no_face_paste = 0.5;
  // What fills the output where the photo does not reach: another photo's face-free crop
  // (pad_photo), the photo's border repeated (pad_replicate), else the photo's mean colour.
  double pad_photo = 0.7, pad_replicate = 0.15;
  double max_feather = 6.0;         // photo-over-photo edges blend over uniform [0, max] px
  // Colour jitter strengths (torchvision's ColorJitter: factor uniform in [max(0, 1 - s), 1 + s]),
  // per tile; then grayscale with this probability (the whole sample).
  double brightness = 0.3, contrast = 0.3, saturation = 0.3;
  double grayscale_probability = 0.05;
};

struct DetectSample {
  Image image;                          // RGB, size x size
  std::vector<FaceDetection> faces;     // the faces to find (see above), output pixels
  std::vector<FaceDetection> ignored;   // visible faces that are too small or cut: no loss there
};

// One sample built around photo `index` of src (a mosaic's other tiles and the paddings draw
// other photos at random). size: 32..1024. Throws ff::Error for an empty source, an index out
// of range, a bad size or bad options.
DetectSample make_detect_sample(const DetectSource& src, int64_t index, int size, Rng& rng,
                                const DetectAugment& opts = {});

// ---------------------------------------------------------------- eyeballing
// Samples side by side in a grid of `cols` columns (2 px grey gaps): faces' boxes in green with
// their landmarks (left eye red, right eye blue, nose yellow, mouth corners magenta / cyan),
// ignored faces' boxes in orange. Plain pixel drawing, no fonts.
Image detect_contact_sheet(const std::vector<DetectSample>& samples, int cols = 8);

}  // namespace ff
