// face/pipeline.cpp — the face pipeline's stages strung together (see face/pipeline.h): model
// loading with named errors, alignment, embeddings, verification and its figure, the embeddings
// file. The demo is in face/demo.cpp.
#include "face/pipeline.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops_geometry.h"
#include "engine/safetensors.h"
#include "data/face_sample.h"
#include "face/embed.h"
#include "report/draw.h"

namespace fs = std::filesystem;

namespace ff {

// ---------------------------------------------------------------- inputs
FaceLocation locate_face(FaceDetector* detector, const Image& photo, const std::string& name,
                         const std::optional<FaceBox>& given, int face) {
  FaceLocation w;
  if (given) {
    w.box = *given;
    w.box_given = true;
    return w;
  }
  FF_CHECK(detector != nullptr, name, ": no face box and no face detector (give --detector FILE or --box x,y,w,h)");
  FF_CHECK(face >= 1, name, ": --face must be at least 1 (1 = the largest face), got ", face);
  std::vector<FaceDetection> found = detector->detect(photo.channels == 3 ? photo : to_channels(photo, 3));
  w.detector = detector->name();
  w.found = static_cast<int>(found.size());
  FF_CHECK(!found.empty(), name, ": no face found by ", w.detector, " (score threshold ",
           detector->options.score_threshold, "); give the box with --box x,y,w,h");
  std::stable_sort(found.begin(), found.end(), [](const FaceDetection& a, const FaceDetection& b) {
    return double(a.box.width) * a.box.height > double(b.box.width) * b.box.height;
  });
  FF_CHECK(face <= w.found, name, ": --face ", face, " asked for, but ", w.detector, " found ", w.found,
           w.found == 1 ? " face" : " faces");
  w.index = face;
  w.box = found[face - 1].box;
  w.score = found[face - 1].score;
  return w;
}

std::string describe_location(const FaceLocation& w) {
  if (w.box_given) return "the given box";
  char b[160];
  if (w.found == 1)
    std::snprintf(b, sizeof b, "detected (score %.2f, the only face)", w.score);
  else if (w.index == 1)
    std::snprintf(b, sizeof b, "detected (score %.2f, the largest of %d faces)", w.score, w.found);
  else
    std::snprintf(b, sizeof b, "detected (score %.2f, face %d of %d by size)", w.score, w.index, w.found);
  return b;
}

FaceBox parse_box(const std::string& text, int photo_width, int photo_height) {
  std::vector<float> v;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    float f = 0;
    try {
      f = std::stof(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    FF_CHECK(used > 0 && item.find_first_not_of(" \t", used) == std::string::npos && std::isfinite(f),
             "--box: '", text, "' is not x,y,w,h (four numbers separated by commas)");
    v.push_back(f);
  }
  FF_CHECK(v.size() == 4, "--box: '", text, "' is not x,y,w,h (four numbers separated by commas)");
  FF_CHECK(v[2] > 0 && v[3] > 0, "--box: width and height must be positive, got ", v[2], "x", v[3]);
  FF_CHECK(v[0] < photo_width && v[1] < photo_height && v[0] + v[2] > 0 && v[1] + v[3] > 0, "--box: ", text,
           " lies outside the ", photo_width, "x", photo_height, " photo");
  return {v[0], v[1], v[2], v[3]};
}

std::vector<std::string> list_images(const std::string& dir) {
  FF_CHECK(fs::is_directory(dir), "no such folder: ", dir);
  static const char* kExt[] = {".png", ".jpg", ".jpeg"};  // the formats load_image reads
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    for (const char* k : kExt)
      if (ext == k) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  FF_CHECK(!out.empty(), "no images (png, jpg, jpeg) in ", dir);
  return out;
}

// ---------------------------------------------------------------- models
namespace {
LoadedModel load_kind(const std::string& path, const std::string& kind, const char* what) {
  FF_CHECK(fs::is_regular_file(path), "no such model file: ", path);
  LoadedModel lm = load_model(path);
  FF_CHECK(lm.kind == kind, path, " holds a model of kind '", lm.kind, "', not ", what);
  lm.to(Device::cpu());
  lm.eval();
  return lm;
}
}  // namespace

LandmarkModel load_landmark_model(const std::string& path) {
  LandmarkModel m;
  m.path = path;
  m.loaded = load_kind(path, "hourglass", "a landmark model (hourglass)");
  m.net = &m.loaded.hourglass();
  FF_CHECK(m.net->config().landmarks == 5, path, ": the hourglass predicts ", m.net->config().landmarks,
           " landmarks; the pipeline needs 5");
  m.framing = framing_from_metadata(m.loaded.meta);
  m.decode = decode_from_metadata(m.loaded.meta);
  return m;
}

EmbeddingModel load_embedding_model(const std::string& path) {
  EmbeddingModel m;
  m.path = path;
  m.loaded = load_kind(path, "embedding", "an embedding model");
  m.net = &m.loaded.embedding();
  m.input_size = m.net->config().resnet.input_size;
  m.dim = m.net->config().embedding_dim;
  return m;
}

std::string default_landmark_model() {
  const std::string p = "demo_out/landmarks/best.safetensors";
  FF_CHECK(fs::is_regular_file(p), "no landmark model: give --landmarks-model FILE (RUN/best.safetensors of "
           "`faceforge train-landmarks`), or run `faceforge demo`, which writes ", p);
  return p;
}

// ---------------------------------------------------------------- stages
std::vector<AlignedFace> align_faces(LandmarkModel& lmk, const std::vector<Image>& photos,
                                     const std::vector<std::string>& names,
                                     const std::vector<FaceLocation>& faces, int64_t size) {
  FF_CHECK(photos.size() == names.size() && photos.size() == faces.size(), "align_faces: ", photos.size(),
           " photos, ", names.size(), " names, ", faces.size(), " face locations");
  FF_CHECK(size >= 16 && size <= 1024, "align_faces: --size must be in [16, 1024], got ", size);
  std::vector<AlignedFace> out(photos.size());
  std::vector<const Image*> ptrs;
  std::vector<FaceBox> used;
  for (size_t i = 0; i < photos.size(); ++i) {
    AlignedFace& f = out[i];
    f.name = names[i];
    f.photo = photos[i].channels == 3 ? photos[i] : to_channels(photos[i], 3);
    f.where = faces[i];
    f.box = faces[i].box;
    FF_CHECK(f.box.width > 0 && f.box.height > 0, "align_faces: ", f.name, ": empty face box");
    used.push_back(f.box);
  }
  for (const AlignedFace& f : out) ptrs.push_back(&f.photo);
  std::vector<Landmarks5> pts = predict_landmarks(*lmk.net, ptrs, used, lmk.framing, lmk.decode, Device::cpu());
  for (size_t i = 0; i < out.size(); ++i) {
    AlignedFace& f = out[i];
    f.landmarks = pts[i];
    const Affine2 c = face_crop_matrix(f.box, lmk.framing, f.name);
    f.crop_scale = lmk.framing.crop_scale;
    f.crop = warp_image(f.photo, c, lmk.framing.input_size, lmk.framing.input_size);
    for (int k = 0; k < 5; ++k) f.crop_landmarks[k] = apply_affine(c, f.landmarks[k]);
    f.align_matrix = alignment_matrix(f.landmarks, size, false, f.name);
    f.aligned = warp_image(f.photo, f.align_matrix, size, size);
  }
  return out;
}

Tensor embed_photos(EmbeddingModel& emb, const std::vector<const Image*>& photos,
                    const std::vector<Landmarks5>& landmarks, int64_t batch) {
  FF_CHECK(photos.size() == landmarks.size(), "embed_photos: ", photos.size(), " photos but ", landmarks.size(),
           " landmark sets");
  FF_CHECK(batch > 0, "embed_photos: batch must be positive, got ", batch);
  emb.net->eval();
  NoGradGuard no_grad;
  const int64_t S = emb.input_size, n = static_cast<int64_t>(photos.size()), D = emb.dim;
  FaceEmbeddings fe{Tensor::empty({n, D}), Tensor::empty({n, D})};
  for (int64_t b0 = 0; b0 < n; b0 += batch) {
    const int64_t bn = std::min(batch, n - b0);
    // Rows 0..bn-1 the faces, bn..2bn-1 their mirrors: one forward for both.
    Tensor x = Tensor::empty({2 * bn, 3, S, S});
    for (int64_t i = 0; i < bn; ++i) {
      for (int flip = 0; flip < 2; ++flip) {
        Tensor face = make_eval_face(*photos[b0 + i], landmarks[b0 + i], S, flip == 1);
        std::copy(face.data<float>(), face.data<float>() + 3 * S * S,
                  x.data<float>() + (flip * bn + i) * 3 * S * S);
      }
    }
    std::vector<float> e = emb.net->forward(x).cpu().to_vector<float>();
    std::copy(e.begin(), e.begin() + bn * D, fe.plain.data<float>() + b0 * D);
    std::copy(e.begin() + bn * D, e.end(), fe.flipped.data<float>() + b0 * D);
  }
  return flip_tta_embeddings(fe);
}

// ---------------------------------------------------------------- verification
VerifyResult verify_faces(FaceDetector* detector, LandmarkModel& lmk, EmbeddingModel& emb, const Image& a,
                          const Image& b, const std::string& name_a, const std::string& name_b,
                          std::optional<FaceBox> box_a, std::optional<FaceBox> box_b, double threshold, int face_a,
                          int face_b) {
  const auto t0 = std::chrono::steady_clock::now();
  FaceLocation la = locate_face(detector, a, name_a, box_a, face_a);
  FaceLocation lb = locate_face(detector, b, name_b, box_b, face_b);
  const double detect_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<AlignedFace> f = align_faces(lmk, {a, b}, {name_a, name_b}, {la, lb}, emb.input_size);
  Tensor e = embed_photos(emb, {&f[0].photo, &f[1].photo}, {f[0].landmarks, f[1].landmarks});
  std::vector<float> v = e.to_vector<float>();
  const int64_t D = e.size(1);
  double dot = 0;
  for (int64_t k = 0; k < D; ++k) dot += static_cast<double>(v[k]) * v[D + k];
  VerifyResult r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.detect_seconds = detect_seconds;
  r.a = std::move(f[0]);
  r.b = std::move(f[1]);
  r.cosine = dot;
  r.threshold = threshold;
  r.same = dot >= threshold;
  return r;
}

namespace {
// Resizes by one bilinear warp so the longer side becomes `side` (the shorter keeps the aspect).
Image resize_to(const Image& img, int side, double* scale) {
  const double s = static_cast<double>(side) / std::max(img.width, img.height);
  const int w = std::max(1, static_cast<int>(std::lround(img.width * s)));
  const int h = std::max(1, static_cast<int>(std::lround(img.height * s)));
  // pixel centres: p' = s (p + 0.5) - 0.5
  Tensor m = Tensor::from_vector<float>({static_cast<float>(s), 0.f, static_cast<float>(0.5 * s - 0.5), 0.f,
                                         static_cast<float>(s), static_cast<float>(0.5 * s - 0.5)},
                                        {1, 2, 3});
  Tensor x = image_to_tensor_hwc(img).reshape({1, img.height, img.width, img.channels});
  Tensor y = warp_affine(x, m, h, w, ImageLayout::HWC, BorderMode::Replicate);
  *scale = s;
  return image_from_tensor_hwc(y.reshape({h, w, img.channels}));
}

const Color kBox{40, 200, 40}, kCrop{250, 200, 40}, kPoint{230, 40, 40}, kTemplate{40, 120, 250};

// One row of the figure: photo (box, crop square, landmarks), crop (landmarks), aligned (template).
std::vector<Image> face_panels(const AlignedFace& f, int side, const std::vector<std::array<double, 2>>& tmpl,
                               double crop_scale) {
  double s = 1;
  Image photo = resize_to(f.photo, side, &s);
  auto tx = [&](double v) { return s * (v + 0.5) - 0.5; };
  const double x0 = f.box.x, y0 = f.box.y, x1 = f.box.x + f.box.width - 1, y1 = f.box.y + f.box.height - 1;
  const double cx = (x0 + x1) / 2, cy = (y0 + y1) / 2, half = crop_scale * std::max(f.box.width, f.box.height) / 2;
  {
    Canvas c(photo);
    c.rect(tx(x0), tx(y0), tx(x1), tx(y1), kBox, 2);
    c.rect(tx(cx - half), tx(cy - half), tx(cx + half), tx(cy + half), kCrop, 1.5);
    for (const Point2& p : f.landmarks) c.disc(tx(p.x), tx(p.y), 3, kPoint);
  }
  double cs = 1;
  Image crop = resize_to(f.crop, side, &cs);
  {
    Canvas c(crop);
    for (const Point2& p : f.crop_landmarks) c.disc(cs * (p.x + 0.5) - 0.5, cs * (p.y + 0.5) - 0.5, 3, kPoint);
  }
  double as = 1;
  Image aligned = resize_to(f.aligned, side, &as);
  {
    Canvas c(aligned);
    for (const auto& p : tmpl)
      c.marker(as * (p[0] + 0.5) - 0.5, as * (p[1] + 0.5) - 0.5, kTemplate, Marker::Plus, 5, 1.5);
  }
  return {photo, crop, aligned};
}
}  // namespace

Image verify_report_image(const VerifyResult& r) {
  const int side = 200;
  std::vector<std::array<double, 2>> tmpl = embed_template(r.a.aligned.width);
  std::vector<Image> panels;
  std::vector<std::string> captions;
  for (const AlignedFace* f : {&r.a, &r.b}) {
    std::vector<Image> p = face_panels(*f, side, tmpl, f->crop_scale);
    panels.insert(panels.end(), p.begin(), p.end());
    std::string label = f->name.size() > 22 ? "..." + f->name.substr(f->name.size() - 19) : f->name;
    captions.push_back(label);
    captions.push_back(f->where.box_given ? "crop of the given box" : describe_location(f->where));
    captions.push_back("aligned " + std::to_string(f->aligned.width) + " px");
  }
  Image grid = montage(panels, captions, 3, 8, {255, 255, 255}, 13);
  char line[160];
  std::snprintf(line, sizeof line, "cosine %.3f %s %.2f: %s", r.cosine, r.same ? "\u2265" : "<", r.threshold,
                r.same ? "SAME person" : "DIFFERENT people");
  const std::string legend = "green: face box   yellow: landmark crop   red: predicted landmarks   blue: template";
  const double legend_size = 12, line_size = 22;
  const int head = text_height(legend, legend_size) + 8;
  const int foot = text_height(line, line_size) + 14;
  Image out(grid.width, head + grid.height + foot, 3, 255);
  for (int y = 0; y < grid.height; ++y)
    std::copy(grid.data() + static_cast<size_t>(y) * grid.width * 3,
              grid.data() + static_cast<size_t>(y + 1) * grid.width * 3,
              out.data() + static_cast<size_t>(y + head) * out.width * 3);
  const Color c = r.same ? Color{20, 140, 20} : Color{190, 30, 30};
  {
    Canvas canvas(out);
    canvas.text(std::max(4, (out.width - text_width(line, line_size)) / 2), head + grid.height + 4, line, c, line_size);
    canvas.text(std::max(4, (out.width - text_width(legend, legend_size)) / 2), 5, legend, {90, 90, 90}, legend_size);
  }
  return out;
}

// ---------------------------------------------------------------- the embeddings file
std::string json_string_array(const std::vector<std::string>& items) {
  std::string s = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) s += ",";
    s += '"';
    for (unsigned char c : items[i]) {
      if (c == '"' || c == '\\') {
        s += '\\';
        s += static_cast<char>(c);
      } else if (c < 0x20) {
        char b[8];
        std::snprintf(b, sizeof b, "\\u%04x", c);
        s += b;
      } else {
        s += static_cast<char>(c);
      }
    }
    s += '"';
  }
  return s + "]";
}

