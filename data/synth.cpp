// data/synth.cpp — the synthetic face generator: a small anti-aliased rasteriser (soft-edged
// ellipses by signed distance, polygons by scanlines with exact horizontal coverage), the face
// model, per-image variation, and the dataset writer.
#include "data/synth.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "engine/random.h"

namespace ff {

namespace {

constexpr double kPi = 3.14159265358979323846;

// ---------------------------------------------------------------- draws

double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }
// A normal draw clipped to [-lim, lim] standard deviations, scaled.
double clipped_normal(Rng& rng, double std, double lim) { return std * clampd(rng.normal(), -lim, lim); }

// ---------------------------------------------------------------- the canvas and the rasteriser
struct Vec2 {
  double x = 0, y = 0;
};

struct Canvas {
  int w = 0, h = 0;
  std::vector<float> rgb;  // h * w * 3, values 0..255
  Canvas(int w_, int h_) : w(w_), h(h_), rgb(static_cast<size_t>(w_) * h_ * 3, 0.f) {}
  float* px(int x, int y) { return &rgb[(static_cast<size_t>(y) * w + x) * 3]; }
};

// A colour with an optional multiplicative linear gradient: colour * (1 + g . (p - c)), which
// shades a face or a background without another pass.
struct Paint {
  float r = 0, g = 0, b = 0;
  double gx = 0, gy = 0, cx = 0, cy = 0;
  void at(double x, double y, float out[3]) const {
    float f = static_cast<float>(1.0 + gx * (x - cx) + gy * (y - cy));
    out[0] = r * f;
    out[1] = g * f;
    out[2] = b * f;
  }
};
Paint solid(const float c[3], double k = 1.0) {
  Paint p;
  p.r = static_cast<float>(c[0] * k);
  p.g = static_cast<float>(c[1] * k);
  p.b = static_cast<float>(c[2] * k);
  return p;
}
Paint solid_rgb(double r, double g, double b) {
  Paint p;
  p.r = static_cast<float>(r);
  p.g = static_cast<float>(g);
  p.b = static_cast<float>(b);
  return p;
}

inline void blend(Canvas& cv, int x, int y, const Paint& paint, float a) {
  float c[3];
  paint.at(x, y, c);
  float* d = cv.px(x, y);
  for (int k = 0; k < 3; ++k) d[k] += (c[k] - d[k]) * a;
}

// An ellipse in pixels: centre, half-axes, rotation (radians).
struct Ellipse {
  double cx = 0, cy = 0, rx = 1, ry = 1, angle = 0;
};

// Approximate signed distance in pixels from (x, y) to the ellipse's edge (negative inside):
// (k - 1) / |grad k| with k the ellipse's normalised radius; exact on circles, close elsewhere.
inline double ellipse_distance(const Ellipse& e, double ca, double sa, double x, double y) {
  double dx = x - e.cx, dy = y - e.cy;
  double u = ca * dx + sa * dy, v = -sa * dx + ca * dy;
  double qu = u / e.rx, qv = v / e.ry;
  double k = std::sqrt(qu * qu + qv * qv);
  if (k < 1e-9) return -std::min(e.rx, e.ry);
  double gu = qu / e.rx, gv = qv / e.ry;
  double grad = std::sqrt(gu * gu + gv * gv) / k;
  return (k - 1.0) / grad;
}

// Fills an ellipse with coverage clamp(0.5 - d / soft): soft = 1 is a crisp anti-aliased edge,
// larger values a blurred one. An optional clip ellipse multiplies the coverage (an iris inside
// the eye's white).
void fill_ellipse(Canvas& cv, const Ellipse& e, const Paint& paint, double alpha, double soft = 1.0,
                  const Ellipse* clip = nullptr) {
  if (e.rx <= 0.05 || e.ry <= 0.05 || alpha <= 0) return;
  soft = std::max(soft, 1.0);
  double reach = std::max(e.rx, e.ry) + soft;
  int x0 = std::max(0, static_cast<int>(std::floor(e.cx - reach)));
  int x1 = std::min(cv.w - 1, static_cast<int>(std::ceil(e.cx + reach)));
  int y0 = std::max(0, static_cast<int>(std::floor(e.cy - reach)));
  int y1 = std::min(cv.h - 1, static_cast<int>(std::ceil(e.cy + reach)));
  double ca = std::cos(e.angle), sa = std::sin(e.angle);
  double cca = clip ? std::cos(clip->angle) : 1, csa = clip ? std::sin(clip->angle) : 0;
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) {
      double cov = clampd(0.5 - ellipse_distance(e, ca, sa, x, y) / soft, 0, 1);
      if (cov <= 0) continue;
      if (clip) cov *= clampd(0.5 - ellipse_distance(*clip, cca, csa, x, y), 0, 1);
      if (cov > 0) blend(cv, x, y, paint, static_cast<float>(alpha * cov));
    }
}

// Fills a set of closed contours with the non-zero winding rule (so a ring is an outer contour
// plus a reversed inner one). Coverage: kSub sub-scanlines per pixel row, each contributing the
// exact overlap of its inside spans with the pixel's [x - 0.5, x + 0.5].
void fill_polygon(Canvas& cv, const std::vector<std::vector<Vec2>>& contours, const Paint& paint,
                  double alpha) {
  constexpr int kSub = 5;
  if (alpha <= 0) return;
  double ymin = 1e30, ymax = -1e30;
  for (const auto& c : contours)
    for (const Vec2& p : c) {
      ymin = std::min(ymin, p.y);
      ymax = std::max(ymax, p.y);
    }
  int y0 = std::max(0, static_cast<int>(std::floor(ymin)));
  int y1 = std::min(cv.h - 1, static_cast<int>(std::ceil(ymax)));
  std::vector<float> cover(cv.w);
  std::vector<std::pair<double, int>> xs;  // crossing x, direction
  for (int y = y0; y <= y1; ++y) {
    int lo = cv.w, hi = -1;
    for (int s = 0; s < kSub; ++s) {
      double sy = y - 0.5 + (s + 0.5) / kSub;
      xs.clear();
      for (const auto& c : contours) {
        size_t n = c.size();
        for (size_t i = 0; i < n; ++i) {
          const Vec2& a = c[i];
          const Vec2& b = c[(i + 1) % n];
          if ((a.y <= sy) == (b.y <= sy)) continue;  // half-open rule: no double counting at vertices
          double t = (sy - a.y) / (b.y - a.y);
          xs.emplace_back(a.x + t * (b.x - a.x), b.y > a.y ? 1 : -1);
        }
      }
      if (xs.size() < 2) continue;
      std::sort(xs.begin(), xs.end());
      int wind = 0;
      for (size_t i = 0; i + 1 < xs.size(); ++i) {
        wind += xs[i].second;
        if (wind == 0) continue;
        double xa = std::max(xs[i].first, -0.5), xb = std::min(xs[i + 1].first, cv.w - 0.5);
        if (xb <= xa) continue;
        int ia = static_cast<int>(std::floor(xa + 0.5)), ib = std::min(cv.w - 1, static_cast<int>(std::floor(xb + 0.5)));
        for (int px = ia; px <= ib; ++px) {
          double ov = std::min(xb, px + 0.5) - std::max(xa, px - 0.5);
          if (ov > 0) cover[px] += static_cast<float>(ov / kSub);
        }
        lo = std::min(lo, ia);
        hi = std::max(hi, ib);
      }
    }
    for (int x = lo; x <= hi; ++x) {
      if (cover[x] > 0) blend(cv, x, y, paint, static_cast<float>(alpha * std::min(cover[x], 1.0f)));
      cover[x] = 0;
    }
  }
}

