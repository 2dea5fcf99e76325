// apps/cmd_synth.cpp — `faceforge synth`: writes a synthetic face dataset in CelebA's formats
// (data/synth.h), e.g.
//   faceforge synth --out data/synth --identities 100 --per-identity 20 --size 128 --seed 1
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>

#include "apps/commands.h"
#include "engine/error.h"
#include "data/celeba.h"
#include "data/detections.h"
#include "data/synth.h"
#include "report/draw.h"

namespace {

ff::app::Command reg("synth", "Write a synthetic face dataset in CelebA's file formats", [](CLI::App& sub) {
  struct Opts {
    std::string out;
    ff::SynthConfig cfg;
    bool overwrite = false;
    std::string sheet;
    int scenes = 0;
    ff::SceneConfig scene;
  };
  auto o = std::make_shared<Opts>();
  sub.footer(
      "Writes OUT/img_celeba/NNNNNN.jpg, identity_CelebA.txt, list_eval_partition.txt (per identity\n"
      "the last 20% of its images, at least one, are validation: 1), list_bbox_celeba.txt and\n"
      "list_landmarks_celeba.txt (left eye, right eye, nose tip, mouth corners; 'left' is the\n"
      "image's left). The same seed gives byte-identical files.");
  sub.add_option("--out", o->out, "Output folder (created; must not already hold a dataset unless --overwrite)")->required();
  auto* ids = sub.add_option("--identities", o->cfg.identities, "Number of identities N (>= 2)")
      ->check(CLI::Range(2, 1000000))->capture_default_str();
  sub.add_option("--per-identity", o->cfg.per_identity, "Images per identity K (>= 2)")
      ->check(CLI::Range(2, 100000))->capture_default_str();
  sub.add_option("--size", o->cfg.size, "Image side S in pixels (32..1024)")
      ->check(CLI::Range(32, 1024))->capture_default_str();
  sub.add_option("--seed", o->cfg.seed, "Random seed")->check(ff::app::non_negative())->capture_default_str();
  sub.add_flag("--overwrite", o->overwrite,
               "Write over a dataset already in OUT (its lists are replaced; older images beyond the new count stay on disk, unlisted)");
  sub.add_option("--scenes", o->scenes,
                 "Write N detector scenes instead: photos with 0-4 faces of various sizes (img_celeba/, faces.json "
                 "with every face, list_bbox/list_landmarks_celeba.txt with the largest, list_eval_partition.txt); "
                 "--identities is then the pool of identities (default 1000)")
      ->check(CLI::Range(0, 10000000));
  sub.add_option("--scene-width", o->scene.max_width, "Scenes: the largest width (the smallest is half of it, at least 64)")
      ->check(CLI::Range(128, 2048))->capture_default_str();
  sub.add_option("--sheet", o->sheet, "Also write a PNG contact sheet (rows: the first identities, columns: their images) with the landmarks marked");
  return [o, ids] {
    namespace fs = std::filesystem;
    if (o->scenes > 0) {
      ff::SceneConfig sc = o->scene;
      sc.scenes = o->scenes;
      sc.min_width = std::max(64, sc.max_width / 2);
      sc.seed = o->cfg.seed;
      sc.identities = ids->count() > 0 ? o->cfg.identities : 1000;
      if (!o->overwrite && fs::exists(fs::path(o->out) / "faces.json"))
        FF_FAIL("synth: ", o->out, " already holds scenes (faces.json); use --overwrite");
      auto t0 = std::chrono::steady_clock::now();
      size_t faces = ff::write_synth_scenes(o->out, sc);
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::cout << "synth: wrote " << sc.scenes << " scenes (" << faces << " faces, widths " << sc.min_width << ".."
                << sc.max_width << ", seed " << sc.seed << ") to " << o->out << " in " << secs << " s\n";
      if (!o->sheet.empty()) {
        ff::DetectionsFile df = ff::read_detections((fs::path(o->out) / "faces.json").string());
        std::vector<ff::Image> imgs;
        const ff::Color colours[5] = {{255, 0, 0}, {0, 90, 255}, {255, 255, 0}, {255, 0, 255}, {0, 255, 255}};
        for (size_t i = 0; i < df.photos.size() && i < 24; ++i) {
          ff::Image im = ff::load_image((fs::path(o->out) / "img_celeba" / df.photos[i].file).string());
          {
            ff::Canvas canvas(im);
            for (const ff::FaceDetection& f : df.photos[i].faces) {
              canvas.rect(f.box.x, f.box.y, f.box.x + f.box.width, f.box.y + f.box.height, {0, 255, 0}, 1.5);
              for (int k = 0; k < 5; ++k)
                canvas.marker(f.landmarks[k].x, f.landmarks[k].y, colours[k], ff::Marker::Plus, 2, 1);
            }
          }
          imgs.push_back(std::move(im));
        }
        ff::save_png(ff::montage(imgs, {}, 6, 4, {32, 32, 32}), o->sheet);
        std::cout << "synth: contact sheet " << o->sheet << "\n";
      }
      return 0;
    }
    const ff::SynthConfig& c = o->cfg;
    FF_CHECK(c.identities >= 2, "synth: --identities must be >= 2, got ", c.identities);
    FF_CHECK(c.per_identity >= 2, "synth: --per-identity must be >= 2, got ", c.per_identity);
    FF_CHECK(c.size >= 32 && c.size <= 1024, "synth: --size must be in 32..1024, got ", c.size);
    if (!o->overwrite && fs::exists(fs::path(o->out) / "identity_CelebA.txt"))
      FF_FAIL("synth: ", o->out, " already holds a dataset (identity_CelebA.txt); use --overwrite");
    auto t0 = std::chrono::steady_clock::now();
    size_t n = ff::write_synth_dataset(o->out, c);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "synth: wrote " << n << " images of " << c.identities << " identities (" << c.size << "x"
              << c.size << ", seed " << c.seed << ") to " << o->out << " in " << secs << " s\n";
    if (!o->sheet.empty()) {
      ff::FaceSet ds = ff::load_faces(o->out);
      std::vector<ff::Image> imgs;
      const ff::Color colours[5] = {{255, 0, 0}, {0, 255, 0}, {255, 255, 0}, {255, 0, 255}, {0, 255, 255}};
      // Rows: the first six identities; columns: up to eight of their images.
      std::vector<size_t> pick;
      for (int label = 0; label < std::min(6, ds.num_identities()); ++label) {
        int taken = 0;
        for (size_t i = 0; i < ds.size() && taken < 8; ++i)
          if (ds.faces[i].label == label) {
            pick.push_back(i);
            ++taken;
          }
      }
      for (size_t i : pick) {
        ff::Image im = ff::load_image(ds.faces[i].path);
        {
          ff::Canvas canvas(im);
          for (int k = 0; k < 5; ++k)
            canvas.marker((*ds.faces[i].landmarks)[k].x, (*ds.faces[i].landmarks)[k].y, colours[k],
                          ff::Marker::Plus, 2, 1);
        }
        imgs.push_back(std::move(im));
      }
      ff::save_png(ff::montage(imgs, {}, 8, 2, {32, 32, 32}), o->sheet);
      std::cout << "synth: contact sheet " << o->sheet << "\n";
    }
    return 0;
  };
});

}  // namespace
