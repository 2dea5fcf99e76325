// report/plot.cpp — the rasteriser (coverage masks, anti-aliased strokes and discs, text from
// stb_easy_font's quads), line charts with ticks, labels and legend, and the image-drawing helpers.
//
// Internally every shape is placed in pixel-edge coordinates: pixel column i spans [i, i + 1), its
// centre is i + 0.5. The public image helpers take data/image.h's centre coordinates and add 0.5.
#include "report/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include <stb_easy_font.h>
#pragma GCC diagnostic pop

namespace ff {

Color palette_color(int i) {
  static const Color kTab10[10] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
                                   {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  return kTab10[((i % 10) + 10) % 10];
}

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

uint8_t luma(Color c) { return static_cast<uint8_t>(std::lround(0.299 * c.r + 0.587 * c.g + 0.114 * c.b)); }

// Mixes colour c into pixel (x, y) with opacity a in [0, 1]; outside the image it does nothing.
void blend(Image& img, int x, int y, Color c, double a) {
  if (!(a > 0) || x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  a = std::min(a, 1.0);
  auto mix = [a](uint8_t d, uint8_t s) { return static_cast<uint8_t>(std::lround(d + (s - d) * a)); };
  uint8_t* p = &img.at(x, y, 0);
  if (img.channels == 3) {
    p[0] = mix(p[0], c.r), p[1] = mix(p[1], c.g), p[2] = mix(p[2], c.b);
  } else {
    p[0] = mix(p[0], luma(c));
  }
}

void check_drawable(const Image& img, const char* who) {
  FF_CHECK(!img.empty() && (img.channels == 1 || img.channels == 3) &&
               img.pixels.size() == static_cast<size_t>(img.width) * img.height * img.channels,
           who, ": cannot draw on image ", img.str());
}

// Coverage of the pixels of a rectangle [x0, x0 + w) x [y0, y0 + h), each value the largest of the
// shapes stroked into it. One shape is stroked whole (all segments of a polyline, all sides of a
// box) and composited once, so its overlapping pieces do not darken the joints twice.
struct Mask {
  int x0 = 0, y0 = 0, w = 0, h = 0;
  std::vector<float> a;
  Mask(int x0_, int y0_, int w_, int h_) : x0(x0_), y0(y0_), w(std::max(w_, 0)), h(std::max(h_, 0)), a(size_t(w) * h, 0.f) {}
  static Mask over(const Image& img) { return Mask(0, 0, img.width, img.height); }
  void put(int x, int y, double v) {
    if (x < x0 || y < y0 || x >= x0 + w || y >= y0 + h || !(v > 0)) return;
    float& d = a[size_t(y - y0) * w + (x - x0)];
    d = std::max(d, static_cast<float>(std::min(v, 1.0)));
  }
  float get(int x, int y) const {
    if (x < x0 || y < y0 || x >= x0 + w || y >= y0 + h) return 0.f;
    return a[size_t(y - y0) * w + (x - x0)];
  }
  // Pixel range [lo, hi] of the mask that a span [a, b] of edge coordinates touches.
  void span_x(double a_, double b_, int* lo, int* hi) const {
    *lo = std::max(x0, static_cast<int>(std::floor(std::max(a_, -1e9))));
    *hi = std::min(x0 + w - 1, static_cast<int>(std::floor(std::min(b_, 1e9))));
  }
  void span_y(double a_, double b_, int* lo, int* hi) const {
    *lo = std::max(y0, static_cast<int>(std::floor(std::max(a_, -1e9))));
    *hi = std::min(y0 + h - 1, static_cast<int>(std::floor(std::min(b_, 1e9))));
  }
  void composite(Image& img, Color c) const {
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) blend(img, x0 + x, y0 + y, c, a[size_t(y) * w + x]);
  }
};

// A segment of width 2 hw with round ends: coverage of a pixel = how far its centre lies inside the
// stroke, plus one half (a one-pixel ramp), clamped to [0, 1]. Strokes thinner than a pixel fade.
void stroke_segment(Mask& m, double x0, double y0, double x1, double y1, double hw) {
  double fade = 1.0;
  if (hw < 0.5) fade = 2 * hw, hw = 0.5;
  int ax, bx, ay, by;
  m.span_x(std::min(x0, x1) - hw - 1, std::max(x0, x1) + hw + 1, &ax, &bx);
  m.span_y(std::min(y0, y1) - hw - 1, std::max(y0, y1) + hw + 1, &ay, &by);
  const double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
  for (int py = ay; py <= by; ++py)
    for (int px = ax; px <= bx; ++px) {
      double cx = px + 0.5, cy = py + 0.5;
      double t = len2 > 0 ? std::clamp(((cx - x0) * dx + (cy - y0) * dy) / len2, 0.0, 1.0) : 0.0;
      double d = std::hypot(cx - (x0 + t * dx), cy - (y0 + t * dy));
      m.put(px, py, std::clamp(hw + 0.5 - d, 0.0, 1.0) * fade);
    }
}

// A disc (ring_hw < 0) or a ring of half-width ring_hw around the circle of radius r.
void stroke_disc(Mask& m, double cx, double cy, double r, double ring_hw = -1) {
  double reach = r + std::max(ring_hw, 0.0) + 1;
  int ax, bx, ay, by;
  m.span_x(cx - reach, cx + reach, &ax, &bx);
  m.span_y(cy - reach, cy + reach, &ay, &by);
  for (int py = ay; py <= by; ++py)
    for (int px = ax; px <= bx; ++px) {
      double d = std::hypot(px + 0.5 - cx, py + 0.5 - cy);
      m.put(px, py, std::clamp(ring_hw < 0 ? r + 0.5 - d : ring_hw + 0.5 - std::fabs(d - r), 0.0, 1.0));
    }
}

// ---------------------------------------------------------------- text

struct Rect {
  double x0, y0, x1, y1;
};

// stb_easy_font reads ASCII 32..126 and '\n' only (it indexes a table with c - 32): anything else
// becomes '?', one per UTF-8 sequence, tabs become spaces.
std::string sanitize(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n' || (c >= 32 && c <= 126)) {
      out += static_cast<char>(c);
    } else if (c == '\t') {
      out += ' ';
    } else if (c >= 0x80 && c < 0xC0) {
      continue;  // a UTF-8 continuation byte: its lead byte already wrote the '?'
    } else {
      out += '?';
    }
  }
  return out;
}