void fill_polygon(Canvas& cv, const std::vector<Vec2>& contour, const Paint& paint, double alpha) {
  fill_polygon(cv, std::vector<std::vector<Vec2>>{contour}, paint, alpha);
}

// Separable Gaussian blur, borders replicated. One line at a time: copy it with r replicated
// pixels on each side, then convolve without index checks.
void gaussian_blur(Canvas& cv, double sigma) {
  if (sigma < 0.2) return;
  const int r = static_cast<int>(std::ceil(2.5 * sigma));
  std::vector<float> k(2 * r + 1);
  float sum = 0;
  for (int i = -r; i <= r; ++i) sum += k[i + r] = static_cast<float>(std::exp(-0.5 * i * i / (sigma * sigma)));
  for (float& v : k) v /= sum;
  const int W = cv.w, H = cv.h;
  std::vector<float> line(3 * (std::max(W, H) + 2 * r));
  // One pass over `n` pixels starting at `p`, `step` floats apart.
  auto pass = [&](float* p, int n, size_t step) {
    for (int i = -r; i < n + r; ++i) {
      const float* src = p + step * static_cast<size_t>(std::clamp(i, 0, n - 1));
      for (int c = 0; c < 3; ++c) line[3 * (i + r) + c] = src[c];
    }
    for (int i = 0; i < n; ++i) {
      float a0 = 0, a1 = 0, a2 = 0;
      const float* l = &line[3 * i];
      for (int j = 0; j <= 2 * r; ++j) {
        a0 += k[j] * l[3 * j];
        a1 += k[j] * l[3 * j + 1];
        a2 += k[j] * l[3 * j + 2];
      }
      float* d = p + step * i;
      d[0] = a0;
      d[1] = a1;
      d[2] = a2;
    }
  };
  for (int y = 0; y < H; ++y) pass(cv.px(0, y), W, 3);
  for (int x = 0; x < W; ++x) pass(cv.px(x, 0), H, static_cast<size_t>(3) * W);
}

// ---------------------------------------------------------------- pose: canonical face -> pixels
struct P3 {
  double x = 0, y = 0, z = 0;
};

struct Pose {
  double cx = 0, cy = 0, scale = 1, angle = 0, yaw = 0, pitch = 0;

  // Orthographic view of the face turned by yaw (about the vertical axis) and pitch, then the
  // in-plane similarity (rotation, scale, shift).
  Vec2 project(const P3& p) const {
    double cyw = std::cos(yaw), syw = std::sin(yaw);
    double x1 = p.x * cyw + p.z * syw, z1 = -p.x * syw + p.z * cyw;
    double y1 = p.y * std::cos(pitch) - z1 * std::sin(pitch);
    double ca = std::cos(angle), sa = std::sin(angle);
    return {cx + scale * (ca * x1 - sa * y1), cy + scale * (sa * x1 + ca * y1)};
  }
  std::vector<Vec2> project(const std::vector<P3>& ps) const {
    std::vector<Vec2> out(ps.size());
    for (size_t i = 0; i < ps.size(); ++i) out[i] = project(ps[i]);
    return out;
  }
  // A small feature ellipse at c on the face: centre projected, half-axes scaled, the horizontal
  // one foreshortened by the turn (a patch whose surface faces atan(x) sideways shrinks by
  // cos(yaw + atan(x)) / cos(atan(x))).
  Ellipse ellipse(const P3& c, double rx, double ry, double rot = 0) const {
    Vec2 p = project(c);
    double phi = std::atan(c.x);
    double fx = std::max(0.3, std::cos(yaw + phi) / std::cos(phi));
    return {p.x, p.y, rx * scale * fx, ry * scale * std::cos(pitch), angle + rot};
  }
};

// A thick open stroke along a polyline, as a polygon (left side forward, right side back);
// half-width w0 at the start to w1 at the end (a tapered brow or lid).
std::vector<Vec2> stroke(const std::vector<Vec2>& pts, double w0, double w1) {
  size_t n = pts.size();
  std::vector<Vec2> left(n), right(n);
  for (size_t i = 0; i < n; ++i) {
    const Vec2& a = pts[i == 0 ? 0 : i - 1];
    const Vec2& b = pts[i + 1 < n ? i + 1 : n - 1];
    double tx = b.x - a.x, ty = b.y - a.y, len = std::hypot(tx, ty);
    if (len < 1e-9) len = 1;
    double nx = -ty / len, ny = tx / len;
    double w = w0 + (w1 - w0) * (n > 1 ? static_cast<double>(i) / (n - 1) : 0);
    left[i] = {pts[i].x + nx * w, pts[i].y + ny * w};
    right[i] = {pts[i].x - nx * w, pts[i].y - ny * w};
  }
  std::vector<Vec2> poly = left;
  poly.insert(poly.end(), right.rbegin(), right.rend());
  return poly;
}

// Points of an ellipse arc in the canonical frame (y down: angles in (pi, 2 pi) are the top).
std::vector<P3> arc(double cx, double cy, double rx, double ry, double t0, double t1, int n, double z) {
  std::vector<P3> out;
  for (int i = 0; i < n; ++i) {
    double t = t0 + (t1 - t0) * i / (n - 1);
    out.push_back({cx + rx * std::cos(t), cy + ry * std::sin(t), z});
  }
  return out;
}

// ---------------------------------------------------------------- identities
const float kHairColours[][3] = {{22, 18, 16},   {55, 38, 26},    {100, 68, 42},  {150, 105, 60},
                                 {205, 170, 105}, {150, 65, 30},   {150, 150, 150}, {225, 222, 215}};
const double kHairWeights[] = {0.26, 0.22, 0.16, 0.1, 0.1, 0.06, 0.06, 0.04};
const float kIrisColours[][3] = {{70, 45, 25}, {40, 28, 20}, {70, 110, 160}, {80, 120, 80},
                                 {110, 115, 120}, {120, 90, 50}};

template <size_t N>
int weighted_choice(Rng& rng, const double (&w)[N]) {
  double u = rng.uniform(), acc = 0;
  for (size_t i = 0; i < N; ++i) {
    acc += w[i];
    if (u < acc) return static_cast<int>(i);
  }
  return static_cast<int>(N - 1);
}

void jitter_colour(Rng& rng, const float base[3], double amount, float out[3]) {
  for (int c = 0; c < 3; ++c) out[c] = static_cast<float>(clampd(base[c] + rng.uniform(-amount, amount), 5, 250));
}

}  // namespace

std::vector<float> FaceParams::vector() const {
  std::vector<float> v = {face_w,  face_h,    jaw_power / 3, chin_narrow, blush,     eye_dx,
                          eye_y,   eye_w,     eye_h,         iris_r / 4,  brow_dy,   brow_len,
                          brow_thick, brow_arch, brow_tilt,  nose_y,      nose_w,    nose_z / 4,
                          mouth_y, mouth_w,   upper_lip,     lower_lip,   ear,       hairline,
                          hair_volume / 2, static_cast<float>(hair_style) / 5, beard, moustache,
                          mole_x,  mole_y,    mole_r * 10};
  for (int c = 0; c < 3; ++c) {
    v.push_back(skin[c] / 255.f);
    v.push_back(iris[c] / 255.f);
    v.push_back(lips[c] / 255.f);
    v.push_back(hair[c] / 255.f);
  }
  return v;
}

