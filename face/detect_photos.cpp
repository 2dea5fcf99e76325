// face/detect_photos.cpp — a face detector over photos: figures, files and exit status for
// `faceforge detect`, timed runs over a folder for `faceforge eval-detector` (face/detect_photos.h).
#include "face/detect_photos.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "engine/error.h"
#include "report/draw.h"

namespace ff {

namespace fs = std::filesystem;

Image draw_detections(const Image& photo, const std::vector<FaceDetection>& faces) {
  Image out = to_channels(photo, 3);
  const double side = std::max(out.width, out.height);
  const double line = std::max(1.5, side / 400.0), font = std::max(10.0, side / 50.0);
  const Color box{40, 220, 40};
  const Color point_color[5] = {{230, 40, 40}, {230, 40, 40}, {250, 220, 30}, {40, 120, 250}, {40, 120, 250}};
  Canvas c(out);
  for (const FaceDetection& f : faces) {
    if (!(f.box.width > 0) || !(f.box.height > 0)) continue;
    c.rect(f.box.x, f.box.y, f.box.x + f.box.width - 1, f.box.y + f.box.height - 1, box, line);
    char s[32];
    std::snprintf(s, sizeof s, "%.2f", f.score);
    const int ty = std::max(0, static_cast<int>(f.box.y - font * 1.4));
    c.text(std::max(0, static_cast<int>(f.box.x)), ty, s, {0, 0, 0}, font, box);
    if (f.has_landmarks)
      for (int k = 0; k < 5; ++k)
        c.disc(f.landmarks[k].x, f.landmarks[k].y, std::max(2.0, f.box.width / 40.0), point_color[k]);
  }
  c.flush();
  return out;
}

DetectPhotosResult detect_photos(FaceDetector& detector, const std::vector<std::string>& paths,
                                 const std::string& out, const std::function<void(const std::string&)>& log) {
  FF_CHECK(!paths.empty(), "detect: no photos given");
  std::error_code ec;
  fs::create_directories(out, ec);
  FF_CHECK(!ec, "detect: cannot create ", out, " (", ec.message(), ")");
  DetectPhotosResult r;
  r.detections.detector = detector.name();
  std::map<std::string, int> names;  // figure names used so far
  for (const std::string& path : paths) {
    Image photo;
    try {
      photo = load_image(path, 3);
    } catch (const Error& e) {
      r.unreadable.push_back(path);
      log(path + ": cannot read (" + e.what() + ")");
      continue;
    }
    PhotoDetections p;
    p.file = fs::path(path).filename().string();
    p.width = photo.width;
    p.height = photo.height;
    auto t0 = std::chrono::steady_clock::now();
    p.faces = detector.detect(photo);
    p.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (p.faces.empty()) {
      r.no_face.push_back(path);
      log(path + ": no face found");
    }
    std::string ext = fs::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return std::tolower(ch); });
    const bool jpeg = ext == ".jpg" || ext == ".jpeg";
    std::string stem = fs::path(path).stem().string();
    int n = ++names[stem];
    if (n > 1) stem += "_" + std::to_string(n);
    const std::string fig = out + "/" + stem + "_faces" + (jpeg ? ".jpg" : ".png");
    save_image(draw_detections(photo, p.faces), fig);
    r.written.push_back(fig);
    r.detections.photos.push_back(std::move(p));
  }
  write_detections(out + "/detections.json", r.detections);
  write_detections_csv(out + "/detections.csv", r.detections);
  r.written.insert(r.written.begin(), {out + "/detections.json", out + "/detections.csv"});
  r.status = !r.unreadable.empty() ? 2 : !r.no_face.empty() ? 3 : 0;
  return r;
}

DetectFolderResult detect_folder(const std::function<std::unique_ptr<FaceDetector>()>& make, const std::string& dir,
                                 const std::vector<std::string>& files, int threads,
                                 const std::function<void(size_t, size_t)>& progress) {
  FF_CHECK(threads >= 1, "eval-detector: --threads must be >= 1, got ", threads);
  threads = static_cast<int>(std::min<size_t>(threads, std::max<size_t>(1, files.size())));
  std::vector<std::unique_ptr<FaceDetector>> detectors;
  for (int t = 0; t < threads; ++t) detectors.push_back(make());
  std::vector<PhotoDetections> photos(files.size());
  std::vector<std::string> errors(files.size());
  std::vector<char> ok(files.size(), 0);
  std::atomic<size_t> next{0}, done{0};
  std::mutex m;
  std::string failure;
  auto work = [&](FaceDetector& det) {
    for (size_t i; (i = next++) < files.size();) {
      try {
        Image photo;
        bool readable = true;
        try {
          photo = load_image(dir + "/" + files[i], 3);
        } catch (const Error& e) {
          errors[i] = e.what();
          readable = false;
        }
        if (readable) {
          PhotoDetections& p = photos[i];
          p.file = files[i];
          p.width = photo.width;
          p.height = photo.height;
          auto t0 = std::chrono::steady_clock::now();
          p.faces = det.detect(photo);
          p.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
          ok[i] = 1;
        }
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(m);
        if (failure.empty()) failure = files[i] + ": " + e.what();
        next = files.size();
      }
      size_t d = ++done;
      if (progress) {
        std::lock_guard<std::mutex> lock(m);
        progress(d, files.size());
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work, std::ref(*detectors[t]));
  work(*detectors[0]);
  for (auto& th : pool) th.join();
  FF_CHECK(failure.empty(), "eval-detector: the detector failed on ", failure);
  DetectFolderResult r;
  r.detections.detector = detectors[0]->name();
  for (size_t i = 0; i < files.size(); ++i) {
    if (ok[i])
      r.detections.photos.push_back(std::move(photos[i]));
    else if (!errors[i].empty())
      r.unreadable.push_back(errors[i]);
  }
  return r;
}

}  // namespace ff