// The font's quads for `text` with its top-left at (ox, oy), `scale` pixels per font unit. With
// rotate, the text reads upwards (turned 90 degrees counter-clockwise) and (ox, oy) is its
// bottom-left corner.
std::vector<Rect> text_rects(const std::string& text, double ox, double oy, int scale, bool rotate = false) {
  std::string s = sanitize(text);
  std::vector<char> buf(s.size() * 1024 + 64);  // a glyph takes at most ~12 quads of 64 bytes
  int n = stb_easy_font_print(0, 0, s.data(), nullptr, buf.data(), static_cast<int>(buf.size()));
  std::vector<Rect> out;
  out.reserve(n);
  for (int q = 0; q < n; ++q) {
    double u0 = 1e30, v0 = 1e30, u1 = -1e30, v1 = -1e30;
    for (int k = 0; k < 4; ++k) {
      const float* v = reinterpret_cast<const float*>(buf.data() + (q * 4 + k) * 16);
      u0 = std::min(u0, double(v[0])), u1 = std::max(u1, double(v[0]));
      v0 = std::min(v0, double(v[1])), v1 = std::max(v1, double(v[1]));
    }
    u0 *= scale, u1 *= scale, v0 *= scale, v1 *= scale;
    if (rotate)
      out.push_back({ox + v0, oy - u1, ox + v1, oy - u0});
    else
      out.push_back({ox + u0, oy + v0, ox + u1, oy + v1});
  }
  return out;
}

// Fills the union of rectangles: 4 x 4 samples per pixel, so overlapping quads (the font's strokes
// overlap at corners) count once, and edges off the pixel grid are smoothed.
void fill_rects(Image& img, const std::vector<Rect>& rects, Color c) {
  if (rects.empty()) return;
  constexpr int S = 4;
  double bx0 = 1e30, by0 = 1e30, bx1 = -1e30, by1 = -1e30;
  for (const Rect& r : rects)
    bx0 = std::min(bx0, r.x0), by0 = std::min(by0, r.y0), bx1 = std::max(bx1, r.x1), by1 = std::max(by1, r.y1);
  int px0 = std::max(0, static_cast<int>(std::floor(bx0))), py0 = std::max(0, static_cast<int>(std::floor(by0)));
  int px1 = std::min(img.width, static_cast<int>(std::ceil(bx1))), py1 = std::min(img.height, static_cast<int>(std::ceil(by1)));
  if (px1 <= px0 || py1 <= py0) return;
  const int w = (px1 - px0) * S, h = (py1 - py0) * S;
  std::vector<uint8_t> hit(size_t(w) * h, 0);
  for (const Rect& r : rects) {
    // samples (i + 0.5) / S inside [x0, x1)
    int i0 = std::max(0, static_cast<int>(std::ceil((r.x0 - px0) * S - 0.5)));
    int i1 = std::min(w, static_cast<int>(std::ceil((r.x1 - px0) * S - 0.5)));
    int j0 = std::max(0, static_cast<int>(std::ceil((r.y0 - py0) * S - 0.5)));
    int j1 = std::min(h, static_cast<int>(std::ceil((r.y1 - py0) * S - 0.5)));
    for (int j = j0; j < j1; ++j) std::fill(hit.begin() + size_t(j) * w + i0, hit.begin() + size_t(j) * w + std::max(i0, i1), 1);
  }
  for (int y = py0; y < py1; ++y)
    for (int x = px0; x < px1; ++x) {
      int cnt = 0;
      for (int j = 0; j < S; ++j)
        for (int i = 0; i < S; ++i) cnt += hit[size_t((y - py0) * S + j) * w + (x - px0) * S + i];
      blend(img, x, y, c, cnt / double(S * S));
    }
}