FaceParams synth_identity(uint64_t seed, int identity) {
  FF_CHECK(identity >= 0, "synth_identity: identity must be >= 0, got ", identity);
  Rng rng(derive_seed(seed, {static_cast<uint64_t>(identity), ~0ull}));
  FaceParams f;
  f.face_h = static_cast<float>(rng.uniform(0.94, 1.06));
  f.face_w = static_cast<float>(rng.uniform(0.64, 0.84));
  f.jaw_power = static_cast<float>(rng.uniform(1.8, 3.4));
  f.chin_narrow = static_cast<float>(rng.uniform(0.0, 0.32));
  // Skin along a dark-to-light line, with a little hue of its own.
  double t = rng.uniform();
  const double dark[3] = {92, 58, 40}, light[3] = {245, 208, 182};
  for (int c = 0; c < 3; ++c) f.skin[c] = static_cast<float>(dark[c] + t * (light[c] - dark[c]) + rng.uniform(-12, 12));
  f.blush = static_cast<float>(rng.uniform() < 0.4 ? rng.uniform(0.05, 0.2) : 0.0);

  f.eye_dx = static_cast<float>(rng.uniform(0.26, 0.36));
  f.eye_y = static_cast<float>(rng.uniform(-0.24, -0.08));
  f.eye_w = static_cast<float>(rng.uniform(0.1, 0.15));
  f.eye_h = static_cast<float>(f.eye_w * rng.uniform(0.38, 0.6));
  f.iris_r = static_cast<float>(rng.uniform(0.42, 0.6));
  jitter_colour(rng, kIrisColours[rng.randint(6)], 15, f.iris);

  f.brow_dy = static_cast<float>(rng.uniform(0.1, 0.17));
  f.brow_len = static_cast<float>(rng.uniform(0.1, 0.15));
  f.brow_thick = static_cast<float>(rng.uniform(0.012, 0.03));
  f.brow_arch = static_cast<float>(rng.uniform(0.0, 0.05));
  f.brow_tilt = static_cast<float>(rng.uniform(-0.04, 0.04));

  f.nose_y = static_cast<float>(f.eye_y + rng.uniform(0.28, 0.44));
  f.nose_w = static_cast<float>(rng.uniform(0.085, 0.15));
  f.nose_z = static_cast<float>(rng.uniform(0.8, 1.05));

  f.mouth_y = static_cast<float>(f.nose_y + rng.uniform(0.22, 0.34));
  f.mouth_w = static_cast<float>(rng.uniform(0.15, 0.25));
  f.upper_lip = static_cast<float>(rng.uniform(0.02, 0.045));
  f.lower_lip = static_cast<float>(rng.uniform(0.03, 0.065));
  double redness = rng.uniform(0.25, 0.6);
  const double red[3] = {185, 70, 80};
  for (int c = 0; c < 3; ++c) f.lips[c] = static_cast<float>((1 - redness) * f.skin[c] * 0.85 + redness * red[c]);

  f.ear = static_cast<float>(rng.uniform(0.13, 0.21));

  int hc = weighted_choice(rng, kHairWeights);
  jitter_colour(rng, kHairColours[hc], 14, f.hair);
  f.hair_style = static_cast<int>(rng.randint(6));
  f.hairline = static_cast<float>(rng.uniform(-0.72, -0.5));
  f.hair_volume = static_cast<float>(rng.uniform(1.04, 1.22));
  bool facial_hair = rng.uniform() < 0.3;
  f.beard = static_cast<float>(facial_hair && rng.uniform() < 0.5 ? rng.uniform(0.35, 0.85) : 0.0);
  f.moustache = static_cast<float>(facial_hair && rng.uniform() < 0.6 ? rng.uniform(0.5, 0.9) : 0.0);
  if (rng.uniform() < 0.35) {
    f.mole_x = static_cast<float>(rng.uniform(-0.5, 0.5));
    f.mole_y = static_cast<float>(rng.uniform(-0.1, 0.7));
    f.mole_r = static_cast<float>(rng.uniform(0.012, 0.025));
  }
  return f;
}

