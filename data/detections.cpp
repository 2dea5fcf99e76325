// data/detections.cpp — box overlap, non-maximum suppression and the detections file.
#include "data/detections.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/safetensors.h"

namespace ff {

namespace {
double intersection(const FaceBox& a, const FaceBox& b) {
  double w = std::min<double>(a.x + a.width, b.x + b.width) - std::max<double>(a.x, b.x);
  double h = std::min<double>(a.y + a.height, b.y + b.height) - std::max<double>(a.y, b.y);
  return (w > 0 && h > 0) ? w * h : 0.0;
}
double area(const FaceBox& b) { return (b.width > 0 && b.height > 0) ? double(b.width) * b.height : 0.0; }
}  // namespace

double box_iou(const FaceBox& a, const FaceBox& b) {
  double aa = area(a), ab = area(b);
  if (aa <= 0 || ab <= 0) return 0.0;
  double i = intersection(a, b);
  return i / (aa + ab - i);
}

double box_iom(const FaceBox& a, const FaceBox& b) {
  double aa = area(a), ab = area(b);
  if (aa <= 0 || ab <= 0) return 0.0;
  return intersection(a, b) / std::min(aa, ab);
}

std::vector<int64_t> nms(const std::vector<FaceBox>& boxes, const std::vector<double>& scores, double threshold,
                         NmsMode mode) {
  if (boxes.size() != scores.size())
    throw Error("nms: " + std::to_string(boxes.size()) + " boxes but " + std::to_string(scores.size()) + " scores");
  std::vector<int64_t> order(boxes.size());
  std::iota(order.begin(), order.end(), 0);
  // Highest score first; NaN scores last, ties by index (stable).
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    double sa = scores[a], sb = scores[b];
    if (std::isnan(sb)) return !std::isnan(sa);
    if (std::isnan(sa)) return false;
    return sa > sb;
  });
  std::vector<int64_t> kept;
  std::vector<char> dropped(boxes.size(), 0);
  for (size_t oi = 0; oi < order.size(); ++oi) {
    int64_t i = order[oi];
    if (dropped[i]) continue;
    kept.push_back(i);
    for (size_t oj = oi + 1; oj < order.size(); ++oj) {
      int64_t j = order[oj];
      if (dropped[j]) continue;
      double o = mode == NmsMode::Union ? box_iou(boxes[i], boxes[j]) : box_iom(boxes[i], boxes[j]);
      if (o > threshold) dropped[j] = 1;
    }
  }
  return kept;
}

std::vector<int64_t> nms(const std::vector<FaceDetection>& dets, double threshold, NmsMode mode) {
  std::vector<FaceBox> boxes;
  std::vector<double> scores;
  for (const auto& d : dets) {
    boxes.push_back(d.box);
    scores.push_back(d.score);
  }
  return nms(boxes, scores, threshold, mode);
}

void write_detections(const std::string& path, const DetectionsFile& file) {
  nlohmann::json j;
  j["format"] = "faceforge-detections-1";
  j["detector"] = file.detector;
  nlohmann::json photos = nlohmann::json::array();
  for (const auto& p : file.photos) {
    nlohmann::json jp;
    jp["file"] = p.file;
    jp["width"] = p.width;
    jp["height"] = p.height;
    jp["ms"] = p.ms;
    nlohmann::json faces = nlohmann::json::array();
    for (const auto& f : p.faces) {
      nlohmann::json jf;
      jf["box"] = {f.box.x, f.box.y, f.box.width, f.box.height};
      jf["score"] = f.score;
      if (f.has_landmarks) {
        nlohmann::json pts = nlohmann::json::array();
        for (const auto& q : f.landmarks) pts.push_back({q.x, q.y});
        jf["landmarks"] = pts;
      }
      faces.push_back(jf);
    }
    jp["faces"] = faces;
    photos.push_back(jp);
  }
  j["photos"] = photos;
  write_file_atomic(path, j.dump(1) + "\n", "detections");
}

DetectionsFile read_detections(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the detections file");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw Error(path + ": not JSON: " + e.what());
  }
  DetectionsFile out;
  try {
    if (!j.is_object() || j.value("format", std::string()) != "faceforge-detections-1")
      throw Error("not a faceforge detections file (\"format\" is not \"faceforge-detections-1\")");
    out.detector = j.value("detector", std::string());
    const auto& photos = j.at("photos");
    if (!photos.is_array()) throw Error("\"photos\" is not an array");
    for (size_t i = 0; i < photos.size(); ++i) {
      const auto& jp = photos[i];
      try {
        PhotoDetections p;
        p.file = jp.at("file").get<std::string>();
        p.width = jp.value("width", 0);
        p.height = jp.value("height", 0);
        p.ms = jp.value("ms", 0.0);
        for (const auto& jf : jp.at("faces")) {
          FaceDetection f;
          const auto& b = jf.at("box");
          if (!b.is_array() || b.size() != 4) throw Error("\"box\" is not [x, y, w, h]");
          f.box = FaceBox{b[0].get<float>(), b[1].get<float>(), b[2].get<float>(), b[3].get<float>()};
          if (!std::isfinite(f.box.x) || !std::isfinite(f.box.y) || !(f.box.width >= 0) || !(f.box.height >= 0) ||
              !std::isfinite(f.box.width) || !std::isfinite(f.box.height))
            throw Error("\"box\" is not finite with a width and height >= 0");
          f.score = jf.at("score").get<double>();
          if (jf.contains("landmarks")) {
            const auto& pts = jf["landmarks"];
            if (!pts.is_array() || pts.size() != 5) throw Error("\"landmarks\" is not 5 points");
            for (int k = 0; k < 5; ++k) {
              if (!pts[k].is_array() || pts[k].size() != 2) throw Error("a landmark is not [x, y]");
              f.landmarks[k] = Point2{pts[k][0].get<double>(), pts[k][1].get<double>()};
            }
            f.has_landmarks = true;
          }
          p.faces.push_back(f);
        }
        out.photos.push_back(std::move(p));
      } catch (const Error& e) {
        throw Error("photo entry " + std::to_string(i) + ": " + e.what());
      } catch (const std::exception& e) {
        throw Error("photo entry " + std::to_string(i) + ": " + e.what());
      }
    }
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  } catch (const std::exception& e) {
    throw Error(path + ": " + e.what());
  }
  return out;
}

void write_detections_csv(const std::string& path, const DetectionsFile& file) {
  std::ostringstream s;
  s.precision(7);
  s << "file,face,score,x,y,w,h,lex,ley,rex,rey,nx,ny,lmx,lmy,rmx,rmy\n";
  for (const auto& p : file.photos) {
    if (p.faces.empty()) {
      s << p.file << ",-1,,,,,,,,,,,,,,,\n";
      continue;
    }
    for (size_t k = 0; k < p.faces.size(); ++k) {
      const auto& f = p.faces[k];
      s << p.file << "," << k << "," << f.score << "," << f.box.x << "," << f.box.y << "," << f.box.width << ","
        << f.box.height;
      for (int q = 0; q < 5; ++q) {
        if (f.has_landmarks)
          s << "," << f.landmarks[q].x << "," << f.landmarks[q].y;
        else
          s << ",,";
      }
      s << "\n";
    }
  }
  write_file_atomic(path, s.str(), "detections CSV");
}

}  // namespace ff