// ---------------------------------------------------------------- axes

struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  double frac(double v) const {
    return log ? (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo)) : (v - lo) / (hi - lo);
  }
  bool drawable(double v) const { return std::isfinite(v) && (!log || v > 0); }
};

// The next "nice" step at or above raw: 1, 2 or 5 times a power of ten.
double nice_step(double raw) {
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double n = raw / mag;
  return (n <= 1.0 + 1e-9 ? 1 : n <= 2.0 + 1e-9 ? 2 : n <= 5.0 + 1e-9 ? 5 : 10) * mag;
}

std::vector<double> linear_ticks(double lo, double hi, double step) {
  std::vector<double> t;
  if (!(step > 0) || !std::isfinite(lo / step) || !std::isfinite(hi / step)) return t;  // a degenerate range
  double k0 = std::ceil(lo / step - 1e-9), k1 = std::floor(hi / step + 1e-9);
  for (double k = k0; k <= k1 && t.size() < 1000; k += 1) {
    double v = k * step;
    if (std::fabs(v) < step * 1e-9) v = 0;  // no "-0"
    t.push_back(v);
  }
  return t;
}

// "2.5e6" / "1e-5" style: a mantissa of `sig` significant digits (trailing zeros dropped) and a
// plain exponent.
std::string fmt_sci(double v, int sig = 3) {
  if (v == 0) return "0";
  int e = static_cast<int>(std::floor(std::log10(std::fabs(v)) + 1e-9));
  double m = v / std::pow(10.0, e);
  char b[64];
  std::snprintf(b, sizeof b, "%.*ge%d", sig, m, e);
  return b;
}

std::string fmt_linear(double v, double step, double biggest) {
  if (biggest >= 1e6 || biggest < 1e-3) {
    // enough digits that neighbouring ticks differ (1.00001e-4 and 1.00002e-4 on a narrow range)
    int sig = std::clamp(static_cast<int>(std::ceil(std::log10(biggest / step) - 1e-9)) + 1, 2, 15);
    return fmt_sci(v, sig);
  }
  int decimals = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  // a step such as 0.25 (from fixed limits) needs one more digit than its magnitude says
  while (decimals < 12 && std::fabs(std::round(step * std::pow(10.0, decimals)) - step * std::pow(10.0, decimals)) > 1e-6)
    ++decimals;
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", std::min(decimals, 12), v);
  return b;
}

std::string fmt_log(double v, bool plain) {
  if (plain) {
    char b[64];
    std::snprintf(b, sizeof b, "%.10g", v);
    return b;
  }
  double e = std::log10(v);
  if (std::fabs(e - std::round(e)) < 1e-9 && std::round(e) == 0) return "1";
  return fmt_sci(v);
}

struct Ticks {
  std::vector<double> major, minor;  // minor: grid lines only
  std::vector<std::string> labels;
};

// Ticks for an axis `len_px` long, about `spacing_px` apart; `label_px(s)` measures a label along
// the axis, and labels must keep a gap between them.
template <typename Measure>
Ticks make_ticks(const Axis& a, double len_px, double spacing_px, Measure label_px) {
  Ticks t;
  if (!a.log) {
    double step = nice_step((a.hi - a.lo) / std::max(2.0, len_px / spacing_px));
    const double biggest = std::max(std::fabs(a.lo), std::fabs(a.hi));
    for (int guard = 0; guard < 20; ++guard) {
      t.major = linear_ticks(a.lo, a.hi, step);
      t.labels.clear();
      double widest = 0;
      for (double v : t.major) {
        t.labels.push_back(fmt_linear(v, step, biggest));
        widest = std::max(widest, label_px(t.labels.back()));
      }
      if (widest * 1.4 + 6 <= step / (a.hi - a.lo) * len_px) break;
      step = nice_step(step * 1.01);
    }
    return t;
  }
  const int k0 = static_cast<int>(std::ceil(std::log10(a.lo) - 1e-9)), k1 = static_cast<int>(std::floor(std::log10(a.hi) + 1e-9));
  const bool plain = k0 >= -3 && k1 <= 4;
  std::vector<double> decades;
  for (int k = k0; k <= k1; ++k) decades.push_back(std::pow(10.0, k));
  if (decades.size() < 2) {  // less than a decade: label 1-2-5 multiples too
    for (int k = k0 - 1; k <= k1; ++k)
      for (double m : {1.0, 2.0, 5.0}) {
        double v = m * std::pow(10.0, k);
        if (v >= a.lo * (1 - 1e-9) && v <= a.hi * (1 + 1e-9)) t.major.push_back(v);
      }
    std::sort(t.major.begin(), t.major.end());
    t.major.erase(std::unique(t.major.begin(), t.major.end()), t.major.end());
  } else {
    int every = 1;
    double per_decade = len_px / std::max(1e-9, std::log10(a.hi) - std::log10(a.lo));
    while (every < 100 && per_decade * every < spacing_px * 0.8) ++every;
    for (size_t i = 0; i < decades.size(); ++i)
      if ((k0 + static_cast<int>(i)) % every == 0) t.major.push_back(decades[i]);
    if (every == 1 && per_decade >= 40)
      for (int k = k0 - 1; k <= k1; ++k)
        for (int m = 2; m <= 9; ++m) {
          double v = m * std::pow(10.0, k);
          if (v > a.lo && v < a.hi) t.minor.push_back(v);
        }
  }
  if (t.major.size() < 2) {  // a narrow log range: linear ticks label it better
    Axis lin = a;
    lin.log = false;
    Ticks l = make_ticks(lin, len_px, spacing_px, label_px);
    l.minor.clear();
    return l;
  }
  for (double v : t.major) t.labels.push_back(fmt_log(v, plain));
  return t;
}

