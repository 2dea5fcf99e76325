// face/detect_stub.cpp — stands in for the detector loader (face/detect.h) on the branch that
// builds the detector evaluation before the detectors are merged; the lead deletes this file.
#include "engine/error.h"
#include "face/detect.h"

namespace ff {

std::unique_ptr<FaceDetector> load_detector(const std::string&, const DetectOptions&) {
  throw Error("detector loading is not in this build");
}

std::string default_detector_model() { throw Error("detector loading is not in this build"); }

}  // namespace ff