std::vector<std::string> parse_json_string_array(const std::string& t) {
  std::vector<std::string> out;
  size_t i = 0;
  auto ws = [&] {
    while (i < t.size() && std::isspace(static_cast<unsigned char>(t[i]))) ++i;
  };
  auto fail = [&]() { FF_FAIL("names metadata: not a JSON array of strings at offset ", i); };
  ws();
  if (i >= t.size() || t[i] != '[') fail();
  ++i;
  ws();
  if (i < t.size() && t[i] == ']') return out;
  while (true) {
    ws();
    if (i >= t.size() || t[i] != '"') fail();
    ++i;
    std::string s;
    while (i < t.size() && t[i] != '"') {
      if (t[i] == '\\') {
        if (++i >= t.size()) fail();
        const char e = t[i];
        if (e == 'u') {
          if (i + 4 >= t.size()) fail();
          for (size_t k = 1; k <= 4; ++k)
            if (!std::isxdigit(static_cast<unsigned char>(t[i + k]))) fail();
          const unsigned cp = static_cast<unsigned>(std::stoul(t.substr(i + 1, 4), nullptr, 16));
          // Only what we write (control characters) and the BMP as UTF-8.
          if (cp < 0x80) {
            s += static_cast<char>(cp);
          } else if (cp < 0x800) {
            s += static_cast<char>(0xC0 | (cp >> 6));
            s += static_cast<char>(0x80 | (cp & 0x3F));
          } else {
            s += static_cast<char>(0xE0 | (cp >> 12));
            s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            s += static_cast<char>(0x80 | (cp & 0x3F));
          }
          i += 4;
        } else {
          const char* from = "\"\\/bfnrt";
          const char* to = "\"\\/\b\f\n\r\t";
          const char* p = std::strchr(from, e);
          if (!p || !*p) fail();
          s += to[p - from];
        }
      } else {
        s += t[i];
      }
      ++i;
    }
    if (i >= t.size()) fail();
    ++i;
    out.push_back(std::move(s));
    ws();
    if (i < t.size() && t[i] == ',') {
      ++i;
      continue;
    }
    if (i < t.size() && t[i] == ']') break;
    fail();
  }
  return out;
}