// Axis limits from the data and the fixed limits; `margin` adds a fraction of the range at both ends
// of an automatic linear limit.
Axis make_axis(std::vector<double> values, double fixed_lo, double fixed_hi, bool log, double margin, const char* name) {
  Axis a;
  a.log = log;
  FF_CHECK(std::isnan(fixed_lo) || std::isfinite(fixed_lo), "render_line_chart: ", name, "_min is ", fixed_lo);
  FF_CHECK(std::isnan(fixed_hi) || std::isfinite(fixed_hi), "render_line_chart: ", name, "_max is ", fixed_hi);
  FF_CHECK(!log || ((std::isnan(fixed_lo) || fixed_lo > 0) && (std::isnan(fixed_hi) || fixed_hi > 0)),
           "render_line_chart: a log ", name, " axis needs positive limits, got ", fixed_lo, " .. ", fixed_hi);
  FF_CHECK(std::isnan(fixed_lo) || std::isnan(fixed_hi) || fixed_lo < fixed_hi, "render_line_chart: ", name,
           "_min ", fixed_lo, " must be below ", name, "_max ", fixed_hi);
  // Data outside one fixed limit does not stretch the other.
  values.erase(std::remove_if(values.begin(), values.end(),
                              [&](double v) { return (!std::isnan(fixed_lo) && v < fixed_lo) || (!std::isnan(fixed_hi) && v > fixed_hi); }),
               values.end());
  double lo, hi;
  if (values.empty()) {
    lo = log ? 1 : 0, hi = log ? 10 : 1;
  } else {
    auto [mn, mx] = std::minmax_element(values.begin(), values.end());
    lo = *mn, hi = *mx;
    if (log) {
      lo = std::pow(10.0, std::floor(std::log10(lo) + 1e-9));
      hi = std::pow(10.0, std::ceil(std::log10(hi) - 1e-9));
      if (hi <= lo) lo /= 10, hi *= 10;
    } else if (hi > lo) {
      double m = (hi - lo) * margin;
      lo -= m, hi += m;
    } else {
      double d = lo != 0 ? std::fabs(lo) * 0.1 : 1.0;
      lo -= d, hi += d;
    }
  }
  if (!std::isnan(fixed_lo)) lo = fixed_lo;
  if (!std::isnan(fixed_hi)) hi = fixed_hi;
  if (!(hi > lo)) {  // one limit fixed beyond the data
    if (!std::isnan(fixed_lo))
      hi = log ? lo * 10 : lo + std::max(1.0, std::fabs(lo));
    else
      lo = log ? hi / 10 : hi - std::max(1.0, std::fabs(hi));
  }
  a.lo = lo, a.hi = hi;
  return a;
}

// The pixel column (row) of a 1-pixel line at edge coordinate v on an axis spanning [lo, hi]:
// the ends fall on the frame just outside the plot area.
int line_pixel(double v, int lo, int hi) {
  if (v <= lo) return lo - 1;
  if (v >= hi) return hi;
  return static_cast<int>(std::floor(v));
}

const Color kInk{40, 40, 40}, kFrame{90, 90, 90}, kGrid{222, 222, 222}, kMinorGrid{241, 241, 241};

}  // namespace

// ================================================================ charts

double ChartLayout::px(double x) const {
  Axis a{x_lo, x_hi, log_x};
  return plot_left + a.frac(x) * (plot_right - plot_left);
}
double ChartLayout::py(double y) const {
  Axis a{y_lo, y_hi, log_y};
  return plot_bottom - a.frac(y) * (plot_bottom - plot_top);
}

