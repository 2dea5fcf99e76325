// tools/baseline_detectors.cpp — the classical face detectors faceforge's are compared with, run
// over a CelebA-format folder and saved as faceforge-detections-1 files (data/detections.h) that
// `faceforge eval-detector --detections FILE` scores. Built only when dlib and OpenCV are found
// (target ff_baselines, scripts/baselines.sh); faceforge itself never depends on it.
//
//   ff_baselines --data DIR --method dlib_hog|opencv_haar --out FILE.json [--threads N] [--limit N]
//                [--upsample K] [--dlib-adjust A] [--cascade XML] [--ms wall|cpu]
//
// dlib_hog: dlib's frontal_face_detector (HOG + linear SVM, 5 poses), the photo upsampled K times
//   by 2 (dlib's pyramid_up, K = 1 by default: what dlib's examples and the Python API's
//   `detector(img, 1)` do for faces under 80 px) and boxes mapped back; run with adjust_threshold A
//   (-0.5 by default, dlib's standard operating point is 0) so the low-scoring candidates are kept
//   and a precision-recall curve exists below the default point. score = 1 / (1 + exp(-margin)):
//   monotone in dlib's SVM margin, 0.5 at dlib's default threshold.
// opencv_haar: OpenCV's Viola-Jones cascade haarcascade_frontalface_default.xml (Debian
//   opencv-data) on the gray, histogram-equalised photo, detectMultiScale with scaleFactor 1.1,
//   minNeighbors 5, no flags, the cascade's minimum size (24 x 24). Haar has no score: the
//   overload with outputRejectLevels = true returns, per grouped box, the weighted sum of its
//   last stage (levelWeights); score = 1 / (1 + exp(-levelWeight)), again monotone.
// Neither has landmarks. Time per photo (the "ms" field) is the detector's alone: from the
// decoded BGR photo to the boxes, colour conversion and upsampling included, decoding excluded;
// OpenCV's own threads are off (cv::setNumThreads(1)), so each photo runs on one core and
// --threads photos run side by side (2 by default: "on 2 cores"). "ms" is wall-clock time by
// default; --ms cpu stores the thread's CPU time instead (CLOCK_THREAD_CPUTIME_ID: what the photo
// costs one core, unaffected by other programs competing for the cores). Both are summarised at
// the end, with the wall-clock throughput.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <ctime>
#include <vector>

#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms.h>
#include <dlib/opencv.h>
#include <dlib/revision.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "data/detections.h"
#include "engine/error.h"

namespace fs = std::filesystem;

namespace {

struct Args {
  std::string data, method, out;
  std::string cascade = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml";
  int threads = 2, limit = 0, upsample = 1;
  double dlib_adjust = -0.5;
  bool cpu_ms = false;
};

double thread_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

std::string mean_median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  double mean = 0;
  for (double x : v) mean += x;
  mean /= std::max<size_t>(1, v.size());
  char b[64];
  std::snprintf(b, sizeof b, "mean %.1f, median %.1f", mean, v.empty() ? 0.0 : v[v.size() / 2]);
  return b;
}

double logistic(double v) { return 1.0 / (1.0 + std::exp(-v)); }