void write_embeddings(const std::string& path, const std::vector<std::string>& names, const Tensor& embeddings,
                      const std::map<std::string, std::string>& extra_meta) {
  FF_CHECK(embeddings.dim() == 2 && embeddings.dtype() == DType::F32 &&
               embeddings.size(0) == static_cast<int64_t>(names.size()),
           "write_embeddings: needs float32 [N, D] with N = ", names.size(), " names, got ", embeddings.str());
  std::map<std::string, std::string> meta = extra_meta;
  meta["format"] = "faceforge-embeddings-1";
  meta["names"] = json_string_array(names);
  meta["dim"] = std::to_string(embeddings.size(1));
  meta["count"] = std::to_string(embeddings.size(0));
  write_safetensors(path, {{"embeddings", embeddings.cpu()}}, meta);
}

EmbeddingsFile read_embeddings(const std::string& path) {
  FF_CHECK(fs::is_regular_file(path), "no such embeddings file: ", path);
  SafeTensors st = read_safetensors(path);
  auto f = st.metadata.find("format");
  FF_CHECK(f != st.metadata.end() && f->second == "faceforge-embeddings-1", path,
           " is not a faceforge embeddings file (no format metadata)");
  EmbeddingsFile out;
  out.meta = st.metadata;
  out.embeddings = st.at("embeddings");
  out.names = parse_json_string_array(st.metadata.at("names"));
  FF_CHECK(out.embeddings.dim() == 2 && out.embeddings.size(0) == static_cast<int64_t>(out.names.size()), path,
           ": ", out.names.size(), " names for embeddings ", out.embeddings.str());
  return out;
}

}  // namespace ff
