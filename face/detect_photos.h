// face/detect_photos.h — running a face detector (face/detect.h) over photos: `faceforge detect`
// (files, figures, an exit status per outcome) and `faceforge eval-detector --detector`
// (every photo of a folder, timed).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "data/detections.h"
#include "data/image.h"
#include "face/detect.h"

namespace ff {

// The photo with its faces drawn: each box (green), its score above it, and the five points
// (red eyes, yellow nose, blue mouth corners) when the detector gives them.
Image draw_detections(const Image& photo, const std::vector<FaceDetection>& faces);

// `faceforge detect`: every photo of `paths` decoded and given to `detector`; writes
// out/detections.json and out/detections.csv (data/detections.h) and one figure per readable
// photo, out/<name>_faces.jpg (.png for a photo that is not a JPEG; a second photo with the same
// file name gets _2, ...). Messages go to `log` ("photo.jpg: no face found", "photo.jpg: cannot
// read: ..."). status: 0 every photo had a face, 3 some readable photo had none, 2 some photo could
// not be read (the others are still processed; 2 wins over 3).
struct DetectPhotosResult {
  DetectionsFile detections;           // the readable photos
  std::vector<std::string> no_face;    // paths of readable photos without a face
  std::vector<std::string> unreadable; // paths that could not be decoded, with the reason
  std::vector<std::string> written;    // the files written
  int status = 0;
};
DetectPhotosResult detect_photos(FaceDetector& detector, const std::vector<std::string>& paths,
                                 const std::string& out, const std::function<void(const std::string&)>& log);

// `faceforge eval-detector --detector`: detects the faces of dir/files[i] for every i on
// `threads` threads, one detector each (made by `make`), timing detect() alone (decoding
// excluded) into each photo's ms. Photos that cannot be decoded are left out and named in
// `unreadable`. `progress` (may be empty) is called now and then with (done, total).
struct DetectFolderResult {
  DetectionsFile detections;
  std::vector<std::string> unreadable;
};
DetectFolderResult detect_folder(const std::function<std::unique_ptr<FaceDetector>()>& make, const std::string& dir,
                                 const std::vector<std::string>& files, int threads,
                                 const std::function<void(size_t, size_t)>& progress);

}  // namespace ff