Image render_line_chart(const std::vector<Series>& series, const ChartOptions& o, ChartLayout* layout_out) {
  FF_CHECK(o.width >= 64 && o.width <= 8192 && o.height >= 64 && o.height <= 8192,
           "render_line_chart: size ", o.width, "x", o.height, " is outside 64..8192");
  FF_CHECK(o.text_scale >= 0 && o.text_scale <= 16, "render_line_chart: text_scale ", o.text_scale, " is outside 0..16");
  for (const Series& s : series) {
    FF_CHECK(s.x.size() == s.y.size(), "render_line_chart: series \"", s.name, "\" has ", s.x.size(), " x and ",
             s.y.size(), " y values");
    FF_CHECK(std::isfinite(s.width) && s.width > 0 && s.width <= 50, "render_line_chart: series \"", s.name,
             "\" has line width ", s.width);
  }
  // Axis limits from the drawable points (x and y both drawable).
  std::vector<double> xs, ys;
  Axis probe_x{1, 10, o.log_x}, probe_y{1, 10, o.log_y};
  for (const Series& s : series)
    for (size_t i = 0; i < s.x.size(); ++i)
      if (probe_x.drawable(s.x[i]) && probe_y.drawable(s.y[i])) {
        bool in_x = (std::isnan(o.x_min) || s.x[i] >= o.x_min) && (std::isnan(o.x_max) || s.x[i] <= o.x_max);
        xs.push_back(s.x[i]);
        if (in_x) ys.push_back(s.y[i]);  // y limits from the points inside fixed x limits
      }
  const bool no_data = xs.empty();
  Axis ax = make_axis(xs, o.x_min, o.x_max, o.log_x, 0.0, "x");
  Axis ay = make_axis(ys, o.y_min, o.y_max, o.log_y, 0.05, "y");

  const int s = o.text_scale > 0 ? o.text_scale
                                 : std::clamp(static_cast<int>(std::lround(std::min(o.width / 400.0, o.height / 250.0))), 1, 8);
  const int pad = 4 * s, tick_len = 2 * s + 1, cap = 7 * s, line_h = 9 * s;
  // Title scale: 1.5x the labels', smaller when the title would not fit the width.
  int ts = s + (s + 1) / 2;
  while (ts > 1 && !o.title.empty() && text_width(o.title, ts) > o.width - 2 * pad) --ts;

  ChartLayout L;
  L.log_x = ax.log, L.log_y = ay.log;
  L.x_lo = ax.lo, L.x_hi = ax.hi, L.y_lo = ay.lo, L.y_hi = ay.hi;
  L.plot_top = pad + (o.title.empty() ? cap / 2 : text_height(o.title, ts) + pad);
  L.plot_bottom = o.height - (pad + tick_len + pad / 2 + line_h + (o.x_label.empty() ? 0 : pad + line_h));
  FF_CHECK(L.plot_bottom - L.plot_top >= 16, "render_line_chart: ", o.width, "x", o.height,
           " leaves no room for the plot at text scale ", s);
  Ticks ty = make_ticks(ay, L.plot_bottom - L.plot_top, 12.0 * s + 26, [&](const std::string&) { return double(line_h); });
  int widest_y = 0;
  for (auto& l : ty.labels) widest_y = std::max(widest_y, text_width(l, s));
  L.plot_left = pad + (o.y_label.empty() ? 0 : line_h + pad) + widest_y + pad / 2 + tick_len;
  L.plot_right = o.width - pad - 2 * s;
  Ticks tx;
  for (int pass = 0; pass < 2; ++pass) {  // the last label may overhang the plot: make room once
    FF_CHECK(L.plot_right - L.plot_left >= 16, "render_line_chart: ", o.width, "x", o.height,
             " leaves no room for the plot at text scale ", s);
    tx = make_ticks(ax, L.plot_right - L.plot_left, 40.0 * s + 20, [&](const std::string& l) { return double(text_width(l, s)); });
    if (pass == 1 || tx.major.empty()) break;
    double over = L.px(tx.major.back()) + text_width(tx.labels.back(), s) / 2.0 - (o.width - pad);
    if (over <= 0) break;
    L.plot_right -= static_cast<int>(std::ceil(over));
  }
  L.x_ticks = tx.major, L.y_ticks = ty.major;
  L.x_tick_labels = tx.labels, L.y_tick_labels = ty.labels;

  Image img(o.width, o.height, 3, 255);
  const int pl = L.plot_left, pr = L.plot_right, pt = L.plot_top, pb = L.plot_bottom;
  // Grid: minor, then major lines, inside the plot area only.
  auto vgrid = [&](double v, Color c) {
    int col = line_pixel(L.px(v), pl, pr);
    if (col >= pl && col < pr) fill_rect(img, col, pt, col + 1, pb, c);
  };
  auto hgrid = [&](double v, Color c) {
    int row = line_pixel(L.py(v), pt, pb);
    if (row >= pt && row < pb) fill_rect(img, pl, row, pr, row + 1, c);
  };
  for (double v : tx.minor) vgrid(v, kMinorGrid);
  for (double v : ty.minor) hgrid(v, kMinorGrid);
  for (double v : tx.major) vgrid(v, kGrid);
  for (double v : ty.major) hgrid(v, kGrid);

  // Series, clipped to the plot area. `ink` keeps the union for placing the legend.
  Mask ink(pl, pt, pr - pl, pb - pt);
  std::vector<bool> has_data(series.size(), false);
  for (size_t si = 0; si < series.size(); ++si) {
    const Series& sr = series[si];
    Mask m(pl, pt, pr - pl, pb - pt);
    const double hw = sr.width / 2;
    auto ok = [&](size_t i) { return ax.drawable(sr.x[i]) && ay.drawable(sr.y[i]); };
    for (size_t i = 0; i < sr.x.size(); ++i) {
      if (!ok(i)) continue;
      has_data[si] = true;
      double x0 = L.px(sr.x[i]), y0 = L.py(sr.y[i]);
      bool next = i + 1 < sr.x.size() && ok(i + 1), prev = i > 0 && ok(i - 1);
      if (next)
        stroke_segment(m, x0, y0, L.px(sr.x[i + 1]), L.py(sr.y[i + 1]), hw);
      else if (!prev)
        stroke_disc(m, x0, y0, std::max(hw, 1.0) + 0.5);  // an isolated point
      if (sr.markers) stroke_disc(m, x0, y0, std::max(2.0 * hw, 2.0));
    }
    m.composite(img, sr.color ? *sr.color : palette_color(static_cast<int>(si)));
    for (size_t k = 0; k < m.a.size(); ++k) ink.a[k] = std::max(ink.a[k], m.a[k]);
  }

  // Frame, ticks and tick labels.
  fill_rect(img, pl - 1, pt - 1, pr + 1, pt, kFrame);
  fill_rect(img, pl - 1, pb, pr + 1, pb + 1, kFrame);
  fill_rect(img, pl - 1, pt - 1, pl, pb + 1, kFrame);
  fill_rect(img, pr, pt - 1, pr + 1, pb + 1, kFrame);
  for (size_t i = 0; i < tx.major.size(); ++i) {
    int col = line_pixel(L.px(tx.major[i]), pl, pr);
    fill_rect(img, col, pb + 1, col + 1, pb + 1 + tick_len, kFrame);
    int w = text_width(tx.labels[i], s);
    draw_text(img, col - w / 2, pb + 1 + tick_len + pad / 2, tx.labels[i], kInk, s);
  }
  for (size_t i = 0; i < ty.major.size(); ++i) {
    int row = line_pixel(L.py(ty.major[i]), pt, pb);
    fill_rect(img, pl - 1 - tick_len, row, pl - 1, row + 1, kFrame);
    int w = text_width(ty.labels[i], s);
    draw_text(img, pl - 1 - tick_len - pad / 2 - w, row - cap / 2, ty.labels[i], kInk, s);
  }
  // Axis titles and the title.
  if (!o.x_label.empty())
    draw_text(img, (pl + pr) / 2 - text_width(o.x_label, s) / 2, o.height - pad - line_h, o.x_label, kInk, s);
  if (!o.y_label.empty()) {
    int w = text_width(o.y_label, s);
    fill_rects(img, text_rects(o.y_label, pad, (pt + pb) / 2 + w / 2, s, true), kInk);
  }
  if (!o.title.empty()) {  // centred over the plot, moved left if it would leave the image
    const int w = text_width(o.title, ts);
    draw_text(img, std::max(pad, std::min((pl + pr) / 2 - w / 2, o.width - pad - w)), pad, o.title, kInk, ts);
  }
  if (no_data) {
    const std::string msg = "no data";
    draw_text(img, (pl + pr) / 2 - text_width(msg, s) / 2, (pt + pb) / 2 - cap / 2, msg, Color{150, 150, 150}, s);
  }

  // Legend: one row per named series, in the corner that covers the least ink.
  std::vector<size_t> entries;
  for (size_t i = 0; i < series.size(); ++i)
    if (!series[i].name.empty()) entries.push_back(i);
  if (o.legend != LegendPlace::None && !entries.empty()) {
    auto label = [&](size_t i) { return series[i].name + (has_data[i] ? "" : " (no data)"); };
    const int row_h = 12 * s, sample = 8 * s + 8, gap = 2 * s + 2, lpad = 3 * s + 2;
    int text_w = 0;
    for (size_t i : entries) text_w = std::max(text_w, text_width(label(i), s));
    const int bw = lpad + sample + gap + text_w + lpad, bh = lpad * 2 + (int(entries.size()) - 1) * row_h + line_h;
    const int margin = 2 * s + 4;
    if (bw + 2 * margin <= pr - pl && bh + 2 * margin <= pb - pt) {
      auto corner = [&](LegendPlace p, int* x, int* y) {
        bool left = p == LegendPlace::TopLeft || p == LegendPlace::BottomLeft;
        bool top = p == LegendPlace::TopLeft || p == LegendPlace::TopRight;
        *x = left ? pl + margin : pr - margin - bw;
        *y = top ? pt + margin : pb - margin - bh;
      };
      LegendPlace place = o.legend;
      if (place == LegendPlace::Auto) {
        double best = 1e300;
        for (LegendPlace p : {LegendPlace::TopRight, LegendPlace::TopLeft, LegendPlace::BottomRight, LegendPlace::BottomLeft}) {
          int x, y;
          corner(p, &x, &y);
          double covered = 0;
          for (int yy = y; yy < y + bh; ++yy)
            for (int xx = x; xx < x + bw; ++xx) covered += ink.get(xx, yy);
          if (covered < best - 1e-9) best = covered, place = p;
        }
      }
      int bx, by;
      corner(place, &bx, &by);
      fill_rect(img, bx, by, bx + bw, by + bh, Color{255, 255, 255}, 0.88);
      fill_rect(img, bx, by, bx + bw, by + 1, Color{200, 200, 200});
      fill_rect(img, bx, by + bh - 1, bx + bw, by + bh, Color{200, 200, 200});
      fill_rect(img, bx, by, bx + 1, by + bh, Color{200, 200, 200});
      fill_rect(img, bx + bw - 1, by, bx + bw, by + bh, Color{200, 200, 200});
      for (size_t r = 0; r < entries.size(); ++r) {
        const Series& sr = series[entries[r]];
        Color c = sr.color ? *sr.color : palette_color(static_cast<int>(entries[r]));
        int ty0 = by + lpad + int(r) * row_h;
        double ly = ty0 + cap / 2.0;  // middle of the caps
        Mask m = Mask::over(img);
        stroke_segment(m, bx + lpad, ly, bx + lpad + sample, ly, sr.width / 2);
        if (sr.markers) stroke_disc(m, bx + lpad + sample / 2.0, ly, std::max(sr.width, 2.0));
        m.composite(img, c);
        draw_text(img, bx + lpad + sample + gap, ty0, label(entries[r]), kInk, s);
      }
      L.legend_left = bx, L.legend_top = by, L.legend_right = bx + bw, L.legend_bottom = by + bh;
    }
  }
  if (layout_out) *layout_out = L;
  return img;
}