namespace {

// What varies from one image of an identity to the next.
struct Shot {
  Pose pose;
  double smile = 0, mouth_open = 0, eye_open = 1, gaze_x = 0, gaze_y = 0, brow_raise = 0;
  bool glasses = false;
  float glasses_colour[3] = {20, 20, 20};
  float clothes[3] = {60, 80, 120};
  double light_x = 0, light_y = 0;        // shading gradient across the face (per face unit)
  double brightness = 1, cast[3] = {1, 1, 1};
  double blur = 0, noise = 0;
  int jpeg_quality = 92;
};

Shot draw_shot(Rng& rng, int size) {
  Shot s;
  double S = size;
  s.pose.scale = 0.27 * S * rng.uniform(0.88, 1.12);
  s.pose.angle = clipped_normal(rng, 9.0, 2.5) * kPi / 180.0;
  s.pose.cx = S / 2 + rng.uniform(-0.07, 0.07) * S;
  s.pose.cy = S / 2 + rng.uniform(-0.06, 0.07) * S;
  s.pose.yaw = clipped_normal(rng, 0.14, 2.4);
  s.pose.pitch = clipped_normal(rng, 0.06, 2.5);
  s.smile = rng.uniform(-0.015, 0.05);
  s.mouth_open = rng.uniform() < 0.25 ? rng.uniform(0.01, 0.06) : 0.0;
  s.eye_open = rng.uniform() < 0.05 ? rng.uniform(0.15, 0.35) : rng.uniform(0.75, 1.1);
  s.gaze_x = rng.uniform(-0.3, 0.3);
  s.gaze_y = rng.uniform(-0.15, 0.15);
  s.brow_raise = rng.uniform(-0.015, 0.03);
  s.glasses = rng.uniform() < 0.12;
  const float frames[][3] = {{20, 20, 20}, {120, 80, 40}, {180, 180, 190}, {140, 30, 30}};
  jitter_colour(rng, frames[rng.randint(4)], 10, s.glasses_colour);
  for (float& c : s.clothes) c = static_cast<float>(rng.uniform(20, 235));
  double la = rng.uniform(0, 2 * kPi), ls = rng.uniform(0.0, 0.35);
  s.light_x = ls * std::cos(la);
  s.light_y = ls * std::sin(la);
  s.brightness = rng.uniform(0.72, 1.18);
  for (double& c : s.cast) c = rng.uniform(0.9, 1.1);
  s.blur = rng.uniform() < 0.4 ? 0.0 : rng.uniform(0.3, 1.1) * S / 128.0;
  s.noise = rng.uniform(0.5, 7.0);
  s.jpeg_quality = static_cast<int>(75 + rng.randint(21));
  return s;
}

// Background: a two-colour gradient and random clutter (ellipses, quads, bars, strokes), some
// crisp, some soft.
void draw_background(Canvas& cv, Rng& rng) {
  const double S = cv.w, SH = cv.h;  // a square canvas: SH == S
  float c0[3], c1[3];
  for (int c = 0; c < 3; ++c) {
    c0[c] = static_cast<float>(rng.uniform(10, 245));
    c1[c] = static_cast<float>(clampd(c0[c] + rng.uniform(-90, 90), 0, 255));
  }
  double ga = rng.uniform(0, 2 * kPi), gx = std::cos(ga) / S, gy = std::sin(ga) / S;
  for (int y = 0; y < cv.h; ++y)
    for (int x = 0; x < cv.w; ++x) {
      double t = clampd(0.5 + gx * (x - S / 2) + gy * (y - SH / 2), 0, 1);
      float* d = cv.px(x, y);
      for (int c = 0; c < 3; ++c) d[c] = static_cast<float>(c0[c] + t * (c1[c] - c0[c]));
    }
  int n = 3 + static_cast<int>(rng.randint(10));
  for (int i = 0; i < n; ++i) {
    Paint p = solid_rgb(rng.uniform(0, 255), rng.uniform(0, 255), rng.uniform(0, 255));
    double x = rng.uniform(-0.1, 1.1) * S, y = rng.uniform(-0.1, 1.1) * SH;
    double r = rng.uniform(0.04, 0.35) * S, a = rng.uniform(0, kPi);
    double alpha = rng.uniform(0.3, 1.0);
    switch (rng.randint(4)) {
      case 0:
        fill_ellipse(cv, {x, y, r, r * rng.uniform(0.3, 1.0), a}, p, alpha, rng.uniform() < 0.5 ? 1.0 : rng.uniform(2, 10));
        break;
      case 1: {  // a quadrilateral
        std::vector<Vec2> q;
        for (int k = 0; k < 4; ++k) {
          double t = a + k * kPi / 2 + rng.uniform(-0.4, 0.4);
          q.push_back({x + r * std::cos(t), y + r * std::sin(t)});
        }
        fill_polygon(cv, q, p, alpha);
        break;
      }
      case 2: {  // a long bar across the picture (a door frame, a shelf)
        double len = S * 1.5, w = rng.uniform(0.01, 0.06) * S;
        fill_polygon(cv, stroke({{x - len * std::cos(a), y - len * std::sin(a)}, {x + len * std::cos(a), y + len * std::sin(a)}}, w, w), p, alpha);
        break;
      }
      default: {  // a wavy stroke
        std::vector<Vec2> pts;
        double amp = rng.uniform(0.02, 0.1) * S, freq = rng.uniform(1, 4);
        for (int k = 0; k < 16; ++k) {
          double t = -1 + 2.0 * k / 15;
          double u = t * r * 2, v = amp * std::sin(freq * kPi * t);
          pts.push_back({x + u * std::cos(a) - v * std::sin(a), y + u * std::sin(a) + v * std::cos(a)});
        }
        double w = rng.uniform(0.005, 0.03) * S;
        fill_polygon(cv, stroke(pts, w, w), p, alpha);
      }
    }
  }
}

// The face outline in the canonical frame (n points, clockwise on screen, starting at the right).
std::vector<P3> face_outline(const FaceParams& f, int n) {
  std::vector<P3> out;
  for (int i = 0; i < n; ++i) {
    double t = 2 * kPi * i / n;
    double c = std::cos(t), s = std::sin(t);
    double x, y;
    if (s > 0) {  // lower half: superellipse, narrowed toward the chin
      double e = 2.0 / f.jaw_power;
      x = f.face_w * std::copysign(std::pow(std::fabs(c), e), c) * (1 - f.chin_narrow * s * s);
      y = f.face_h * std::pow(s, e);
    } else {
      x = f.face_w * c;
      y = f.face_h * s;
    }
    out.push_back({x, y, 0.25});  // a little in front of the head's axis: shifts slightly with yaw
  }
  return out;
}

// The hair in front of the head (the cap above the hairline, side locks). `back` draws what lies
// behind the head instead (long and curly hair).
void draw_hair(Canvas& cv, const FaceParams& f, const Pose& pose, const Paint& hair, const Paint& scalp, bool back) {
  const double fw = f.face_w, fh = f.face_h, vol = f.hair_volume;
  const double side_y = f.eye_y - 0.02;  // where the hair meets the face's sides
  if (back) {
    if (f.hair_style == 1) {  // long: a mass behind the head down to the shoulders
      std::vector<P3> pts = arc(0, -0.05, fw * vol * 1.08, fh * vol * 1.05, kPi, 2 * kPi, 24, -0.2);
      pts.push_back({fw * 1.22, 1.25, -0.2});
      pts.push_back({-fw * 1.22, 1.25, -0.2});
      fill_polygon(cv, pose.project(pts), hair, 1.0);
    } else if (f.hair_style == 4) {  // curly: a big round mass
      fill_ellipse(cv, pose.ellipse({0, -0.15, -0.3}, fw * vol * 1.25, fh * vol * 1.0), hair, 1.0, 1.5);
    }
    return;
  }
  // The cap: the outer edge over the top, the hairline back across the forehead.
  const int n = 28;
  std::vector<P3> pts;
  double top_cy = -0.04, top_rx = fw * vol, top_ry = fh * vol;
  for (int i = 0; i < n; ++i) {  // outer, left to right over the top
    double t = kPi + kPi * i / (n - 1);
    double r = 1.0;
    if (f.hair_style == 4) r = 1.0 + 0.07 * std::sin(14 * t);  // curls
    pts.push_back({top_rx * r * std::cos(t), top_cy + top_ry * r * std::sin(t), 0.2});
  }
  double hl = f.hairline;
  if (f.hair_style == 2) hl = std::max(hl + 0.22, f.eye_y - f.brow_dy - 0.12);  // fringe: low hairline
  // Inner edge, right to left: down the right side, across the forehead, down the left side.
  pts.push_back({fw * 1.0, side_y, 0.2});
  for (int i = 0; i <= 16; ++i) {
    double u = 1.0 - 2.0 * i / 16;  // 1 .. -1
    double x = 0.9 * fw * u;
    double y = hl + 0.12 * u * u;                                       // the temples sit lower
    if (f.hair_style == 2) y = hl + 0.035 * std::fabs(std::sin(9 * kPi * u));  // a ragged fringe
    if (f.hair_style == 5) y = hl + 0.14 * std::max(0.0, u) * (1 - u) * 2 - 0.06 * u;  // side part
    pts.push_back({x, y, 0.55});
  }
  pts.push_back({-fw * 1.0, side_y, 0.2});
  std::vector<Vec2> cap = pose.project(pts);
  if (f.hair_style == 3) {  // a buzz cut lets the scalp show through
    fill_polygon(cv, cap, scalp, 1.0);
    fill_polygon(cv, cap, hair, 0.55);
  } else {
    fill_polygon(cv, cap, hair, 1.0);
  }
  if (f.hair_style == 1) {  // long: locks down both sides, over the ears
    for (int side = -1; side <= 1; side += 2) {
      std::vector<P3> lock = {{side * fw * vol, side_y - 0.1, 0.1},
                              {side * fw * 0.9, side_y - 0.1, 0.2},
                              {side * fw * 0.98, 0.45, 0.1},
                              {side * fw * 1.12, 1.15, 0.0},
                              {side * fw * 1.25, 1.15, 0.0},
                              {side * fw * vol * 1.06, 0.3, 0.0}};
      fill_polygon(cv, pose.project(lock), hair, 1.0);
    }
  }
}

void draw_eye(Canvas& cv, const FaceParams& f, const Shot& s, const Pose& pose, int side, const Paint& skin_dark) {
  const double ex = side * f.eye_dx, ey = f.eye_y, ez = 0.55;
  // socket shadow above the eye
  fill_ellipse(cv, pose.ellipse({ex, ey - f.eye_h * 0.6, ez}, f.eye_w * 1.25, f.eye_h * 1.6), skin_dark, 0.22,
               std::max(1.0, f.eye_h * pose.scale * 0.8));
  double open = f.eye_h * s.eye_open;
  Ellipse white = pose.ellipse({ex, ey, ez}, f.eye_w, open);
  fill_ellipse(cv, white, solid_rgb(232, 228, 222), 1.0);
  double ir = f.iris_r * f.eye_w;
  P3 ic = {ex + s.gaze_x * f.eye_w * 0.45, ey + s.gaze_y * f.eye_h, ez + 0.02};
  fill_ellipse(cv, pose.ellipse(ic, ir, ir), solid(f.iris), 1.0, 1.0, &white);
  fill_ellipse(cv, pose.ellipse(ic, ir * 0.45, ir * 0.45), solid_rgb(15, 12, 12), 1.0, 1.0, &white);
  // upper lid line (with lashes: darker, thicker at the outer corner), faint lower lid
  std::vector<P3> lid = arc(ex, ey, f.eye_w * 1.05, open * 1.05, kPi, 2 * kPi, 12, ez);
  if (side < 0) std::reverse(lid.begin(), lid.end());  // inner corner first
  double lw = pose.scale * 0.012;
  fill_polygon(cv, stroke(pose.project(lid), lw * 0.6, lw * 1.5), solid_rgb(30, 22, 20), 0.9);
  std::vector<P3> low = arc(ex, ey, f.eye_w * 1.0, open * 1.0, 0, kPi, 10, ez);
  fill_polygon(cv, stroke(pose.project(low), lw * 0.4, lw * 0.4), skin_dark, 0.5);
}

void draw_brow(Canvas& cv, const FaceParams& f, const Shot& s, const Pose& pose, int side, const Paint& colour) {
  const double cx = side * f.eye_dx, cy = f.eye_y - f.brow_dy - s.brow_raise;
  std::vector<P3> pts;
  for (int i = 0; i < 9; ++i) {
    double u = -1 + 2.0 * i / 8;  // inner (-1) to outer (+1)
    double x = cx + side * u * f.brow_len;
    double y = cy - f.brow_arch * (1 - u * u) + f.brow_tilt * u;
    pts.push_back({x, y, 0.6});
  }
  double w = f.brow_thick * pose.scale;
  fill_polygon(cv, stroke(pose.project(pts), w, w * 0.45), colour, 0.92);
}

void draw_nose(Canvas& cv, const FaceParams& f, const Shot& s, const Pose& pose, const Paint& skin,
               const Paint& skin_dark) {
  const double ty = f.nose_y, nw = f.nose_w, nz = f.nose_z;
  // The ridge's shadow on the side away from the light.
  double side = s.light_x >= 0 ? -1 : 1;
  std::vector<P3> ridge = {{side * nw * 0.35, f.eye_y + 0.05, 0.65}, {side * nw * 0.45, (f.eye_y + ty) / 2, 0.8},
                           {side * nw * 0.55, ty - 0.03, nz * 0.9}};
  fill_polygon(cv, stroke(pose.project(ridge), pose.scale * 0.012, pose.scale * 0.02), skin_dark, 0.25);
  // The wings and the tip.
  fill_ellipse(cv, pose.ellipse({0, ty + nw * 0.28, nz * 0.85}, nw * 1.05, nw * 0.42), skin_dark, 0.45,
               std::max(1.0, nw * pose.scale * 0.25));
  Paint highlight = skin;
  highlight.r *= 1.08f;
  highlight.g *= 1.08f;
  highlight.b *= 1.08f;
  fill_ellipse(cv, pose.ellipse({0, ty, nz}, nw * 0.5, nw * 0.38), highlight, 0.7, std::max(1.0, nw * pose.scale * 0.2));
  for (int k = -1; k <= 1; k += 2)
    fill_ellipse(cv, pose.ellipse({k * nw * 0.42, ty + nw * 0.38, nz * 0.85}, nw * 0.22, nw * 0.12, k * 0.3),
                 solid_rgb(skin.r * 0.35, skin.g * 0.3, skin.b * 0.3), 0.85, 1.2);
}

// Mouth geometry: the corners and the curve between them (the line where the lips meet).
struct MouthCurve {
  double mw, my, smile;
  P3 at(double t) const {  // t in [0, 1], left corner to right corner
    double x = -mw + 2 * mw * t;
    double y = my - smile + 2 * smile * 4 * t * (1 - t);  // corners at my - smile, middle at my + smile
    double z = 0.72 - 0.18 * (2 * t - 1) * (2 * t - 1);
    return {x, y, z};
  }
};

void draw_mouth(Canvas& cv, const FaceParams& f, const Shot& s, const Pose& pose) {
  MouthCurve m{f.mouth_w, f.mouth_y, s.smile};
  const int n = 17;
  auto bump = [](double t, double p) { return std::pow(std::sin(kPi * t), p); };
  std::vector<P3> upper, lower, gap;
  for (int i = 0; i < n; ++i) {  // upper lip top edge, left to right (with the cupid's bow dip)
    double t = static_cast<double>(i) / (n - 1);
    P3 p = m.at(t);
    double dip = 1 - 0.35 * std::exp(-std::pow((t - 0.5) / 0.07, 2));
    upper.push_back({p.x, p.y - f.upper_lip * bump(t, 0.6) * dip, p.z});
  }
  for (int i = n - 1; i >= 0; --i) upper.push_back(m.at(static_cast<double>(i) / (n - 1)));
  double open = s.mouth_open;
  for (int i = 0; i < n; ++i) {
    double t = static_cast<double>(i) / (n - 1);
    P3 p = m.at(t);
    lower.push_back({p.x, p.y + open * bump(t, 0.8), p.z});
    gap.push_back({p.x, p.y, p.z});
  }
  for (int i = n - 1; i >= 0; --i) {
    double t = static_cast<double>(i) / (n - 1);
    P3 p = m.at(t);
    lower.push_back({p.x, p.y + open * bump(t, 0.8) + f.lower_lip * bump(t, 0.7), p.z});
    gap.push_back({p.x, p.y + open * bump(t, 0.8), p.z});
  }
  Paint lips = solid(f.lips);
  Paint lips_dark = solid(f.lips, 0.8);
  if (open > 0) fill_polygon(cv, pose.project(gap), solid_rgb(55, 20, 22), 1.0);
  fill_polygon(cv, pose.project(upper), lips_dark, 1.0);
  fill_polygon(cv, pose.project(lower), lips, 1.0);
  std::vector<P3> line;
  for (int i = 0; i < n; ++i) line.push_back(m.at(static_cast<double>(i) / (n - 1)));
  double w = pose.scale * 0.008;
  if (open <= 0) fill_polygon(cv, stroke(pose.project(line), w, w), solid_rgb(60, 25, 25), 0.8);
}

void draw_glasses(Canvas& cv, const FaceParams& f, const Pose& pose, const Shot& s) {
  Paint frame = solid(s.glasses_colour);
  double rx = std::min(f.eye_w * 1.6, f.eye_dx * 0.85), ry = std::max(f.eye_h * 2.6, 0.12);
  double w = pose.scale * 0.018;
  for (int side = -1; side <= 1; side += 2) {
    std::vector<P3> ring = arc(side * f.eye_dx, f.eye_y + 0.01, rx, ry, 0, 2 * kPi, 32, 0.7);
    std::vector<Vec2> mid = pose.project(ring);
    std::vector<Vec2> outer = stroke(mid, w, w);  // a closed ring: both offset sides as contours
    size_t k = mid.size();
    std::vector<Vec2> a(outer.begin(), outer.begin() + k), b(outer.begin() + k, outer.end());
    fill_polygon(cv, {a, b}, frame, 1.0);
    fill_ellipse(cv, pose.ellipse({side * f.eye_dx, f.eye_y + 0.01, 0.7}, rx, ry), solid_rgb(200, 220, 230), 0.08);
  }
  std::vector<P3> bridge = {{-f.eye_dx + rx, f.eye_y - 0.02, 0.75}, {0, f.eye_y - 0.05, 0.8}, {f.eye_dx - rx, f.eye_y - 0.02, 0.75}};
  fill_polygon(cv, stroke(pose.project(bridge), w, w), frame, 1.0);
}

}  // namespace

