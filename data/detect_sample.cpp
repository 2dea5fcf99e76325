// data/detect_sample.cpp — the detector's photos (CelebA folders or faces.json folders) and its
// augmented samples: one uint8 warp per photo drawn (area pre-filter when shrinking a lot),
// paddings, mosaics, face-free pictures, colour jitter (see detect_sample.h).
#include "data/detect_sample.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <utility>

#include "data/geometry.h"
#include "engine/error.h"

namespace ff {

namespace fs = std::filesystem;

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr std::array<std::pair<int, int>, 2> kFlipPairs = {{{kLeftEye, kRightEye}, {kLeftMouth, kRightMouth}}};

double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  FF_CHECK(f.good(), "load_detect_source: cannot open ", path);
  std::vector<uint8_t> out((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  FF_CHECK(!out.empty(), "load_detect_source: ", path, " is empty");
  return out;
}

}  // namespace

// ---------------------------------------------------------------- the photos
Image DetectSource::image(int64_t i) const {
  FF_CHECK(i >= 0 && i < size(), "DetectSource::image: photo ", i, " out of range (", size(), " photos in ", root, ")");
  if (!decoded.empty()) return decoded[i];
  if (!encoded.empty()) return decode_image(encoded[i].data(), encoded[i].size(), photos[i].path, 3);
  return load_image(photos[i].path, 3);
}

DetectSource load_detect_source(const std::string& dir, const DetectSourceOptions& opt) {
  const fs::path root(dir);
  FF_CHECK(fs::is_directory(root), "load_detect_source: ", dir, " is not a folder");
  DetectSource src;
  src.root = dir;
  std::vector<DetectPhoto> photos;
  if (fs::is_regular_file(root / "faces.json")) {
    src.format = "faces.json";
    DetectionsFile df = read_detections((root / "faces.json").string());
    const ImageFolder images((fs::is_directory(root / "img_celeba") ? root / "img_celeba" : root).string());
    bool all_marks = true;
    size_t nfaces = 0;
    for (PhotoDetections& p : df.photos) {
      DetectPhoto d;
      d.file = p.file;
      d.path = images.path_of(p.file, (root / "faces.json").string(), 0);
      d.faces = std::move(p.faces);
      for (FaceDetection& f : d.faces) {
        all_marks = all_marks && f.has_landmarks;
        f.score = 1;
        ++nfaces;
      }
      photos.push_back(std::move(d));
    }
    src.has_landmarks = all_marks && nfaces > 0;
  } else if (fs::is_regular_file(root / "list_bbox_celeba.txt")) {
    src.format = "celeba";
    std::vector<BoxRow> boxes = read_boxes((root / "list_bbox_celeba.txt").string());
    std::map<std::string, Landmarks5> marks;
    const fs::path lm = root / "list_landmarks_celeba.txt";
    src.has_landmarks = fs::is_regular_file(lm);
    if (src.has_landmarks)
      for (LandmarkRow& r : read_landmarks(lm.string())) marks[r.file] = r.points;
    const ImageFolder images((root / "img_celeba").string());
    for (const BoxRow& b : boxes) {
      DetectPhoto d;
      d.file = b.file;
      d.path = images.path_of(b.file, (root / "list_bbox_celeba.txt").string(), b.line);
      FaceDetection f;
      f.box = b.box;
      f.score = 1;
      if (src.has_landmarks) {
        auto it = marks.find(b.file);
        if (it == marks.end()) continue;
        f.has_landmarks = true;
        f.landmarks = it->second;
      }
      d.faces.push_back(f);
      photos.push_back(std::move(d));
    }
  } else {
    FF_FAIL("load_detect_source: ", dir, " holds neither faces.json nor list_bbox_celeba.txt");
  }
  const fs::path part = root / "list_eval_partition.txt";
  if (fs::is_regular_file(part)) {
    std::map<std::string, int> pm;
    for (const PartitionRow& r : read_partitions(part.string())) pm[r.file] = r.partition;
    std::vector<DetectPhoto> kept;
    for (DetectPhoto& p : photos) {
      auto it = pm.find(p.file);
      if (it == pm.end()) continue;
      p.partition = it->second;
      kept.push_back(std::move(p));
    }
    photos = std::move(kept);
  }
  for (DetectPhoto& p : photos) {
    if (opt.partition >= 0 && p.partition != opt.partition) continue;
    if (opt.limit > 0 && src.size() >= opt.limit) break;
    src.photos.push_back(std::move(p));
  }
  FF_CHECK(!src.photos.empty(), "load_detect_source: no photos in ", dir,
           opt.partition >= 0 ? " in partition " + std::to_string(opt.partition) : std::string());
  const int64_t n = src.size();
  std::vector<std::string> errors(n);
  if (opt.cache == DetectCache::Encoded) src.encoded.resize(n);
  if (opt.cache == DetectCache::Decoded) src.decoded.resize(n);
  if (opt.cache != DetectCache::None) {
#pragma omp parallel for schedule(dynamic, 16)
    for (int64_t i = 0; i < n; ++i) {
      try {
        if (opt.cache == DetectCache::Encoded) {
          src.encoded[i] = read_bytes(src.photos[i].path);
        } else {
          src.decoded[i] = load_image(src.photos[i].path, 3);
        }
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    }
    for (const std::string& e : errors)
      if (!e.empty()) throw Error(e);
  }
  return src;
}

// ---------------------------------------------------------------- drawing helpers
namespace {

struct Rect {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // [x0, x1) x [y0, y1)
  int w() const { return x1 - x0; }
  int h() const { return y1 - y0; }
};

// Averages f x f blocks (the last block of a row or column covers what is left). Pixel i of the
// result is centred on source coordinate f i + (f - 1) / 2.
Image area_downscale(const Image& src, int f) {
  const int w = (src.width + f - 1) / f, h = (src.height + f - 1) / f;
  Image out(w, h, 3);
  std::vector<uint32_t> acc(static_cast<size_t>(w) * 3);
  std::vector<uint32_t> cnt(w);
  for (int by = 0; by < h; ++by) {
    std::fill(acc.begin(), acc.end(), 0u);
    std::fill(cnt.begin(), cnt.end(), 0u);
    for (int y = by * f; y < std::min(src.height, by * f + f); ++y) {
      const uint8_t* row = src.data() + static_cast<size_t>(y) * src.width * 3;
      for (int x = 0; x < src.width; ++x) {
        const int bx = x / f;
        acc[bx * 3] += row[x * 3];
        acc[bx * 3 + 1] += row[x * 3 + 1];
        acc[bx * 3 + 2] += row[x * 3 + 2];
        ++cnt[bx];
      }
    }
    uint8_t* o = out.data() + static_cast<size_t>(by) * w * 3;
    for (int bx = 0; bx < w; ++bx)
      for (int c = 0; c < 3; ++c) o[bx * 3 + c] = static_cast<uint8_t>((acc[bx * 3 + c] + cnt[bx] / 2) / cnt[bx]);
  }
  return out;
}

double affine_scale(const Affine2& m) { return std::sqrt(std::fabs(m.m[0][0] * m.m[1][1] - m.m[0][1] * m.m[1][0])); }

// Draws `photo` mapped by m (photo pixels -> dst pixels) into the tile of dst. replicate: every
// tile pixel is drawn, clamping outside the photo (cv2's BORDER_REPLICATE); otherwise pixels the
// photo does not reach keep what dst holds, and the photo's edge blends in over `feather` dst px.
// Shrinking by 2x or more averages whole-pixel blocks of the photo first.
void draw_photo(Image& dst, const Rect& tile, const Image& photo, Affine2 m, bool replicate, double feather) {
  const Image* p = &photo;
  Image small;
  const double k = affine_scale(m);
  const int f = k > 0 ? static_cast<int>(std::floor(1.0 / k)) : 1;
  if (f >= 2) {
    small = area_downscale(photo, f);
    p = &small;
    m = compose(m, Affine2{{{double(f), 0, (f - 1) / 2.0}, {0, double(f), (f - 1) / 2.0}}});
  }
  const Affine2 inv = invert(m);
  const double kk = affine_scale(m);  // dst px per source px
  const int W = p->width, H = p->height;
  const uint8_t* s = p->data();
  for (int y = tile.y0; y < tile.y1; ++y) {
    uint8_t* row = dst.data() + (static_cast<size_t>(y) * dst.width) * 3;
    for (int x = tile.x0; x < tile.x1; ++x) {
      double sx = inv.m[0][0] * x + inv.m[0][1] * y + inv.m[0][2];
      double sy = inv.m[1][0] * x + inv.m[1][1] * y + inv.m[1][2];
      double alpha = 1;
      if (!replicate) {
        double d = std::min(std::min(sx + 0.5, W - 0.5 - sx), std::min(sy + 0.5, H - 0.5 - sy));
        if (d <= 0) continue;
        if (feather > 0) alpha = std::min(1.0, d * kk / feather);
      }
      sx = clampd(sx, 0, W - 1);
      sy = clampd(sy, 0, H - 1);
      const int ix = std::min(static_cast<int>(sx), W - 2 < 0 ? 0 : W - 2);
      const int iy = std::min(static_cast<int>(sy), H - 2 < 0 ? 0 : H - 2);
      const double fx = W > 1 ? sx - ix : 0, fy = H > 1 ? sy - iy : 0;
      const int ix1 = W > 1 ? ix + 1 : ix, iy1 = H > 1 ? iy + 1 : iy;
      const uint8_t* a = s + (static_cast<size_t>(iy) * W + ix) * 3;
      const uint8_t* b = s + (static_cast<size_t>(iy) * W + ix1) * 3;
      const uint8_t* c = s + (static_cast<size_t>(iy1) * W + ix) * 3;
      const uint8_t* d = s + (static_cast<size_t>(iy1) * W + ix1) * 3;
      uint8_t* o = row + x * 3;
      for (int ch = 0; ch < 3; ++ch) {
        double v = (1 - fy) * ((1 - fx) * a[ch] + fx * b[ch]) + fy * ((1 - fx) * c[ch] + fx * d[ch]);
        if (alpha < 1) v = alpha * v + (1 - alpha) * o[ch];
        o[ch] = static_cast<uint8_t>(v + 0.5);
      }
    }
  }
}

void fill_rect(Image& dst, const Rect& r, const double rgb[3]) {
  for (int y = r.y0; y < r.y1; ++y)
    for (int x = r.x0; x < r.x1; ++x)
      for (int c = 0; c < 3; ++c) dst.at(x, y, c) = static_cast<uint8_t>(clampd(rgb[c], 0, 255) + 0.5);
}

void mean_colour(const Image& im, double out[3]) {
  double s[3] = {0, 0, 0};
  const size_t n = static_cast<size_t>(im.width) * im.height;
  for (size_t i = 0; i < n; ++i)
    for (int c = 0; c < 3; ++c) s[c] += im.pixels[i * 3 + c];
  for (int c = 0; c < 3; ++c) out[c] = n ? s[c] / n : 128;
}

// A rectangle of a photo (photo pixels, [x0, x1) x [y0, y1)) of about `aspect` = width / height
// that overlaps no face box grown by 15% on each side (hair, ears and neck may show; eyes, nose
// and mouth not): first 12 random tries, then the largest piece of one of the bands left,
// right, above and below all the faces (chosen by area); false when all are under 8 px.
bool face_free_crop(const DetectPhoto& info, int W, int H, double aspect, Rng& rng, Rect* out) {
  auto grown = [](const FaceBox& b) {
    const double gx = 0.15 * b.width, gy = 0.15 * b.height;
    return std::array<double, 4>{b.x - gx, b.y - gy, b.x + b.width + gx, b.y + b.height + gy};
  };
  for (int t = 0; t < 12; ++t) {
    double frac = rng.uniform(0.1, 0.6);
    double cw = frac * W, ch = cw / aspect;
    if (ch > H) {
      ch = frac * H;
      cw = ch * aspect;
    }
    if (cw < 8 || ch < 8 || cw > W || ch > H) continue;
    double x0 = rng.uniform(0, W - cw), y0 = rng.uniform(0, H - ch);
    bool clear = true;
    for (const FaceDetection& f : info.faces) {
      const auto g = grown(f.box);
      if (x0 < g[2] && x0 + cw > g[0] && y0 < g[3] && y0 + ch > g[1]) {
        clear = false;
        break;
      }
    }
    if (!clear) continue;
    *out = {static_cast<int>(x0), static_cast<int>(y0), static_cast<int>(x0 + cw), static_cast<int>(y0 + ch)};
    if (out->w() >= 8 && out->h() >= 8) return true;
  }
  if (info.faces.empty()) return false;
  double ux0 = 1e30, uy0 = 1e30, ux1 = -1e30, uy1 = -1e30;
  for (const FaceDetection& f : info.faces) {
    const auto g = grown(f.box);
    ux0 = std::min(ux0, g[0]);
    uy0 = std::min(uy0, g[1]);
    ux1 = std::max(ux1, g[2]);
    uy1 = std::max(uy1, g[3]);
  }
  // Whole pixels strictly outside the faces' union.
  const int lx = static_cast<int>(std::floor(clampd(ux0, 0, W))), rx = static_cast<int>(std::ceil(clampd(ux1, 0, W)));
  const int ty = static_cast<int>(std::floor(clampd(uy0, 0, H))), by = static_cast<int>(std::ceil(clampd(uy1, 0, H)));
  const Rect bands[4] = {{0, 0, lx, H}, {rx, 0, W, H}, {0, 0, W, ty}, {0, by, W, H}};
  double area[4], total = 0;
  for (int i = 0; i < 4; ++i) total += area[i] = (bands[i].w() >= 8 && bands[i].h() >= 8) ? double(bands[i].w()) * bands[i].h() : 0;
  if (total <= 0) return false;
  double u = rng.uniform(0, total);
  int bi = 0;
  while (bi < 3 && u >= area[bi]) u -= area[bi++];
  if (area[bi] <= 0) return false;
  const Rect& b = bands[bi];
  const double scale = rng.uniform(0.6, 1.0);
  double ch = std::min<double>(b.h(), b.w() / aspect) * scale, cw = std::min<double>(b.w(), ch * aspect);
  if (cw < 8 || ch < 8) return false;
  const double x0 = b.x0 + rng.uniform(0, b.w() - cw), y0 = b.y0 + rng.uniform(0, b.h() - ch);
  *out = {static_cast<int>(x0), static_cast<int>(y0), static_cast<int>(x0 + cw), static_cast<int>(y0 + ch)};
  return out->w() >= 8 && out->h() >= 8;
}

// The map taking the pixels of crop c (of a photo) onto the whole tile, mirrored when flip.
Affine2 crop_to_tile(const Rect& c, const Rect& tile, bool flip) {
  const double sx = static_cast<double>(tile.w()) / c.w(), sy = static_cast<double>(tile.h()) / c.h();
  // Extent [c.x0 - 0.5, c.x1 - 0.5] onto [tile.x0 - 0.5, tile.x1 - 0.5].
  double a = sx, b = tile.x0 - 0.5 - (c.x0 - 0.5) * sx;
  if (flip) {
    a = -sx;
    b = tile.x1 - 0.5 + (c.x0 - 0.5) * sx;
  }
  return Affine2{{{a, 0, b}, {0, sy, tile.y0 - 0.5 - (c.y0 - 0.5) * sy}}};
}

// Torchvision's brightness, contrast, saturation on the tile's pixels.
void jitter_tile(Image& im, const Rect& r, const DetectAugment& o, Rng& rng) {
  auto factor = [&rng](double s) { return s > 0 ? rng.uniform(std::max(0.0, 1.0 - s), 1.0 + s) : 1.0; };
  const double b = factor(o.brightness), c = factor(o.contrast), s = factor(o.saturation);
  if (b == 1.0 && c == 1.0 && s == 1.0) return;
  const size_t n = static_cast<size_t>(r.w()) * r.h();
  std::vector<float> v(n * 3);
  size_t i = 0;
  for (int y = r.y0; y < r.y1; ++y)
    for (int x = r.x0; x < r.x1; ++x, ++i)
      for (int k = 0; k < 3; ++k) v[i * 3 + k] = std::min(255.f, static_cast<float>(im.at(x, y, k) * b));
  auto grey = [&](size_t p) { return 0.2989f * v[p * 3] + 0.587f * v[p * 3 + 1] + 0.114f * v[p * 3 + 2]; };
  if (c != 1.0) {
    double mean = 0;
    for (size_t p = 0; p < n; ++p) mean += grey(p);
    mean /= static_cast<double>(n);
    for (float& x : v) x = static_cast<float>(clampd(c * x + (1 - c) * mean, 0, 255));
  }
  if (s != 1.0)
    for (size_t p = 0; p < n; ++p) {
      const float g = grey(p);
      for (int k = 0; k < 3; ++k) v[p * 3 + k] = static_cast<float>(clampd(s * v[p * 3 + k] + (1 - s) * g, 0, 255));
    }
  i = 0;
  for (int y = r.y0; y < r.y1; ++y)
    for (int x = r.x0; x < r.x1; ++x, ++i)
      for (int k = 0; k < 3; ++k) im.at(x, y, k) = static_cast<uint8_t>(v[i * 3 + k] + 0.5f);
}

// A picture with nothing face-like: a gradient between two colours, a few flat rectangles and
// discs, and Gaussian-ish noise.
void synthetic_background(Image& im, const Rect& r, Rng& rng) {
  double c0[3], c1[3];
  for (int k = 0; k < 3; ++k) {
    c0[k] = rng.uniform(0, 255);
    c1[k] = clampd(c0[k] + rng.uniform(-120, 120), 0, 255);
  }
  const double ga = rng.uniform(0, 2 * kPi), gx = std::cos(ga), gy = std::sin(ga);
  const double L = std::max(1, std::max(r.w(), r.h()));
  for (int y = r.y0; y < r.y1; ++y)
    for (int x = r.x0; x < r.x1; ++x) {
      const double t = clampd(0.5 + (gx * (x - r.x0 - r.w() / 2.0) + gy * (y - r.y0 - r.h() / 2.0)) / L, 0, 1);
      for (int k = 0; k < 3; ++k) im.at(x, y, k) = static_cast<uint8_t>(c0[k] + t * (c1[k] - c0[k]) + 0.5);
    }
  const int shapes = static_cast<int>(rng.randint(6));
  for (int i = 0; i < shapes; ++i) {
    const double col[3] = {rng.uniform(0, 255), rng.uniform(0, 255), rng.uniform(0, 255)};
    const double cx = r.x0 + rng.uniform(0, r.w()), cy = r.y0 + rng.uniform(0, r.h());
    const double rx = rng.uniform(0.05, 0.4) * r.w(), ry = rng.uniform(0.05, 0.4) * r.h();
    const bool disc = rng.uniform() < 0.5;
    for (int y = std::max(r.y0, int(cy - ry)); y < std::min(r.y1, int(cy + ry) + 1); ++y)
      for (int x = std::max(r.x0, int(cx - rx)); x < std::min(r.x1, int(cx + rx) + 1); ++x) {
        const double u = (x - cx) / rx, v = (y - cy) / ry;
        if (disc && u * u + v * v > 1) continue;
        for (int k = 0; k < 3; ++k) im.at(x, y, k) = static_cast<uint8_t>(col[k]);
      }
  }
  const double amp = rng.uniform() < 0.5 ? rng.uniform(0, 25) : 0.0;
  if (amp > 0) {
    uint64_t state = (static_cast<uint64_t>(rng.next_u32()) << 32) | rng.next_u32();
    for (int y = r.y0; y < r.y1; ++y)
      for (int x = r.x0; x < r.x1; ++x) {
        state += 0x9E3779B97F4A7C15ull;
        const uint64_t h = splitmix64(state);
        for (int k = 0; k < 3; ++k) {
          // Sum of two 8-bit uniforms (triangular, std 0.41 of the amplitude).
          const double u = ((h >> (16 * k)) & 0xFF) + ((h >> (16 * k + 8)) & 0xFF) - 255.0;
          im.at(x, y, k) = static_cast<uint8_t>(clampd(im.at(x, y, k) + amp * u / 255.0 * 1.7, 0, 255) + 0.5);
        }
      }
  }
}

struct Builder {
  const DetectSource& src;
  const DetectAugment& o;
  Rng& rng;
  DetectSample& out;

  int64_t other_photo(int64_t not_this) {
    if (src.size() == 1) return 0;
    int64_t j = rng.randint(src.size() - 1);
    return j >= not_this ? j + 1 : j;
  }

  // A face-free crop of a random photo stretched over the tile (its aspect up to 1.6x off the
  // tile's); up to four photos are tried, then the last one's mean colour fills the tile.
  bool face_free_fill(const Rect& tile, int64_t avoid) {
    Image p;
    for (int attempt = 0; attempt < 4; ++attempt) {
      const int64_t j = other_photo(avoid);
      p = src.image(j);
      const double aspect = static_cast<double>(tile.w()) / tile.h() * std::exp(rng.uniform(-0.47, 0.47));
      Rect c;
      if (face_free_crop(src.photos[j], p.width, p.height, aspect, rng, &c)) {
        draw_photo(out.image, tile, p, crop_to_tile(c, tile, rng.uniform() < 0.5), true, 0);
        return true;
      }
    }
    double m[3];
    mean_colour(p, m);
    fill_rect(out.image, tile, m);
    return false;
  }

  // A face-free crop of a random photo pasted as a smaller, slightly turned picture with a
  // feathered edge: the seams of a zoomed-out sample, without a face.
  void paste_face_free(const Rect& tile, int64_t avoid) {
    const int64_t j = other_photo(avoid);
    const Image p = src.image(j);
    const double aspect = std::exp(rng.uniform(-0.5, 0.5));
    Rect c;
    if (!face_free_crop(src.photos[j], p.width, p.height, aspect, rng, &c)) return;
    Image crop(c.w(), c.h(), 3);
    for (int y = 0; y < c.h(); ++y)
      for (int x = 0; x < c.w(); ++x)
        for (int k = 0; k < 3; ++k) crop.at(x, y, k) = p.at(c.x0 + x, c.y0 + y, k);
    const double side = rng.uniform(0.25, 0.8) * std::min(tile.w(), tile.h());
    const double k = side / std::sqrt(double(c.w()) * c.h());
    const double angle = rng.uniform(-o.max_rotation_deg, o.max_rotation_deg) * kPi / 180.0;
    const double cx = rng.uniform(tile.x0, tile.x1 - 1), cy = rng.uniform(tile.y0, tile.y1 - 1);
    const Affine2 m = compose(Affine2::similarity(k, angle, cx, cy),
                              Affine2::translation(-(c.w() - 1) / 2.0, -(c.h() - 1) / 2.0));
    draw_photo(out.image, tile, crop, m, false, rng.uniform(0, o.max_feather));
  }

  void no_face_tile(const Rect& tile, int64_t avoid) {
    if (rng.uniform() < o.no_face_photo_fraction)
      face_free_fill(tile, avoid);
    else
      synthetic_background(out.image, tile, rng);
    if (rng.uniform() < o.no_face_paste) paste_face_free(tile, avoid);
  }

  // Maps face f of the photo into the tile and files it under faces / ignored / nowhere.
  void place_face(const FaceDetection& f, const Affine2& m, double k, bool flip, const Rect& tile) {
    FaceDetection g;
    g.score = 1;
    Point2 c = apply_affine(m, {f.box.x + f.box.width / 2.0, f.box.y + f.box.height / 2.0});
    const double w = f.box.width * k, h = f.box.height * k;
    double x0 = c.x - w / 2, y0 = c.y - h / 2, x1 = c.x + w / 2, y1 = c.y + h / 2;
    x0 = std::max<double>(x0, tile.x0);
    y0 = std::max<double>(y0, tile.y0);
    x1 = std::min<double>(x1, tile.x1 - 1);
    y1 = std::min<double>(y1, tile.y1 - 1);
    if (x1 <= x0 || y1 <= y0) return;  // entirely outside the tile
    g.box = {static_cast<float>(x0), static_cast<float>(y0), static_cast<float>(x1 - x0), static_cast<float>(y1 - y0)};
    g.has_landmarks = f.has_landmarks;
    if (f.has_landmarks) {
      for (int i = 0; i < 5; ++i) g.landmarks[i] = apply_affine(m, f.landmarks[i]);
      if (flip)
        for (auto [a, b] : kFlipPairs) std::swap(g.landmarks[a], g.landmarks[b]);
      // A point cut off by the tile's edge would point at another picture's pixels.
      for (const Point2& q : g.landmarks)
        if (!(q.x >= tile.x0 - 0.5 && q.x < tile.x1 - 0.5 && q.y >= tile.y0 - 0.5 && q.y < tile.y1 - 0.5))
          g.has_landmarks = false;
    }
    const bool centre_in = c.x >= tile.x0 - 0.5 && c.x < tile.x1 - 0.5 && c.y >= tile.y0 - 0.5 && c.y < tile.y1 - 0.5;
    const bool big = std::sqrt(w * h) >= o.min_kept_face;
    (centre_in && big ? out.faces : out.ignored).push_back(g);
  }

  // The tile shows photo `index` with one of its faces at a random size and place.
  void photo_tile(const Rect& tile, int64_t index) {
    const Image photo = src.image(index);
    const DetectPhoto& info = src.photos[index];
    // The face the size is drawn for (a photo without faces: a third of its smaller side).
    FaceBox ref{static_cast<float>(photo.width / 3.0), static_cast<float>(photo.height / 3.0),
                static_cast<float>(std::min(photo.width, photo.height) / 3.0),
                static_cast<float>(std::min(photo.width, photo.height) / 3.0)};
    if (!info.faces.empty()) ref = info.faces[rng.randint(static_cast<int64_t>(info.faces.size()))].box;
    const double ref_side = std::max(1.0, std::sqrt(std::max(1e-6, double(ref.width) * ref.height)));
    const double lo = o.min_face, hi = std::max(lo, o.max_face_fraction * std::min(tile.w(), tile.h()));
    const double side = std::exp(rng.uniform(std::log(lo), std::log(hi) + 1e-12));
    const double k = side / ref_side;
    const double angle = rng.uniform(-o.max_rotation_deg, o.max_rotation_deg) * kPi / 180.0;
    const bool flip = rng.uniform() < o.flip_probability;
    // Where the face's centre goes: anywhere that cuts at most a third of its box off.
    const double mx = std::min((tile.w() - 1) / 2.0, ref.width * k / 6.0);
    const double my = std::min((tile.h() - 1) / 2.0, ref.height * k / 6.0);
    const double cx = rng.uniform(tile.x0 + mx, tile.x1 - 1 - mx + 1e-9);
    const double cy = rng.uniform(tile.y0 + my, tile.y1 - 1 - my + 1e-9);
    const double fcx = ref.x + ref.width / 2.0, fcy = ref.y + ref.height / 2.0;
    Affine2 m = Affine2::translation(-fcx, -fcy);
    if (flip) m = compose(Affine2::scaling(-1, 1), m);
    m = compose(Affine2::similarity(k, angle, cx, cy), m);

    // The padding under the photo.
    const double u = rng.uniform();
    bool replicate = false;
    double feather = 0;
    if (u < o.pad_photo) {
      face_free_fill(tile, index);
      feather = rng.uniform(0, o.max_feather);
    } else if (u < o.pad_photo + o.pad_replicate) {
      replicate = true;
    } else {
      double mc[3];
      mean_colour(photo, mc);
      fill_rect(out.image, tile, mc);
    }
    draw_photo(out.image, tile, photo, m, replicate, feather);
    for (const FaceDetection& f : info.faces) place_face(f, m, k, flip, tile);
  }

  void tile(const Rect& r, int64_t index, double no_face_p) {
    if (rng.uniform() < no_face_p)
      no_face_tile(r, index);
    else
      photo_tile(r, index);
    jitter_tile(out.image, r, o, rng);
  }
};

}  // namespace

DetectSample make_detect_sample(const DetectSource& src, int64_t index, int size, Rng& rng, const DetectAugment& o) {
  FF_CHECK(src.size() > 0, "make_detect_sample: the source ", src.root, " has no photos");
  FF_CHECK(index >= 0 && index < src.size(), "make_detect_sample: photo ", index, " out of range (", src.size(),
           " photos)");
  FF_CHECK(size >= 32 && size <= 1024, "make_detect_sample: size must be in 32..1024, got ", size);
  FF_CHECK(o.min_face >= 1 && o.max_face_fraction > 0 && o.min_kept_face >= 0 && o.max_feather >= 0,
           "make_detect_sample: need min_face >= 1, max_face_fraction > 0, min_kept_face >= 0, max_feather >= 0");
  DetectSample s;
  s.image = Image(size, size, 3);
  Builder b{src, o, rng, s};
  const Rect whole{0, 0, size, size};
  if (rng.uniform() < o.no_face_probability) {
    b.no_face_tile(whole, index);
    jitter_tile(s.image, whole, o, rng);
  } else if (rng.uniform() < o.mosaic_probability) {
    const bool three = rng.uniform() < o.mosaic3_fraction;
    std::vector<int> xs = {0}, ys = {0};
    if (three) {
      for (double t : {1.0 / 3, 2.0 / 3}) {
        xs.push_back(static_cast<int>(std::lround(size * (t + rng.uniform(-0.07, 0.07)))));
        ys.push_back(static_cast<int>(std::lround(size * (t + rng.uniform(-0.07, 0.07)))));
      }
    } else {
      xs.push_back(static_cast<int>(std::lround(size * rng.uniform(0.3, 0.7))));
      ys.push_back(static_cast<int>(std::lround(size * rng.uniform(0.3, 0.7))));
    }
    xs.push_back(size);
    ys.push_back(size);
    bool first = true;
    for (size_t j = 0; j + 1 < ys.size(); ++j)
      for (size_t i = 0; i + 1 < xs.size(); ++i) {
        const Rect r{xs[i], ys[j], xs[i + 1], ys[j + 1]};
        const int64_t photo = first ? index : b.other_photo(index);
        b.tile(r, photo, first ? 0.0 : o.no_face_probability / 2);
        first = false;
      }
  } else {
    b.tile(whole, index, 0.0);
  }
  if (rng.uniform() < o.grayscale_probability) {
    for (size_t p = 0; p < static_cast<size_t>(size) * size; ++p) {
      uint8_t* q = s.image.data() + p * 3;
      const uint8_t g = static_cast<uint8_t>(clampd(0.299 * q[0] + 0.587 * q[1] + 0.114 * q[2] + 0.5, 0, 255));
      q[0] = q[1] = q[2] = g;
    }
  }
  return s;
}

// ---------------------------------------------------------------- eyeballing
namespace {
void put(Image& im, int x, int y, const uint8_t c[3]) {
  if (x < 0 || y < 0 || x >= im.width || y >= im.height) return;
  for (int k = 0; k < 3; ++k) im.at(x, y, k) = c[k];
}
void draw_box(Image& im, const FaceBox& b, const uint8_t c[3]) {
  const int x0 = static_cast<int>(std::lround(b.x)), y0 = static_cast<int>(std::lround(b.y));
  const int x1 = static_cast<int>(std::lround(b.x + b.width)), y1 = static_cast<int>(std::lround(b.y + b.height));
  for (int x = x0; x <= x1; ++x) {
    put(im, x, y0, c);
    put(im, x, y1, c);
  }
  for (int y = y0; y <= y1; ++y) {
    put(im, x0, y, c);
    put(im, x1, y, c);
  }
}
}  // namespace

Image detect_contact_sheet(const std::vector<DetectSample>& samples, int cols) {
  FF_CHECK(!samples.empty() && cols >= 1, "detect_contact_sheet: need samples and cols >= 1");
  int cw = 0, ch = 0;
  for (const DetectSample& s : samples) {
    cw = std::max(cw, s.image.width);
    ch = std::max(ch, s.image.height);
  }
  const int n = static_cast<int>(samples.size()), c = std::min(cols, n), r = (n + c - 1) / c, gap = 2;
  Image sheet(c * cw + (c + 1) * gap, r * ch + (r + 1) * gap, 3, 96);
  const uint8_t green[3] = {0, 255, 0}, orange[3] = {255, 150, 0};
  const uint8_t marks[5][3] = {{255, 0, 0}, {0, 90, 255}, {255, 255, 0}, {255, 0, 255}, {0, 255, 255}};
  for (int i = 0; i < n; ++i) {
    Image im = to_channels(samples[i].image, 3);
    for (const FaceDetection& f : samples[i].ignored) draw_box(im, f.box, orange);
    for (const FaceDetection& f : samples[i].faces) {
      draw_box(im, f.box, green);
      if (f.has_landmarks)
        for (int k = 0; k < 5; ++k) {
          const int x = static_cast<int>(std::lround(f.landmarks[k].x)), y = static_cast<int>(std::lround(f.landmarks[k].y));
          for (int d = -1; d <= 1; ++d) {
            put(im, x + d, y, marks[k]);
            put(im, x, y + d, marks[k]);
          }
        }
    }
    const int ox = gap + (i % c) * (cw + gap), oy = gap + (i / c) * (ch + gap);
    for (int y = 0; y < im.height; ++y)
      for (int x = 0; x < im.width; ++x)
        for (int k = 0; k < 3; ++k) sheet.at(ox + x, oy + y, k) = im.at(x, y, k);
  }
  return sheet;
}

}  // namespace ff