void save_line_chart(const std::string& path, const std::vector<Series>& series, const ChartOptions& options,
                     ChartLayout* layout) {
  save_png(render_line_chart(series, options, layout), path);
}

// ================================================================ drawing on images

void draw_line(Image& img, double x0, double y0, double x1, double y1, Color color, double width) {
  check_drawable(img, "draw_line");
  FF_CHECK(std::isfinite(x0) && std::isfinite(y0) && std::isfinite(x1) && std::isfinite(y1) && width > 0,
           "draw_line: bad line (", x0, ", ", y0, ") - (", x1, ", ", y1, ") width ", width);
  Mask m = Mask::over(img);
  stroke_segment(m, x0 + 0.5, y0 + 0.5, x1 + 0.5, y1 + 0.5, width / 2);
  m.composite(img, color);
}

void draw_disc(Image& img, double x, double y, double radius, Color color) {
  check_drawable(img, "draw_disc");
  FF_CHECK(std::isfinite(x) && std::isfinite(y) && radius > 0, "draw_disc: bad disc at (", x, ", ", y, ") radius ", radius);
  Mask m = Mask::over(img);
  stroke_disc(m, x + 0.5, y + 0.5, radius);
  m.composite(img, color);
}

void draw_marker(Image& img, double x, double y, Color color, Marker kind, double size, double width) {
  check_drawable(img, "draw_marker");
  FF_CHECK(std::isfinite(x) && std::isfinite(y) && size > 0 && width > 0, "draw_marker: bad marker at (", x, ", ", y,
           ") size ", size, " width ", width);
  Mask m = Mask::over(img);
  const double cx = x + 0.5, cy = y + 0.5, hw = width / 2;
  switch (kind) {
    case Marker::Cross: {
      double d = size / std::sqrt(2.0);
      stroke_segment(m, cx - d, cy - d, cx + d, cy + d, hw);
      stroke_segment(m, cx - d, cy + d, cx + d, cy - d, hw);
      break;
    }
    case Marker::Plus:
      stroke_segment(m, cx - size, cy, cx + size, cy, hw);
      stroke_segment(m, cx, cy - size, cx, cy + size, hw);
      break;
    case Marker::Dot:
      stroke_disc(m, cx, cy, size);
      break;
    case Marker::Circle:
      stroke_disc(m, cx, cy, size, hw);
      break;
  }
  m.composite(img, color);
}