namespace {

// Draws the person of identity f as shot s: shoulders and neck, hair behind the head, ears, the
// face and its features, the hair in front, glasses. No randomness.
void draw_person(Canvas& cv, const FaceParams& f, const Shot& s) {
  const Pose& pose = s.pose;
  // Shading across the face follows the light direction (per canonical unit -> per pixel).
  Paint skin = solid(f.skin);
  Vec2 centre = pose.project({0, 0, 0});
  skin.cx = centre.x;
  skin.cy = centre.y;
  skin.gx = s.light_x / pose.scale;
  skin.gy = s.light_y / pose.scale;
  Paint skin_dark = skin;
  skin_dark.r *= 0.72f;
  skin_dark.g *= 0.68f;
  skin_dark.b *= 0.68f;
  Paint hair = solid(f.hair);
  hair.cx = centre.x;
  hair.cy = centre.y;
  hair.gx = skin.gx * 0.7;
  hair.gy = skin.gy * 0.7;

  // Shoulders and neck, hair behind the head, ears, the face.
  Paint clothes = solid(s.clothes);
  fill_ellipse(cv, pose.ellipse({0, f.face_h + 1.05, -0.3}, 1.7, 0.75), clothes, 1.0, 1.5);
  std::vector<P3> neck = {{-0.33, 0.4, -0.1}, {0.33, 0.4, -0.1}, {0.36, 1.5, -0.1}, {-0.36, 1.5, -0.1}};
  fill_polygon(cv, pose.project(neck), skin_dark, 1.0);
  draw_hair(cv, f, pose, hair, skin, true);
  for (int side = -1; side <= 1; side += 2)
    fill_ellipse(cv, pose.ellipse({side * f.face_w * 0.97, f.eye_y + 0.17, -0.05}, f.ear * 0.45, f.ear), skin_dark, 1.0, 1.2);
  fill_polygon(cv, pose.project(face_outline(f, 64)), skin, 1.0);
  if (f.blush > 0)
    for (int side = -1; side <= 1; side += 2)
      fill_ellipse(cv, pose.ellipse({side * f.eye_dx * 1.15, f.nose_y + 0.03, 0.5}, 0.13, 0.08), solid_rgb(220, 90, 90),
                   f.blush, pose.scale * 0.06);
  if (f.beard > 0) {  // over the jaw, below the mouth line, following the outline
    std::vector<P3> b;
    for (const P3& p : face_outline(f, 64))
      if (p.y > (f.nose_y + f.mouth_y) / 2) b.push_back(p);  // from the upper lip's level down
    std::sort(b.begin(), b.end(), [](const P3& a, const P3& c) { return a.x < c.x; });
    std::vector<P3> poly;
    for (auto it = b.rbegin(); it != b.rend(); ++it) poly.push_back(*it);  // right to left along the jaw
    poly.push_back({-f.mouth_w * 1.1, f.mouth_y - 0.02, 0.6});
    poly.push_back({0, f.mouth_y + f.lower_lip + 0.08, 0.7});
    poly.push_back({f.mouth_w * 1.1, f.mouth_y - 0.02, 0.6});
    fill_polygon(cv, pose.project(poly), hair, f.beard);
  }
  if (f.mole_r > 0)
    fill_ellipse(cv, pose.ellipse({f.mole_x * f.face_w, f.mole_y, 0.5}, f.mole_r, f.mole_r), solid(f.skin, 0.4), 0.9, 1.2);

  Paint brow = solid(f.hair, 0.8);
  for (int side = -1; side <= 1; side += 2) {
    draw_eye(cv, f, s, pose, side, skin_dark);
    draw_brow(cv, f, s, pose, side, brow);
  }
  draw_nose(cv, f, s, pose, skin, skin_dark);
  draw_mouth(cv, f, s, pose);
  if (f.moustache > 0) {
    std::vector<P3> m;
    for (int i = 0; i < 9; ++i) {
      double u = -1 + 2.0 * i / 8;
      m.push_back({u * f.mouth_w * 1.05, f.mouth_y - s.smile - f.upper_lip - 0.03 + 0.04 * u * u, 0.75});
    }
    fill_polygon(cv, stroke(pose.project(m), pose.scale * 0.035, pose.scale * 0.02), hair, f.moustache);
  }
  draw_hair(cv, f, pose, hair, skin, false);
  if (s.glasses) draw_glasses(cv, f, pose, s);
}

// Photography over the whole canvas: brightness, colour cast, a light gradient, blur, noise (one
// 64-bit seed drawn from rng); the uint8 picture.
Image photograph(Canvas& cv, const Shot& s, Rng& rng) {
  const double S = cv.w, SH = cv.h;  // a square canvas: SH == S
  double gx = s.light_x / S, gy = s.light_y / S;
  for (int y = 0; y < cv.h; ++y)
    for (int x = 0; x < cv.w; ++x) {
      float* d = cv.px(x, y);
      double k = s.brightness * (1 + gx * (x - S / 2) + gy * (y - SH / 2));
      for (int c = 0; c < 3; ++c) d[c] = static_cast<float>(d[c] * k * s.cast[c]);
    }
  gaussian_blur(cv, s.blur);
  uint64_t state = (static_cast<uint64_t>(rng.next_u32()) << 32) | rng.next_u32();
  Image out(cv.w, cv.h, 3);
  uint8_t* dst = out.data();
  // Noise: Irwin-Hall sum of four 16-bit uniforms from one splitmix64 draw (std sqrt(1/3)).
  const double ns = s.noise / std::sqrt(1.0 / 3.0) / 65536.0;
  for (size_t i = 0; i < cv.rgb.size(); ++i) {
    state += 0x9E3779B97F4A7C15ull;
    uint64_t r = splitmix64(state);
    double u = static_cast<double>((r & 0xFFFF) + ((r >> 16) & 0xFFFF) + ((r >> 32) & 0xFFFF) + (r >> 48)) - 2 * 65535.0;
    dst[i] = static_cast<uint8_t>(clampd(cv.rgb[i] + u * ns, 0, 255) + 0.5);  // rounded
  }
  return out;
}

// The five landmarks: the exact drawn positions.
Landmarks5 person_landmarks(const FaceParams& f, const Shot& s) {
  const Pose& pose = s.pose;
  Landmarks5 out;
  MouthCurve m{f.mouth_w, f.mouth_y, s.smile};
  out[kLeftEye] = {static_cast<float>(pose.project({-f.eye_dx, f.eye_y, 0.55}).x),
                   static_cast<float>(pose.project({-f.eye_dx, f.eye_y, 0.55}).y)};
  out[kRightEye] = {static_cast<float>(pose.project({f.eye_dx, f.eye_y, 0.55}).x),
                    static_cast<float>(pose.project({f.eye_dx, f.eye_y, 0.55}).y)};
  Vec2 nose = pose.project({0, f.nose_y, f.nose_z});
  out[kNose] = {static_cast<float>(nose.x), static_cast<float>(nose.y)};
  Vec2 ml = pose.project(m.at(0)), mr = pose.project(m.at(1));
  out[kLeftMouth] = {static_cast<float>(ml.x), static_cast<float>(ml.y)};
  out[kRightMouth] = {static_cast<float>(mr.x), static_cast<float>(mr.y)};
  return out;
}

// The tight face box's extent (the outline from brow level down, and the brows), unclamped:
// x0, y0, x1, y1 in pixels.
std::array<double, 4> person_box_extent(const FaceParams& f, const Pose& pose) {
  double bx0 = 1e30, by0 = 1e30, bx1 = -1e30, by1 = -1e30;
  auto grow = [&](const Vec2& p) {
    bx0 = std::min(bx0, p.x);
    by0 = std::min(by0, p.y);
    bx1 = std::max(bx1, p.x);
    by1 = std::max(by1, p.y);
  };
  const double brow_y = f.eye_y - f.brow_dy - f.brow_arch - f.brow_thick;
  for (const P3& p : face_outline(f, 64))
    if (p.y >= brow_y) grow(pose.project(p));
  for (int side = -1; side <= 1; side += 2) grow(pose.project({side * f.eye_dx, brow_y, 0.6}));
  return {bx0, by0, bx1, by1};
}

// The extent in whole pixels, clamped to a W x H picture, as a box.
FaceBox whole_pixel_box(const std::array<double, 4>& e, double W, double H) {
  double bx0 = clampd(std::floor(e[0]), 0, W - 1);
  double by0 = clampd(std::floor(e[1]), 0, H - 1);
  double bx1 = clampd(std::ceil(e[2]), 0, W - 1);
  double by1 = clampd(std::ceil(e[3]), 0, H - 1);
  return {static_cast<float>(bx0), static_cast<float>(by0), static_cast<float>(bx1 - bx0), static_cast<float>(by1 - by0)};
}

}  // namespace

