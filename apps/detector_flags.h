// apps/detector_flags.h — the face-detector options of the commands that find faces (align,
// embed, verify): --detector FILE (ours or a converted MTCNN; default the demo's), --face K and
// --detect-threshold T.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "face/detect.h"

namespace ff::app {

struct DetectorFlags {
  std::string path;
  int face = 1;
  double threshold = -1;  // < 0: the detector's default

  // Opens the detector (the default model when --detector is not given).
  std::unique_ptr<FaceDetector> open() const {
    DetectOptions o;
    if (threshold >= 0) o.score_threshold = threshold;
    return load_detector(path.empty() ? default_detector_model() : path, o);
  }
};

inline void add_detector_flags(CLI::App& sub, DetectorFlags& f, bool face_option = true) {
  sub.add_option("--detector", f.path,
                 "Face detector file: RUN/best.safetensors of `faceforge train-detector`, or MTCNN converted by "
                 "tools/convert_mtcnn.py [default: demo_out/detector/best.safetensors, written by `faceforge demo`]");
  if (face_option)
    sub.add_option("--face", f.face, "Which face of a photo with several: 1 = the largest, 2 = the next, ...")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
  sub.add_option("--detect-threshold", f.threshold, "Detector score threshold [default: the detector's own: ours records one in its file, MTCNN 0.7]")
      ->check(CLI::Range(0.0, 1.0));
}

}  // namespace ff::app