void draw_rect(Image& img, double x0, double y0, double x1, double y1, Color color, double width) {
  check_drawable(img, "draw_rect");
  FF_CHECK(std::isfinite(x0) && std::isfinite(y0) && std::isfinite(x1) && std::isfinite(y1) && width > 0,
           "draw_rect: bad rectangle (", x0, ", ", y0, ") - (", x1, ", ", y1, ") width ", width);
  Mask m = Mask::over(img);
  const double a = x0 + 0.5, b = y0 + 0.5, c = x1 + 0.5, d = y1 + 0.5, hw = width / 2;
  stroke_segment(m, a, b, c, b, hw);
  stroke_segment(m, c, b, c, d, hw);
  stroke_segment(m, c, d, a, d, hw);
  stroke_segment(m, a, d, a, b, hw);
  m.composite(img, color);
}

void fill_rect(Image& img, int x0, int y0, int x1, int y1, Color color, double alpha) {
  check_drawable(img, "fill_rect");
  FF_CHECK(alpha >= 0 && alpha <= 1, "fill_rect: alpha ", alpha, " is outside [0, 1]");
  x0 = std::max(x0, 0), y0 = std::max(y0, 0), x1 = std::min(x1, img.width), y1 = std::min(y1, img.height);
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) blend(img, x, y, color, alpha);
}