SynthSample synth_sample(uint64_t seed, int identity, int index, int size) {
  FF_CHECK(identity >= 0 && index >= 0, "synth_sample: identity and index must be >= 0, got ", identity, " and ", index);
  FF_CHECK(size >= 32 && size <= 1024, "synth_sample: size must be in 32..1024, got ", size);
  const FaceParams f = synth_identity(seed, identity);
  Rng rng(derive_seed(seed, {static_cast<uint64_t>(identity), static_cast<uint64_t>(index)}));
  const Shot s = draw_shot(rng, size);
  Canvas cv(size, size);
  draw_background(cv, rng);
  draw_person(cv, f, s);
  SynthSample out;
  out.image = photograph(cv, s, rng);
  out.jpeg_quality = s.jpeg_quality;
  out.landmarks = person_landmarks(f, s);
  out.box = whole_pixel_box(person_box_extent(f, s.pose), size, size);
  return out;
}

size_t write_synth_dataset(const std::string& dir, const SynthConfig& cfg) {
  FF_CHECK(cfg.identities >= 2, "synth: --identities must be >= 2, got ", cfg.identities);
  FF_CHECK(cfg.per_identity >= 2, "synth: --per-identity must be >= 2, got ", cfg.per_identity);
  FF_CHECK(cfg.size >= 32 && cfg.size <= 1024, "synth: --size must be in 32..1024, got ", cfg.size);
  FF_CHECK(static_cast<int64_t>(cfg.identities) * cfg.per_identity <= 100000000,
           "synth: ", cfg.identities, " x ", cfg.per_identity, " images is too many");
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "img_celeba", ec);
  FF_CHECK(!ec, "synth: cannot create ", (fs::path(dir) / "img_celeba").string(), " (", ec.message(), ")");

  // File numbers: a seeded shuffle of (identity, index), so identities interleave as in CelebA.
  const int64_t total = static_cast<int64_t>(cfg.identities) * cfg.per_identity;
  std::vector<int64_t> order(total);
  for (int64_t i = 0; i < total; ++i) order[i] = i;
  Rng shuffle(derive_seed(cfg.seed, {0x5348554646ull, ~0ull}));  // "SHUFF"
  for (int64_t i = total - 1; i > 0; --i) std::swap(order[i], order[shuffle.randint(i + 1)]);
  auto name_of = [](int64_t number) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%06lld.jpg", static_cast<long long>(number));
    return std::string(buf);
  };

  std::vector<BoxRow> boxes(total);
  std::vector<LandmarkRow> marks(total);
  std::vector<std::string> errors(total);
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t j = 0; j < total; ++j) {  // j: file position; order[j]: which image
    int identity = static_cast<int>(order[j] / cfg.per_identity), index = static_cast<int>(order[j] % cfg.per_identity);
    std::string name = name_of(j + 1);
    try {
      SynthSample s = synth_sample(cfg.seed, identity, index, cfg.size);
      save_jpeg(s.image, (fs::path(dir) / "img_celeba" / name).string(), s.jpeg_quality);
      boxes[j] = {name, s.box};
      marks[j].file = name;
      for (int k = 0; k < 5; ++k)  // two decimals, as written, so memory and file agree
        marks[j].points[k] = {std::round(s.landmarks[k].x * 100.f) / 100.f, std::round(s.landmarks[k].y * 100.f) / 100.f};
    } catch (const std::exception& e) {
      errors[j] = e.what();
    }
  }
  for (const std::string& e : errors)
    if (!e.empty()) throw Error(e);

  std::vector<IdentityRow> ids(total);
  std::vector<PartitionRow> parts(total);
  // Per identity, its images in file order; the last 20% (at least one) are validation.
  std::vector<std::vector<int64_t>> by_identity(cfg.identities);
  for (int64_t j = 0; j < total; ++j) by_identity[order[j] / cfg.per_identity].push_back(j);
  for (int id = 0; id < cfg.identities; ++id) {
    const std::vector<int64_t>& js = by_identity[id];
    int nval = std::max(1, static_cast<int>(js.size()) / 5);
    for (size_t r = 0; r < js.size(); ++r) {
      int64_t j = js[r];
      ids[j] = {name_of(j + 1), id + 1};
      parts[j] = {name_of(j + 1), r + nval >= js.size() ? 1 : 0};
    }
  }
  write_identities((fs::path(dir) / "identity_CelebA.txt").string(), ids);
  write_partitions((fs::path(dir) / "list_eval_partition.txt").string(), parts);
  write_boxes((fs::path(dir) / "list_bbox_celeba.txt").string(), boxes);
  write_landmarks((fs::path(dir) / "list_landmarks_celeba.txt").string(), marks);
  return static_cast<size_t>(total);
}

}  // namespace ff

