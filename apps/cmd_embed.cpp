// apps/cmd_embed.cpp — `faceforge embed`: an embedding per photo of a folder (aligned on the fly
// by the landmark model), written as safetensors readable from Python (face/pipeline.h), e.g.
//   faceforge embed photos/ --out emb.safetensors --model demo_out/embed/best.safetensors
#include <cstdio>
#include <filesystem>

#include "apps/commands.h"
#include "apps/detector_flags.h"
#include "engine/error.h"
#include "face/pipeline.h"
#include "train/progress.h"

namespace {

ff::app::Command reg("embed", "Embed every photo of a folder (landmarks -> alignment -> network, flip TTA)",
                     [](CLI::App& sub) {
  struct Opts {
    std::string dir, out, model, lmk;
    int64_t batch = 32;
    ff::app::DetectorFlags det;
  };
  auto o = std::make_shared<Opts>();
  sub.footer(
      "Each photo's face is found by the face detector (the largest face unless --face picks\n"
      "another; a photo with no face is an error naming it), aligned at the model's input size and\n"
      "embedded with its mirror image (flip test-time augmentation); rows are L2-normalised, so a dot\n"
      "product is the cosine similarity. The file records each photo's face box, detector score and\n"
      "number of faces found (metadata \"boxes\", \"scores\", \"faces_found\": JSON arrays in row order).\n"
      "FILE is safetensors: tensor \"embeddings\" float32 [N, D]; metadata \"names\" (a JSON array of\n"
      "the file names, in row order), \"model\", \"dim\", \"count\", \"format\". In Python, numpy only:\n"
      "  import json, struct, numpy as np\n"
      "  b = open(FILE, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8+n])\n"
      "  names = json.loads(h['__metadata__']['names']); e = h['embeddings']; s, t = e['data_offsets']\n"
      "  E = np.frombuffer(b[8+n+s:8+n+t], dtype='<f4').reshape(e['shape'])\n"
      "or: from safetensors.numpy import load_file; from safetensors import safe_open\n"
      "  E = load_file(FILE)['embeddings']; names = json.loads(safe_open(FILE, 'np').metadata()['names'])");
  sub.add_option("DIR", o->dir, "Folder of photos")->required();
  sub.add_option("--out", o->out, "Embeddings file FILE (.safetensors)")->required();
  sub.add_option("--model", o->model, "Embedding model file (RUN/best.safetensors of train-embed)")->required();
  sub.add_option("--landmarks-model", o->lmk,
                 "Landmark model file [default: demo_out/landmarks/best.safetensors, written by `faceforge demo`]");
  ff::app::add_detector_flags(sub, o->det);
  sub.add_option("--batch", o->batch, "Photos per batch")->check(CLI::Range(1, 4096))->capture_default_str();
  return [o] {
    std::vector<std::string> paths = ff::list_images(o->dir);
    ff::EmbeddingModel em = ff::load_embedding_model(o->model);
    ff::LandmarkModel lm = ff::load_landmark_model(o->lmk.empty() ? ff::default_landmark_model() : o->lmk);
    std::unique_ptr<ff::FaceDetector> det = o->det.open();
    std::vector<std::string> names;
    std::vector<float> rows;
    std::string boxes = "[", scores = "[", found = "[";
    ff::Progress progress("embed", static_cast<int64_t>(paths.size()), "photos");
    for (size_t b0 = 0; b0 < paths.size(); b0 += static_cast<size_t>(o->batch)) {
      const size_t bn = std::min(static_cast<size_t>(o->batch), paths.size() - b0);
      std::vector<ff::Image> photos;
      std::vector<std::string> bnames;
      std::vector<ff::FaceLocation> where;
      for (size_t i = 0; i < bn; ++i) {
        photos.push_back(ff::load_image(paths[b0 + i], 3));
        bnames.push_back(std::filesystem::path(paths[b0 + i]).filename().string());
        where.push_back(ff::locate_face(det.get(), photos.back(), paths[b0 + i], std::nullopt, o->det.face));
        const ff::FaceLocation& w = where.back();
        char b[200];
        std::snprintf(b, sizeof b, "%s[%.2f,%.2f,%.2f,%.2f]", names.empty() && i == 0 ? "" : ",", w.box.x, w.box.y,
                      w.box.width, w.box.height);
        boxes += b;
        std::snprintf(b, sizeof b, "%s%.4f", names.empty() && i == 0 ? "" : ",", w.score);
        scores += b;
        found += (names.empty() && i == 0 ? "" : ",") + std::to_string(w.found);
      }
      std::vector<ff::AlignedFace> faces = ff::align_faces(lm, photos, bnames, where, em.input_size);
      std::vector<const ff::Image*> ptrs;
      std::vector<ff::Landmarks5> pts;
      for (const ff::AlignedFace& f : faces) {
        ptrs.push_back(&f.photo);
        pts.push_back(f.landmarks);
      }
      std::vector<float> e = ff::embed_photos(em, ptrs, pts, o->batch).to_vector<float>();
      rows.insert(rows.end(), e.begin(), e.end());
      names.insert(names.end(), bnames.begin(), bnames.end());
      progress.update(static_cast<int64_t>(names.size()));
    }
    ff::Tensor emb = ff::Tensor::from_vector<float>(rows, {static_cast<int64_t>(names.size()), em.dim});
    ff::write_embeddings(o->out, names, emb,
                         {{"model", o->model}, {"detector", det->name()}, {"boxes", boxes + "]"},
                          {"scores", scores + "]"}, {"faces_found", found + "]"}});
    std::printf("%zu embeddings of dimension %lld -> %s\n", names.size(), static_cast<long long>(em.dim),
                o->out.c_str());
    return 0;
  };
});

}  // namespace