int text_width(const std::string& text, int scale) {
  std::string s = sanitize(text);
  int w = stb_easy_font_width(s.data());
  return std::max(0, w - 1) * scale;  // the last advance includes a gap after the glyph
}

int text_height(const std::string& text, int scale) {
  if (text.empty()) return 0;
  int lines = 1 + static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  return (12 * (lines - 1) + 9) * scale;  // 12 units per line; caps 7 units, descenders 2 more
}

void draw_text(Image& img, int x, int y, const std::string& text, Color color, int scale, std::optional<Color> background) {
  check_drawable(img, "draw_text");
  FF_CHECK(scale >= 1 && scale <= 64, "draw_text: scale ", scale, " is outside 1..64");
  if (text.empty()) return;
  if (background)
    fill_rect(img, x - scale, y - scale, x + text_width(text, scale) + scale, y + text_height(text, scale) + scale,
              *background);
  fill_rects(img, text_rects(text, x, y, scale), color);
}

Image montage(const std::vector<Image>& images, const std::vector<std::string>& captions, int cols, int pad,
              Color background, int text_scale) {
  FF_CHECK(!images.empty(), "montage: no images");
  FF_CHECK(captions.empty() || captions.size() == images.size(), "montage: ", captions.size(), " captions for ",
           images.size(), " images");
  FF_CHECK(pad >= 0 && cols >= 0 && text_scale >= 1, "montage: bad layout (cols ", cols, ", pad ", pad,
           ", text_scale ", text_scale, ")");
  int cw = 0, ch = 0, cap_h = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    check_drawable(images[i], "montage");
    cw = std::max(cw, images[i].width), ch = std::max(ch, images[i].height);
    if (!captions.empty()) cap_h = std::max(cap_h, text_height(captions[i], text_scale));
  }
  if (cap_h > 0) cap_h += std::max(pad, 2 * text_scale);
  const int n = static_cast<int>(images.size());
  const int c = cols == 0 ? n : std::min(cols, n), rows = (n + c - 1) / c;
  Image out(pad + c * (cw + pad), pad + rows * (ch + cap_h + pad), 3, 0);
  fill_rect(out, 0, 0, out.width, out.height, background);
  const Color ink = luma(background) > 128 ? Color{30, 30, 30} : Color{235, 235, 235};
  for (int i = 0; i < n; ++i) {
    Image im = to_channels(images[i], 3);
    int cx = pad + (i % c) * (cw + pad), cy = pad + (i / c) * (ch + cap_h + pad);
    int ox = cx + (cw - im.width) / 2, oy = cy + (ch - im.height) / 2;
    for (int y = 0; y < im.height; ++y)
      std::copy_n(&im.at(0, y, 0), size_t(im.width) * 3, &out.at(ox, oy + y, 0));
    if (!captions.empty() && !captions[i].empty()) {
      std::string cap = captions[i];
      if (text_width(cap, text_scale) > cw + pad) {  // shorten to the cell, marking the cut
        while (cap.size() > 1 && text_width(cap + "..", text_scale) > cw + pad) cap.pop_back();
        cap += "..";
      }
      draw_text(out, cx + (cw - text_width(cap, text_scale)) / 2, cy + ch + std::max(pad, 2 * text_scale) / 2, cap, ink,
                text_scale);
    }
  }
  return out;
}

}  // namespace ff