// ---------------------------------------------------------------- scenes
namespace ff {

SynthScene synth_scene(uint64_t seed, int index, const SceneConfig& c) {
  FF_CHECK(index >= 0, "synth_scene: index must be >= 0, got ", index);
  FF_CHECK(c.min_width >= 64 && c.min_width <= c.max_width && c.max_width <= 2048,
           "synth_scene: need 64 <= min_width <= max_width <= 2048, got ", c.min_width, ", ", c.max_width);
  FF_CHECK(c.max_faces >= 0 && c.max_faces <= 4, "synth_scene: max_faces must be in 0..4, got ", c.max_faces);
  FF_CHECK(c.min_face >= 8 && c.max_face_fraction > 0 && c.max_face_fraction <= 1,
           "synth_scene: need min_face >= 8 and 0 < max_face_fraction <= 1, got ", c.min_face, ", ",
           c.max_face_fraction);
  FF_CHECK(c.identities >= 1, "synth_scene: identities must be >= 1, got ", c.identities);
  Rng rng(derive_seed(seed, {static_cast<uint64_t>(index), 0x5343454E45ull}));  // "SCENE"
  int W = c.min_width + static_cast<int>(rng.randint(c.max_width - c.min_width + 1));
  int H = std::max(48, static_cast<int>(std::lround(W * rng.uniform(0.62, 0.9))));
  if (rng.uniform() < 0.2) std::swap(W, H);
  // The photography of the whole picture (blur as for a 128-px crop: at most 1.1 px).
  const Shot photo = draw_shot(rng, 128);
  Canvas cv(W, H);
  draw_background(cv, rng);

  const double weights[5] = {0.10, 0.35, 0.25, 0.15, 0.15};
  int n = weighted_choice(rng, weights);
  n = std::min(n, c.max_faces);
  const double lo = c.min_face, hi = std::max(lo, c.max_face_fraction * std::min(W, H));
  std::vector<double> sides(n);
  for (double& t : sides) t = std::exp(rng.uniform(std::log(lo), std::log(hi) + 1e-12));
  std::sort(sides.rbegin(), sides.rend());

  SynthScene out;
  std::vector<std::array<double, 4>> boxes;  // placed faces' extents
  for (double side : sides) {
    const int identity = static_cast<int>(rng.randint(c.identities));
    const FaceParams f = synth_identity(seed, identity);
    Shot s = draw_shot(rng, 128);
    // The box at scale 1 about the origin: extents scale with the pose (orthographic).
    s.pose.cx = s.pose.cy = 0;
    s.pose.scale = 1;
    const std::array<double, 4> e1 = person_box_extent(f, s.pose);
    const double side1 = std::sqrt(std::max(1e-9, (e1[2] - e1[0]) * (e1[3] - e1[1])));
    bool placed = false;
    for (int attempt = 0; attempt < 30 && !placed; ++attempt) {
      const double sc = side / side1 * (attempt < 15 ? 1.0 : 0.8);
      const double x_lo = -e1[0] * sc, x_hi = W - 1 - e1[2] * sc;
      const double y_lo = -e1[1] * sc, y_hi = H - 1 - e1[3] * sc;
      if (x_hi < x_lo || y_hi < y_lo) continue;
      const double cx = rng.uniform(x_lo, x_hi), cy = rng.uniform(y_lo, y_hi);
      // The person's reach (hair, ears, shoulders) must leave earlier faces' boxes uncovered.
      const double fx0 = cx - 2.0 * sc, fx1 = cx + 2.0 * sc, fy0 = cy - 1.4 * sc, fy1 = cy + 3.0 * sc;
      bool clear = true;
      for (const auto& b : boxes) {
        const double gx = 0.1 * (b[2] - b[0]), gy = 0.1 * (b[3] - b[1]);
        if (fx0 < b[2] + gx && fx1 > b[0] - gx && fy0 < b[3] + gy && fy1 > b[1] - gy) {
          clear = false;
          break;
        }
      }
      if (!clear) continue;
      s.pose.cx = cx;
      s.pose.cy = cy;
      s.pose.scale = sc;
      placed = true;
    }
    if (!placed) continue;
    draw_person(cv, f, s);
    const std::array<double, 4> e = person_box_extent(f, s.pose);
    boxes.push_back(e);
    FaceDetection d;
    d.box = whole_pixel_box(e, W, H);
    d.score = 1;
    d.has_landmarks = true;
    d.landmarks = person_landmarks(f, s);
    for (Point2& p : d.landmarks) p = {std::round(p.x * 100.0) / 100.0, std::round(p.y * 100.0) / 100.0};
    out.faces.push_back(d);
    out.identities.push_back(identity);
  }
  out.image = photograph(cv, photo, rng);
  out.jpeg_quality = photo.jpeg_quality;
  return out;
}

size_t write_synth_scenes(const std::string& dir, const SceneConfig& cfg) {
  FF_CHECK(cfg.scenes >= 1 && cfg.scenes <= 10000000, "synth: --scenes must be in 1..10^7, got ", cfg.scenes);
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "img_celeba", ec);
  FF_CHECK(!ec, "synth: cannot create ", (fs::path(dir) / "img_celeba").string(), " (", ec.message(), ")");
  const int64_t total = cfg.scenes;
  std::vector<PhotoDetections> photos(total);
  std::vector<std::string> errors(total);
#pragma omp parallel for schedule(dynamic, 2)
  for (int64_t j = 0; j < total; ++j) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%06lld.jpg", static_cast<long long>(j + 1));
    try {
      SynthScene s = synth_scene(cfg.seed, static_cast<int>(j), cfg);
      save_jpeg(s.image, (fs::path(dir) / "img_celeba" / buf).string(), s.jpeg_quality);
      photos[j] = {buf, s.image.width, s.image.height, 0, std::move(s.faces)};
    } catch (const std::exception& e) {
      errors[j] = e.what();
    }
  }
  for (const std::string& e : errors)
    if (!e.empty()) throw Error(e);
  size_t faces = 0;
  std::vector<BoxRow> boxes;
  std::vector<LandmarkRow> marks;
  std::vector<PartitionRow> parts;
  const int64_t nval = std::max<int64_t>(1, total / 10);
  for (int64_t j = 0; j < total; ++j) {
    const PhotoDetections& p = photos[j];
    faces += p.faces.size();
    parts.push_back({p.file, j >= total - nval ? 1 : 0});
    if (p.faces.empty()) continue;
    const FaceDetection& big = *std::max_element(p.faces.begin(), p.faces.end(), [](const FaceDetection& a, const FaceDetection& b) {
      return double(a.box.width) * a.box.height < double(b.box.width) * b.box.height;
    });
    boxes.push_back({p.file, big.box});
    marks.push_back({p.file, big.landmarks});
  }
  DetectionsFile df;
  df.detector = "synthetic ground truth";
  df.photos = std::move(photos);
  write_detections((fs::path(dir) / "faces.json").string(), df);
  write_partitions((fs::path(dir) / "list_eval_partition.txt").string(), parts);
  write_boxes((fs::path(dir) / "list_bbox_celeba.txt").string(), boxes);
  write_landmarks((fs::path(dir) / "list_landmarks_celeba.txt").string(), marks);
  return faces;
}

}  // namespace ff