std::vector<std::string> photo_files(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (ext == ".jpg" || ext == ".jpeg" || ext == ".png") files.push_back(e.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// One detector per thread: neither dlib's object_detector nor OpenCV's CascadeClassifier may be
// shared between threads.
struct Worker {
  const Args& a;
  dlib::frontal_face_detector hog;
  cv::CascadeClassifier haar;
  explicit Worker(const Args& args) : a(args) {
    if (a.method == "dlib_hog") {
      hog = dlib::get_frontal_face_detector();
    } else if (!haar.load(a.cascade)) {
      throw ff::Error("ff_baselines: cannot load the cascade " + a.cascade + " (Debian opencv-data)");
    }
  }
  std::vector<ff::FaceDetection> detect(const cv::Mat& bgr) {
    std::vector<ff::FaceDetection> out;
    if (a.method == "dlib_hog") {
      dlib::array2d<dlib::rgb_pixel> img;
      dlib::assign_image(img, dlib::cv_image<dlib::bgr_pixel>(bgr));
      for (int k = 0; k < a.upsample; ++k) dlib::pyramid_up(img);  // what dlib's Python API does per upsample
      std::vector<dlib::rect_detection> dets;
      hog(img, dets, a.dlib_adjust);
      dlib::pyramid_down<2> pyr;
      for (const auto& d : dets) {
        dlib::drectangle r = d.rect;
        for (int k = 0; k < a.upsample; ++k) r = pyr.rect_down(r);
        ff::FaceDetection f;
        f.box = ff::FaceBox{float(r.left()), float(r.top()), float(r.right() - r.left() + 1),
                            float(r.bottom() - r.top() + 1)};
        f.score = logistic(d.detection_confidence);
        out.push_back(f);
      }
    } else {
      cv::Mat gray;
      cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
      cv::equalizeHist(gray, gray);
      std::vector<cv::Rect> rects;
      std::vector<int> levels;
      std::vector<double> weights;
      haar.detectMultiScale(gray, rects, levels, weights, 1.1, 5, 0, cv::Size(), cv::Size(), true);
      for (size_t i = 0; i < rects.size(); ++i) {
        ff::FaceDetection f;
        f.box = ff::FaceBox{float(rects[i].x), float(rects[i].y), float(rects[i].width), float(rects[i].height)};
        f.score = logistic(i < weights.size() ? weights[i] : 0.0);
        out.push_back(f);
      }
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const ff::FaceDetection& x, const ff::FaceDetection& y) { return x.score > y.score; });
    return out;
  }
};

int run(const Args& a) {
  if (a.method != "dlib_hog" && a.method != "opencv_haar")
    throw ff::Error("ff_baselines: --method must be dlib_hog or opencv_haar, not '" + a.method + "'");
  if (a.threads < 1) throw ff::Error("ff_baselines: --threads must be >= 1");
  const std::string img_dir = a.data + "/img_celeba";
  if (!fs::is_directory(img_dir)) throw ff::Error("ff_baselines: " + img_dir + " is not a folder");
  std::vector<std::string> files = photo_files(img_dir);
  if (a.limit > 0 && static_cast<size_t>(a.limit) < files.size()) files.resize(a.limit);
  if (files.empty()) throw ff::Error("ff_baselines: no photos in " + img_dir);
  cv::setNumThreads(1);

  ff::DetectionsFile result;
  char desc[256];
  if (a.method == "dlib_hog")
    std::snprintf(desc, sizeof desc, "dlib %d.%d.%d frontal_face_detector (HOG), upsample x%d, adjust_threshold %g",
                  DLIB_MAJOR_VERSION, DLIB_MINOR_VERSION, DLIB_PATCH_VERSION, a.upsample, a.dlib_adjust);
  else
    std::snprintf(desc, sizeof desc,
                  "OpenCV %s Haar cascade %s, scaleFactor 1.1, minNeighbors 5, score logistic(levelWeight)",
                  CV_VERSION, fs::path(a.cascade).filename().c_str());
  result.detector = desc;
  result.photos.resize(files.size());
  std::vector<std::string> errors(files.size());
  std::vector<double> wall_ms(files.size(), 0), cpu_ms(files.size(), 0);
  std::atomic<size_t> next{0}, done{0};
  std::mutex print;
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  std::vector<std::string> worker_error(a.threads);
  for (int t = 0; t < a.threads; ++t)
    pool.emplace_back([&, t] {
      try {
        Worker w(a);
        for (size_t i; (i = next++) < files.size();) {
          ff::PhotoDetections& p = result.photos[i];
          p.file = files[i];
          cv::Mat bgr = cv::imread(img_dir + "/" + files[i], cv::IMREAD_COLOR);
          if (bgr.empty()) {
            errors[i] = files[i] + ": cannot decode";
            continue;
          }
          p.width = bgr.cols;
          p.height = bgr.rows;
          auto s = std::chrono::steady_clock::now();
          double c = thread_cpu_ms();
          p.faces = w.detect(bgr);
          cpu_ms[i] = thread_cpu_ms() - c;
          wall_ms[i] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count();
          p.ms = a.cpu_ms ? cpu_ms[i] : wall_ms[i];
          size_t d = ++done;
          if (d % 100 == 0 || d == files.size()) {
            std::lock_guard<std::mutex> lock(print);
            std::fprintf(stderr, "ff_baselines %s: %zu / %zu photos\n", a.method.c_str(), d, files.size());
          }
        }
      } catch (const std::exception& e) {
        worker_error[t] = e.what();
      }
    });
  for (auto& th : pool) th.join();
  for (const auto& e : worker_error)
    if (!e.empty()) throw ff::Error(e);
  double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  size_t failed = 0;
  for (const auto& e : errors)
    if (!e.empty()) {
      std::fprintf(stderr, "ff_baselines: %s (left out)\n", e.c_str());
      ++failed;
    }
  if (failed) {
    std::vector<ff::PhotoDetections> kept;
    for (size_t i = 0; i < files.size(); ++i)
      if (errors[i].empty()) kept.push_back(std::move(result.photos[i]));
    result.photos = std::move(kept);
  }
  ff::write_detections(a.out, result);
  std::vector<double> wall, cpu;
  size_t faces = 0;
  for (size_t i = 0; i < files.size(); ++i)
    if (errors[i].empty()) wall.push_back(wall_ms[i]), cpu.push_back(cpu_ms[i]);
  for (const auto& p : result.photos) faces += p.faces.size();
  std::printf("%s: %zu photos, %zu faces, %zu unreadable; ms per photo (one core each, %d side by side): "
              "wall %s; thread CPU %s; wall %.1f s in all = %.1f ms per photo on %d threads (\"ms\" field: %s)\n"
              "wrote %s\n",
              a.method.c_str(), result.photos.size(), faces, failed, a.threads, mean_median(wall).c_str(),
              mean_median(cpu).c_str(), wall_s, 1000 * wall_s / std::max<size_t>(1, result.photos.size()), a.threads,
              a.cpu_ms ? "CPU" : "wall", a.out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  auto usage = [] {
    std::fprintf(stderr,
                 "usage: ff_baselines --data DIR --method dlib_hog|opencv_haar --out FILE.json [--threads N]\n"
                 "                    [--limit N] [--upsample K] [--dlib-adjust A] [--cascade XML] [--ms wall|cpu]\n");
    return 2;
  };
  try {
    for (int i = 1; i < argc; ++i) {
      std::string k = argv[i];
      if (i + 1 >= argc) return usage();
      std::string v = argv[++i];
      if (k == "--data") a.data = v;
      else if (k == "--method") a.method = v;
      else if (k == "--out") a.out = v;
      else if (k == "--threads") a.threads = std::stoi(v);
      else if (k == "--limit") a.limit = std::stoi(v);
      else if (k == "--upsample") a.upsample = std::stoi(v);
      else if (k == "--dlib-adjust") a.dlib_adjust = std::stod(v);
      else if (k == "--cascade") a.cascade = v;
      else if (k == "--ms" && (v == "wall" || v == "cpu")) a.cpu_ms = v == "cpu";
      else return usage();
    }
    if (a.data.empty() || a.method.empty() || a.out.empty()) return usage();
    return run(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ff_baselines: error: %s\n", e.what());
    return 1;
  }
}
