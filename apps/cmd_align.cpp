// apps/cmd_align.cpp — `faceforge align`: landmarks by the hourglass, similarity onto the 5-point
// template, one warp; writes the aligned faces and a CSV of the landmarks (face/pipeline.h), e.g.
//   faceforge align photo1.jpg photo2.jpg --out aligned/ --landmarks-model demo_out/landmarks/best.safetensors
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/safetensors.h"
#include "train/run.h"
#include "apps/commands.h"
#include "apps/detector_flags.h"
#include "engine/error.h"
#include "face/pipeline.h"

namespace {

ff::app::Command reg("align", "Align faces: landmarks (hourglass) -> similarity to the 5-point template -> warp",
                     [](CLI::App& sub) {
  struct Opts {
    std::vector<std::string> images;
    std::string out, box, lmk;
    int64_t size = 112;
    ff::app::DetectorFlags det;
  };
  auto o = std::make_shared<Opts>();
  sub.footer(
      "Each photo's face is found by the face detector (--detector; the largest face unless --face\n"
      "picks another; a photo with no face is an error naming it) unless --box gives the box. The\n"
      "hourglass sees the box enlarged 1.35x; its five landmarks (eyes,\n"
      "nose, mouth corners) are mapped onto insightface's template scaled to --size by a least-squares\n"
      "similarity, and the photo is warped once. Writes DIR/<name>.png per photo and DIR/landmarks.csv\n"
      "(file, box, detector score, faces found, and the five x,y in the original photo's pixels).");
  sub.add_option("PHOTOS", o->images, "Photos (PNG, JPEG, ...)")->required();
  sub.add_option("--out", o->out, "Output folder DIR")->required();
  sub.add_option("--box", o->box, "Face box x,y,w,h in photo pixels (applies to every photo)");
  sub.add_option("--landmarks-model", o->lmk,
                 "Landmark model file [default: demo_out/landmarks/best.safetensors, written by `faceforge demo`]");
  ff::app::add_detector_flags(sub, o->det);
  sub.add_option("--size", o->size, "Side of the aligned faces in pixels")->check(CLI::Range(16, 1024))->capture_default_str();
  return [o] {
    ff::LandmarkModel lm = ff::load_landmark_model(o->lmk.empty() ? ff::default_landmark_model() : o->lmk);
    std::vector<ff::Image> photos;
    std::vector<std::string> names;
    std::vector<ff::FaceLocation> where;
    std::unique_ptr<ff::FaceDetector> det;
    if (o->box.empty()) det = o->det.open();
    for (const std::string& path : o->images) {
      FF_CHECK(std::filesystem::is_regular_file(path), "no such image: ", path);
      photos.push_back(ff::load_image(path, 3));
      names.push_back(std::filesystem::path(path).filename().string());
      std::optional<ff::FaceBox> box;
      if (!o->box.empty()) box = ff::parse_box(o->box, photos.back().width, photos.back().height);
      where.push_back(ff::locate_face(det.get(), photos.back(), path, box, o->det.face));
    }
    std::vector<ff::AlignedFace> faces = ff::align_faces(lm, photos, names, where, o->size);
    std::filesystem::create_directories(o->out);
    const std::string csv_path = o->out + "/landmarks.csv";
    std::ostringstream csv;  // written atomically once every face is saved
    csv << "file,box_x,box_y,box_w,box_h,score,faces_found,left_eye_x,left_eye_y,right_eye_x,right_eye_y,nose_x,nose_y,"
           "left_mouth_x,left_mouth_y,right_mouth_x,right_mouth_y\n";
    for (size_t i = 0; i < faces.size(); ++i) {
      const ff::AlignedFace& f = faces[i];
      std::string stem = std::filesystem::path(f.name).stem().string();
      // Two photos may share a stem (a.jpg, a.png): number the later ones.
      std::string out_png = o->out + "/" + stem + ".png";
      for (size_t j = 0; j < i; ++j)
        if (std::filesystem::path(faces[j].name).stem() == stem) out_png = o->out + "/" + stem + "_" + std::to_string(i) + ".png";
      ff::save_png(f.aligned, out_png);
      csv << ff::csv_field(f.name);
      csv << "," << f.box.x << "," << f.box.y << "," << f.box.width << "," << f.box.height << ","
          << (f.where.box_given ? std::string() : std::to_string(f.where.score)) << ","
          << (f.where.box_given ? std::string() : std::to_string(f.where.found));
      for (const ff::Point2& p : f.landmarks) csv << "," << p.x << "," << p.y;
      csv << "\n";
      std::printf("%s -> %s (%s)\n", o->images[i].c_str(), out_png.c_str(), ff::describe_location(f.where).c_str());
    }
    ff::write_file_atomic(csv_path, csv.str(), "align");
    std::printf("landmarks: %s\n", csv_path.c_str());
    return 0;
  };
});

}  // namespace
