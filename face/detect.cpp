// face/detect.cpp — opening a detector file by what its metadata says it holds (face/detect.h).
#include "face/detect.h"

#include <filesystem>

#include "engine/error.h"
#include "engine/safetensors.h"
#include "face/detector.h"
#include "face/mtcnn.h"

namespace ff {

std::unique_ptr<FaceDetector> load_detector(const std::string& path, const DetectOptions& options) {
  FF_CHECK(std::filesystem::is_regular_file(path), "no such detector file: ", path);
  const SafeTensors st = read_safetensors(path);
  auto it = st.metadata.find("model");
  const std::string kind = it == st.metadata.end() ? std::string() : it->second;
  if (kind == "detector") return load_our_detector(path, options);
  if (kind == "mtcnn") return std::make_unique<MtcnnDetector>(path, options);
  FF_FAIL(path, ": not a face detector (its metadata 'model' is '", kind,
          "'; expected 'detector' from `faceforge train-detector`, or 'mtcnn' from tools/convert_mtcnn.py)");
}

std::string default_detector_model() {
  const std::string p = "demo_out/detector/best.safetensors";
  FF_CHECK(std::filesystem::is_regular_file(p), "no face detector: give --detector FILE (RUN/best.safetensors of "
           "`faceforge train-detector`, or MTCNN converted by tools/convert_mtcnn.py), or run `faceforge demo`, "
           "which writes ", p);
  return p;
}

}  // namespace ff
