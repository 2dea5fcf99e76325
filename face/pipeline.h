// face/pipeline.h — the face pipeline as library functions: photo -> face box -> landmarks (the
// stacked hourglass) -> alignment to the 5-point template -> embedding (flip test-time
// augmentation) -> cosine similarity; plus the embeddings file format, the verification report
// picture and the end-to-end demo. `faceforge align`, `embed`, `verify` and `demo` (apps/) are
// thin wrappers around these.
//
// Nothing here computes landmarks, alignment or embeddings itself: it strings together
//   face/landmarks.h  face_crop_matrix, predict_landmarks (crop 1.35x the box -> hourglass ->
//                      decode heatmaps -> back to photo pixels)
//   face/embed.h      alignment_matrix (similarity onto insightface's template), make_eval_face
//                      and flip_tta_embeddings (the embedding with its mirror)
// so the commands see faces exactly as training and evaluation did.
//
// The face box of a photo comes from a face detector (face/detect.h: ours or MTCNN), or from the
// caller (--box). A photo with several faces uses the largest unless the caller picks another;
// a photo where the detector finds none is an error naming it.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "engine/image_types.h"
#include "models/factory.h"
#include "data/image.h"
#include "face/detect.h"
#include "face/landmarks.h"

namespace ff {

// ---------------------------------------------------------------- inputs
// Face boxes are data/celeba.h's FaceBox: x_1, y_1 (top-left pixel), width, height, photo pixels.

// Where the face of a photo is, and how that was decided.
struct FaceLocation {
  FaceBox box;
  bool box_given = false;   // the caller's box (--box); no detector ran
  double score = 0;         // the detector's score of the face (0 for a given box)
  int found = 0;            // faces the detector found in the photo
  int index = 1;            // which of them: 1 = the largest (by box area), 2 = the next, ...
  std::string detector;     // what found it (FaceDetector::name()), empty for a given box
};
// The face of `photo`: `given` when set; otherwise detector's faces ordered by box area (largest
// first) and the face-th of them (1-based). Throws a one-line ff::Error naming the photo when the
// detector finds no face ("NAME: no face found by DETECTOR; give the box with --box x,y,w,h"), when
// face exceeds the faces found, and when there is neither a box nor a detector.
FaceLocation locate_face(FaceDetector* detector, const Image& photo, const std::string& name,
                         const std::optional<FaceBox>& given, int face = 1);
// "detected (score 0.98, the largest of 3 faces)", "the given box": for messages and figures.
std::string describe_location(const FaceLocation& where);

// Parses "x,y,w,h" (numbers, w and h > 0) and checks that the box overlaps the photo; throws a
// one-line ff::Error beginning with "--box" otherwise.
FaceBox parse_box(const std::string& text, int photo_width, int photo_height);

// Image files of a folder (by extension: png, jpg, jpeg, bmp, tga, pnm, ppm, pgm; case-insensitive),
// sorted by name, not recursive. Throws when the folder is missing or holds none.
std::vector<std::string> list_images(const std::string& dir);

// ---------------------------------------------------------------- models
// A landmark model file (a hourglass: RUN/best.safetensors of train-landmarks, or converted by
// tools/convert_torch.py) with the framing and decoder it was trained with.
struct LandmarkModel {
  std::string path;
  LoadedModel loaded;
  StackedHourglass* net = nullptr;
  LandmarkFraming framing;
  HeatmapDecode decode = HeatmapDecode::SoftArgmax;
};
// Throws a one-line error for a missing or unreadable file and for a model of another kind
// ("FILE holds an embedding model, not a landmark model (hourglass)").
LandmarkModel load_landmark_model(const std::string& path);

// An embedding model file (RUN/best.safetensors of train-embed, or converted); its input size is
// the configuration's.
struct EmbeddingModel {
  std::string path;
  LoadedModel loaded;
  EmbeddingNet* net = nullptr;
  int64_t input_size = 112;
  int64_t dim = 0;
};
EmbeddingModel load_embedding_model(const std::string& path);

// The landmark model a command uses when --landmarks-model is not given: the demo's
// (demo_out/landmarks/best.safetensors). Throws, saying how to get one, when it does not exist.
std::string default_landmark_model();

// ---------------------------------------------------------------- stages
struct AlignedFace {
  std::string name;                 // the photo's file name (or a caller's label)
  Image photo;                      // RGB, as read
  FaceBox box;                      // the face box used
  FaceLocation where;               // how it was found (where.box == box)
  Landmarks5 landmarks;             // photo pixels: left eye, right eye, nose, left/right mouth
  double crop_scale = 1.35;         // the landmark framing's: crop side = crop_scale * max(w, h)
  Image crop;                       // what the hourglass saw: the box enlarged (crop_scale), input_size^2
  Landmarks5 crop_landmarks;        // the landmarks in `crop` pixels
  Affine2 align_matrix;             // photo pixels -> aligned pixels
  Image aligned;                    // size x size, the face on the template
};

// Landmarks for each photo in the box of faces[i] (locate_face), then the similarity onto the
// template scaled to `size` and one warp. Runs the hourglass in batches on the CPU.
std::vector<AlignedFace> align_faces(LandmarkModel& lmk, const std::vector<Image>& photos,
                                     const std::vector<std::string>& names,
                                     const std::vector<FaceLocation>& faces, int64_t size);

// Embeddings of faces with known landmarks (photo pixels): each face aligned at the model's input
// size, plain and mirrored, through the network (eval mode, no gradients, batches of `batch`),
// combined by flip_tta_embeddings. [n, D] float32, rows L2-normalised.
Tensor embed_photos(EmbeddingModel& emb, const std::vector<const Image*>& photos,
                    const std::vector<Landmarks5>& landmarks, int64_t batch = 32);

// ---------------------------------------------------------------- verification
struct VerifyResult {
  AlignedFace a, b;
  double cosine = 0, threshold = 0.6;
  bool same = false;  // cosine >= threshold
  double seconds = 0;  // detection + landmarks + alignment + embeddings of the pair (files already decoded)
  double detect_seconds = 0;  // of which detection
};
// Each photo's face by locate_face (detector may be null when both boxes are given; face_a/face_b
// pick among several faces), then landmarks, alignment and embeddings.
VerifyResult verify_faces(FaceDetector* detector, LandmarkModel& lmk, EmbeddingModel& emb, const Image& a,
                          const Image& b, const std::string& name_a, const std::string& name_b,
                          std::optional<FaceBox> box_a, std::optional<FaceBox> box_b, double threshold,
                          int face_a = 1, int face_b = 1);

// The figure of the reference notebooks: per input a row with the photo (box and crop square,
// predicted landmarks), the hourglass crop (landmarks), the aligned face (template points), then
// the score and the decision.
Image verify_report_image(const VerifyResult& r);

// ---------------------------------------------------------------- the embeddings file
// A safetensors file: tensor "embeddings" float32 [N, D] (rows L2-normalised), and metadata
//   "format" "faceforge-embeddings-1", "names" a JSON array of the N file names in row order,
//   "model" the embedding model file, "dim" D, "count" N.
// Reading it in Python with numpy alone (no safetensors package needed):
//   import json, struct, numpy as np
//   b = open("emb.safetensors", "rb").read(); n = struct.unpack("<Q", b[:8])[0]
//   h = json.loads(b[8:8 + n]); names = json.loads(h["__metadata__"]["names"])
//   e = h["embeddings"]; s, t = e["data_offsets"]
//   E = np.frombuffer(b[8 + n + s:8 + n + t], dtype="<f4").reshape(e["shape"])
// or with the safetensors package: safe_open(path, "np").metadata()["names"] and
// load_file(path)["embeddings"].
void write_embeddings(const std::string& path, const std::vector<std::string>& names, const Tensor& embeddings,
                      const std::map<std::string, std::string>& extra_meta = {});
struct EmbeddingsFile {
  std::vector<std::string> names;
  Tensor embeddings;  // float32 [N, D]
  std::map<std::string, std::string> meta;
};
EmbeddingsFile read_embeddings(const std::string& path);

// JSON text of a list of strings, and back (only what write_embeddings writes needs parsing:
// an array of strings with JSON escapes).
std::string json_string_array(const std::vector<std::string>& items);
std::vector<std::string> parse_json_string_array(const std::string& text);

// ---------------------------------------------------------------- the demo
struct DemoOptions {
  std::string out = "demo_out";
  bool quick = false;     // a ~1-minute version (tests)
  int workers = 2;
  uint64_t seed = 1;
  bool progress = true;   // progress lines on stderr
};
struct DemoResult {
  std::string report;      // out/report/index.html
  std::string landmark_model, embedding_model, detector_model;
  double detector_ap50 = 0;  // the detector's validation AP at IoU 0.5 (augmented scenes)
  int undetected_faces = 0;  // verify photos where the detector found no face (the data's box used)
  double nme = 0;          // validation NME of the landmark model
  double failure_rate = 0; // fraction of validation images with NME > 0.1
  double closed_acc = 0, auc = 0, tar_at_far_1e2 = 0, tar_at_far_1e3 = 0, acc10 = 0, acc10_std = 0, acc_at_06 = 0;
  double same_cosine = 0, different_cosine = 0;
  bool same_decision = false, different_decision = false;
  double seconds = 0;
  std::vector<std::pair<std::string, double>> stage_seconds;
};
// Generates the synthetic set into out/data and scenes into out/scenes, trains the small face
// detector, landmark and embedding networks on the CPU, evaluates them, verifies a same-identity and a different-identity pair of held-out
// identities and writes out/report/index.html and the figures as JSON in out/summary.json. `out` must be absent, empty or an earlier demo's
// folder (marked by out/faceforge_demo.txt): its stage folders are replaced.
DemoResult run_demo(const DemoOptions& options);

}  // namespace ff
