// report/chart.cpp — line charts with Cairo (see report/chart.h): axis limits and "nice" ticks,
// the layout from the font's metrics, and one drawing routine for the SVG and the image surface.
#include "report/chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <cairo-svg.h>

#include "engine/error.h"
#include "engine/safetensors.h"
#include "report/cairo_util.h"
#include "report/html.h"  // html_escape, valid in XML too

namespace ff {

namespace cu = cairo_util;

namespace {

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
  FF_CHECK(std::isnan(fixed_lo) || std::isfinite(fixed_lo), "line chart: ", name, "_min is ", fixed_lo);
  FF_CHECK(std::isnan(fixed_hi) || std::isfinite(fixed_hi), "line chart: ", name, "_max is ", fixed_hi);
  FF_CHECK(!log || ((std::isnan(fixed_lo) || fixed_lo > 0) && (std::isnan(fixed_hi) || fixed_hi > 0)),
           "line chart: a log ", name, " axis needs positive limits, got ", fixed_lo, " .. ", fixed_hi);
  FF_CHECK(std::isnan(fixed_lo) || std::isnan(fixed_hi) || fixed_lo < fixed_hi, "line chart: ", name,
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

const Color kInk{40, 40, 40}, kFrame{90, 90, 90}, kGrid{222, 222, 222}, kMinorGrid{241, 241, 241},
    kNoData{150, 150, 150}, kLegendEdge{200, 200, 200};

// The pixel column (row) of a 1-pixel line at edge coordinate v on an axis spanning [lo, hi]:
// the ends fall on the frame just outside the plot area.
int line_pixel(double v, int lo, int hi) {
  if (v <= lo) return lo - 1;
  if (v >= hi) return hi;
  return static_cast<int>(std::floor(v));
}

// A 1-pixel-wide rectangle of whole pixels [x, x + w) x [y, y + h), filled.
void fill_px(cairo_t* cr, double x, double y, double w, double h, Color c, double alpha = 1.0) {
  cairo_rectangle(cr, x, y, w, h);
  cu::set_color(cr, c, alpha);
  cairo_fill(cr);
}

Color series_color(const std::vector<Series>& series, size_t i) {
  return series[i].color ? *series[i].color : palette_color(static_cast<int>(i));
}

// Everything the drawing needs, decided before any surface exists.
struct Plan {
  ChartLayout L;
  Axis ax, ay;
  std::vector<double> x_minor, y_minor;
  double fs = 12, ts = 15;       // label and title font sizes
  double line_h = 14, ascent = 11, cap = 9;  // label line height, ascent, capital height
  int pad = 6, tick_len = 5;
  bool no_data = false;
  std::vector<bool> has_data;
  // The drawable points of each series as runs (a NaN or an undrawable point ends a run), in
  // pixel-edge coordinates, decimated for drawing.
  std::vector<std::vector<std::vector<std::pair<double, double>>>> runs;
  std::vector<std::vector<std::pair<double, double>>> dots;  // every drawable point (markers)
  std::vector<size_t> legend_rows;  // series with a name
  int legend_row_h = 0, legend_sample = 0, legend_gap = 0, legend_pad = 0;
};

// Keeps, of each maximal stretch of consecutive points in one pixel column, the first, the lowest,
// the highest and the last (in their order): a run with more than 4 points per column looks the
// same drawn through them.
std::vector<std::pair<double, double>> decimate(const std::vector<std::pair<double, double>>& run, int columns) {
  if (run.size() <= static_cast<size_t>(4 * std::max(columns, 1))) return run;
  std::vector<std::pair<double, double>> out;
  size_t b = 0;
  while (b < run.size()) {
    const double col = std::floor(run[b].first);
    size_t e = b, lo = b, hi = b;
    while (e < run.size() && std::floor(run[e].first) == col) {
      if (run[e].second < run[lo].second) lo = e;
      if (run[e].second > run[hi].second) hi = e;
      ++e;
    }
    std::vector<size_t> keep = {b, lo, hi, e - 1};
    std::sort(keep.begin(), keep.end());
    keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
    for (size_t k : keep) out.push_back(run[k]);
    b = e;
  }
  return out;
}

Plan make_plan(const std::vector<Series>& series, const ChartOptions& o) {
  FF_CHECK(o.width >= 64 && o.width <= 8192 && o.height >= 64 && o.height <= 8192, "line chart: size ",
           o.width, "x", o.height, " is outside 64..8192");
  FF_CHECK(o.font_size == 0 || (o.font_size >= 4 && o.font_size <= 200), "line chart: font size ",
           o.font_size, " is outside 4..200 (or 0: automatic)");
  for (const Series& s : series) {
    FF_CHECK(s.x.size() == s.y.size(), "line chart: series \"", s.name, "\" has ", s.x.size(), " x and ",
             s.y.size(), " y values");
    FF_CHECK(std::isfinite(s.width) && s.width > 0 && s.width <= 50, "line chart: series \"", s.name,
             "\" has line width ", s.width);
  }
  Plan P;
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
  P.no_data = xs.empty();
  P.ax = make_axis(xs, o.x_min, o.x_max, o.log_x, 0.0, "x");
  P.ay = make_axis(ys, o.y_min, o.y_max, o.log_y, 0.05, "y");

  // Text sizes: labels about 2.2% of the width or 3.2% of the height, whichever is smaller.
  P.fs = o.font_size > 0 ? o.font_size : std::clamp(std::min(0.022 * o.width, 0.032 * o.height), 9.0, 96.0);
  const cu::TextBox m = cu::measure("0", P.fs);
  P.line_h = m.line_height, P.ascent = m.ascent, P.cap = 0.73 * P.fs;
  P.pad = std::max(3, static_cast<int>(std::lround(0.5 * P.fs)));
  P.tick_len = static_cast<int>(std::lround(0.35 * P.fs)) + 1;
  auto width_of = [](const std::string& s, double size) { return cu::measure(s, size).width; };
  // The title: 1.25x the labels, smaller when it would not fit the width.
  P.ts = 1.25 * P.fs;
  while (P.ts > 6 && !o.title.empty() && width_of(o.title, P.ts) > o.width - 2 * P.pad) P.ts *= 0.92;

  ChartLayout& L = P.L;
  L.log_x = P.ax.log, L.log_y = P.ay.log;
  L.x_lo = P.ax.lo, L.x_hi = P.ax.hi, L.y_lo = P.ay.lo, L.y_hi = P.ay.hi;
  const double title_h = o.title.empty() ? 0 : cu::measure(o.title, P.ts).height;
  if (!o.title.empty()) L.title_top = P.pad, L.title_bottom = P.pad + static_cast<int>(std::ceil(title_h));
  L.plot_top = static_cast<int>(std::lround(P.pad + (o.title.empty() ? P.line_h / 2 : title_h + P.pad / 2.0)));
  L.plot_bottom = static_cast<int>(std::lround(
      o.height - (P.pad + P.tick_len + P.pad / 2.0 + P.line_h + (o.x_label.empty() ? 0 : P.pad / 2.0 + P.line_h))));
  FF_CHECK(L.plot_bottom - L.plot_top >= 16, "line chart: ", o.width, "x", o.height,
           " leaves no room for the plot at font size ", P.fs);
  Ticks ty = make_ticks(P.ay, L.plot_bottom - L.plot_top, 2.6 * P.line_h, [&](const std::string&) { return P.line_h; });
  double widest_y = 0;
  for (auto& l : ty.labels) widest_y = std::max(widest_y, width_of(l, P.fs));
  L.plot_left = static_cast<int>(std::ceil(P.pad + (o.y_label.empty() ? 0 : P.line_h + P.pad / 2.0) + widest_y +
                                           P.pad / 2.0 + P.tick_len));
  L.plot_right = o.width - P.pad - static_cast<int>(std::lround(0.3 * P.fs));
  Ticks tx;
  for (int pass = 0; pass < 2; ++pass) {  // the last label may overhang the plot: make room once
    FF_CHECK(L.plot_right - L.plot_left >= 16, "line chart: ", o.width, "x", o.height,
             " leaves no room for the plot at font size ", P.fs);
    tx = make_ticks(P.ax, L.plot_right - L.plot_left, 5.0 * P.fs + 16,
                    [&](const std::string& l) { return width_of(l, P.fs); });
    if (pass == 1 || tx.major.empty()) break;
    double over = L.px(tx.major.back()) + width_of(tx.labels.back(), P.fs) / 2.0 - (o.width - P.pad);
    if (over <= 0) break;
    L.plot_right -= static_cast<int>(std::ceil(over));
  }
  L.x_ticks = tx.major, L.y_ticks = ty.major;
  L.x_tick_labels = tx.labels, L.y_tick_labels = ty.labels;
  P.x_minor = tx.minor, P.y_minor = ty.minor;

  // The series as runs of drawable points, in pixel-edge coordinates; `ink` samples every line
  // every 2 pixels, for placing the legend.
  std::vector<std::pair<double, double>> ink;
  P.has_data.assign(series.size(), false);
  P.runs.resize(series.size());
  P.dots.resize(series.size());
  for (size_t si = 0; si < series.size(); ++si) {
    const Series& sr = series[si];
    std::vector<std::pair<double, double>> run;
    auto end_run = [&] {
      if (!run.empty()) P.runs[si].push_back(decimate(run, L.plot_right - L.plot_left));
      run.clear();
    };
    for (size_t i = 0; i < sr.x.size(); ++i) {
      if (!P.ax.drawable(sr.x[i]) || !P.ay.drawable(sr.y[i])) {
        end_run();
        continue;
      }
      P.has_data[si] = true;
      const std::pair<double, double> p{L.px(sr.x[i]), L.py(sr.y[i])};
      if (!run.empty()) {
        const double dx = p.first - run.back().first, dy = p.second - run.back().second;
        const int steps = std::clamp(static_cast<int>(std::hypot(dx, dy) / 2), 1, 4096);
        for (int k = 0; k < steps; ++k) ink.emplace_back(run.back().first + dx * k / steps, run.back().second + dy * k / steps);
      }
      ink.push_back(p);
      run.push_back(p);
      P.dots[si].push_back(p);
    }
    end_run();
  }

  // Legend: one row per named series, in the corner that the lines pass through least.
  for (size_t i = 0; i < series.size(); ++i)
    if (!series[i].name.empty()) P.legend_rows.push_back(i);
  if (o.legend != LegendPlace::None && !P.legend_rows.empty()) {
    P.legend_row_h = static_cast<int>(std::lround(1.15 * P.line_h));
    P.legend_sample = static_cast<int>(std::lround(2.2 * P.fs));
    P.legend_gap = static_cast<int>(std::lround(0.5 * P.fs));
    P.legend_pad = static_cast<int>(std::lround(0.45 * P.fs)) + 1;
    double text_w = 0;
    for (size_t i : P.legend_rows)
      text_w = std::max(text_w, width_of(series[i].name + (P.has_data[i] ? "" : " (no data)"), P.fs));
    const int bw = P.legend_pad * 2 + P.legend_sample + P.legend_gap + static_cast<int>(std::ceil(text_w));
    const int bh = P.legend_pad * 2 + static_cast<int>(P.legend_rows.size() - 1) * P.legend_row_h +
                   static_cast<int>(std::ceil(P.line_h));
    const int margin = static_cast<int>(std::lround(0.5 * P.fs));
    const int pl = L.plot_left, pr = L.plot_right, pt = L.plot_top, pb = L.plot_bottom;
    if (bw + 2 * margin <= pr - pl && bh + 2 * margin <= pb - pt) {
      auto corner = [&](LegendPlace p, int* x, int* y) {
        bool left = p == LegendPlace::TopLeft || p == LegendPlace::BottomLeft;
        bool top = p == LegendPlace::TopLeft || p == LegendPlace::TopRight;
        *x = left ? pl + margin : pr - margin - bw;
        *y = top ? pt + margin : pb - margin - bh;
      };
      LegendPlace place = o.legend;
      if (place == LegendPlace::Auto) {
        size_t best = ink.size() + 1;
        for (LegendPlace p : {LegendPlace::TopRight, LegendPlace::TopLeft, LegendPlace::BottomRight, LegendPlace::BottomLeft}) {
          int x, y;
          corner(p, &x, &y);
          size_t covered = 0;
          for (const auto& q : ink)  // a line just outside the box is hidden by its stroke too
            covered += q.first > x - 2 && q.first < x + bw + 2 && q.second > y - 2 && q.second < y + bh + 2;
          if (covered < best) best = covered, place = p;
        }
      }
      int bx, by;
      corner(place, &bx, &by);
      L.legend_left = bx, L.legend_top = by, L.legend_right = bx + bw, L.legend_bottom = by + bh;
    }
  }
  return P;
}

// Draws the planned chart on cr, whose user space is the chart's pixel-edge coordinates.
void draw_chart(cairo_t* cr, const Plan& P, const std::vector<Series>& series, const ChartOptions& o) {
  const ChartLayout& L = P.L;
  const int pl = L.plot_left, pr = L.plot_right, pt = L.plot_top, pb = L.plot_bottom;
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);

  // Grid: minor, then major lines, one pixel wide on whole pixels, inside the plot area only.
  auto vgrid = [&](double v, Color c) {
    int col = line_pixel(L.px(v), pl, pr);
    if (col >= pl && col < pr) fill_px(cr, col, pt, 1, pb - pt, c);
  };
  auto hgrid = [&](double v, Color c) {
    int row = line_pixel(L.py(v), pt, pb);
    if (row >= pt && row < pb) fill_px(cr, pl, row, pr - pl, 1, c);
  };
  for (double v : P.x_minor) vgrid(v, kMinorGrid);
  for (double v : P.y_minor) hgrid(v, kMinorGrid);
  for (double v : L.x_ticks) vgrid(v, kGrid);
  for (double v : L.y_ticks) hgrid(v, kGrid);

  // Series, clipped to the plot area.
  cairo_save(cr);
  cairo_rectangle(cr, pl, pt, pr - pl, pb - pt);
  cairo_clip(cr);
  for (size_t si = 0; si < series.size(); ++si) {
    const Series& sr = series[si];
    cu::set_color(cr, series_color(series, si));
    cairo_set_line_width(cr, sr.width);
    bool any_line = false;
    for (const auto& run : P.runs[si]) {
      if (run.size() < 2) continue;
      cairo_move_to(cr, run[0].first, run[0].second);
      for (size_t k = 1; k < run.size(); ++k) cairo_line_to(cr, run[k].first, run[k].second);
      any_line = true;
    }
    if (any_line) cairo_stroke(cr);
    for (const auto& run : P.runs[si])  // an isolated point: a dot
      if (run.size() == 1) {
        cairo_new_sub_path(cr);
        cairo_arc(cr, run[0].first, run[0].second, std::max(sr.width / 2, 1.0) + 0.5, 0, 2 * M_PI);
      }
    if (sr.markers)
      for (const auto& d : P.dots[si]) {
        cairo_new_sub_path(cr);
        cairo_arc(cr, d.first, d.second, std::max(1.5 * sr.width, 2.5), 0, 2 * M_PI);
      }
    cairo_fill(cr);
  }
  cairo_restore(cr);

  // Frame, ticks and tick labels.
  cairo_rectangle(cr, pl - 0.5, pt - 0.5, pr - pl + 1, pb - pt + 1);
  cairo_set_line_width(cr, 1);
  cu::set_color(cr, kFrame);
  cairo_stroke(cr);
  cu::set_font(cr, P.fs);
  auto label = [&](double x, double y, const std::string& s, Color c) {
    cu::set_color(cr, c);
    cu::show_text(cr, x, y, s);
  };
  auto width_of = [&](const std::string& s) { return cu::measure(cr, s).width; };
  for (size_t i = 0; i < L.x_ticks.size(); ++i) {
    int col = line_pixel(L.px(L.x_ticks[i]), pl, pr);
    fill_px(cr, col, pb + 1, 1, P.tick_len, kFrame);
    label(col + 0.5 - width_of(L.x_tick_labels[i]) / 2, pb + 1 + P.tick_len + P.pad / 2.0, L.x_tick_labels[i], kInk);
  }
  for (size_t i = 0; i < L.y_ticks.size(); ++i) {
    int row = line_pixel(L.py(L.y_ticks[i]), pt, pb);
    fill_px(cr, pl - 1 - P.tick_len, row, P.tick_len, 1, kFrame);
    // the capitals' middle on the tick
    label(pl - 1 - P.tick_len - P.pad / 2.0 - width_of(L.y_tick_labels[i]), row + 0.5 + P.cap / 2 - P.ascent,
          L.y_tick_labels[i], kInk);
  }
  // Axis titles and the title.
  if (!o.x_label.empty())
    label((pl + pr) / 2.0 - width_of(o.x_label) / 2, o.height - P.pad - P.line_h, o.x_label, kInk);
  if (!o.y_label.empty()) {  // reading upwards, centred on the plot area
    cairo_save(cr);
    cairo_translate(cr, P.pad, (pt + pb) / 2.0);
    cairo_rotate(cr, -M_PI / 2);
    cu::set_color(cr, kInk);
    cu::show_text(cr, -width_of(o.y_label) / 2, 0, o.y_label, false);
    cairo_restore(cr);
  }
  if (P.no_data) label((pl + pr) / 2.0 - width_of("no data") / 2, (pt + pb) / 2.0 - P.line_h / 2, "no data", kNoData);
  if (!o.title.empty()) {  // centred over the plot, moved left if it would leave the image
    cu::set_font(cr, P.ts);
    const double w = cu::measure(cr, o.title).width;
    label(std::max<double>(P.pad, std::min((pl + pr) / 2.0 - w / 2, o.width - P.pad - w)), L.title_top, o.title, kInk);
    cu::set_font(cr, P.fs);
  }

  // Legend.
  if (L.legend_right > L.legend_left) {
    const int bx = L.legend_left, by = L.legend_top, bw = L.legend_right - bx, bh = L.legend_bottom - by;
    fill_px(cr, bx, by, bw, bh, Color{255, 255, 255}, 0.88);
    cairo_rectangle(cr, bx + 0.5, by + 0.5, bw - 1, bh - 1);
    cu::set_color(cr, kLegendEdge);
    cairo_stroke(cr);
    for (size_t r = 0; r < P.legend_rows.size(); ++r) {
      const size_t si = P.legend_rows[r];
      const Series& sr = series[si];
      const double top = by + P.legend_pad + static_cast<double>(r) * P.legend_row_h;
      const double mid = top + P.ascent - P.cap / 2;  // the capitals' middle
      cu::set_color(cr, series_color(series, si));
      cairo_set_line_width(cr, sr.width);
      cairo_move_to(cr, bx + P.legend_pad, mid);
      cairo_line_to(cr, bx + P.legend_pad + P.legend_sample, mid);
      cairo_stroke(cr);
      if (sr.markers) {
        cairo_arc(cr, bx + P.legend_pad + P.legend_sample / 2.0, mid, std::max(1.5 * sr.width, 2.5), 0, 2 * M_PI);
        cairo_fill(cr);
      }
      label(bx + P.legend_pad + P.legend_sample + P.legend_gap, top, sr.name + (P.has_data[si] ? "" : " (no data)"),
            kInk);
    }
  }
}

cairo_status_t append_to_string(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

}  // namespace

double ChartLayout::px(double x) const {
  Axis a{x_lo, x_hi, log_x};
  return plot_left + a.frac(x) * (plot_right - plot_left);
}
double ChartLayout::py(double y) const {
  Axis a{y_lo, y_hi, log_y};
  return plot_bottom - a.frac(y) * (plot_bottom - plot_top);
}

Image render_line_chart(const std::vector<Series>& series, const ChartOptions& o, ChartLayout* layout) {
  const Plan P = make_plan(series, o);
  Image img(o.width, o.height, 3, 255);
  cairo_surface_t* s = cu::surface_from_image(img, "render_line_chart");
  cairo_t* cr = cairo_create(s);
  draw_chart(cr, P, series, o);
  const cairo_status_t st = cairo_status(cr);
  cairo_destroy(cr);
  if (st == CAIRO_STATUS_SUCCESS) cu::surface_to_image(s, img);
  cairo_surface_destroy(s);
  cu::check(st, "render_line_chart");
  if (layout) *layout = P.L;
  return img;
}

std::string line_chart_svg(const std::vector<Series>& series, const ChartOptions& o, ChartLayout* layout) {
  const Plan P = make_plan(series, o);
  std::string svg;
  cairo_surface_t* s = cairo_svg_surface_create_for_stream(append_to_string, &svg, o.width, o.height);
  cairo_svg_surface_set_document_unit(s, CAIRO_SVG_UNIT_PX);
  cairo_t* cr = cairo_create(s);
  draw_chart(cr, P, series, o);
  cairo_status_t st = cairo_status(cr);
  cairo_destroy(cr);
  cairo_surface_finish(s);
  if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_status(s);
  cairo_surface_destroy(s);
  cu::check(st, "line_chart_svg");
  // Cairo names the drawing after a process-wide surface counter: the same chart gives the same file.
  const size_t id = svg.find("<g id=\"surface");
  if (id != std::string::npos) {
    const size_t q = svg.find('"', id + 7);
    if (q != std::string::npos) svg.replace(id + 7, q - id - 7, "chart");
  }
  if (!o.title.empty()) {  // the title as the document's title, after the opening <svg ...> tag
    const size_t open = svg.find("<svg");
    const size_t end = open == std::string::npos ? open : svg.find('>', open);
    FF_CHECK(end != std::string::npos, "line_chart_svg: Cairo wrote no <svg> element");
    svg.insert(end + 1, "\n<title>" + html_escape(cu::clean_utf8(o.title)) + "</title>");
  }
  if (layout) *layout = P.L;
  return svg;
}

void save_line_chart(const std::string& path, const std::vector<Series>& series, const ChartOptions& options,
                     ChartLayout* layout) {
  std::string ext = path.size() >= 4 ? path.substr(path.size() - 4) : "";
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  try {
    if (ext == ".svg") {
      write_file_atomic(path, line_chart_svg(series, options, layout), "save_line_chart");
    } else if (ext == ".png") {
      save_png(render_line_chart(series, options, layout), path);
    } else {
      FF_FAIL("save_line_chart: ", path, ": unknown extension (use .svg or .png)");
    }
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.find(path) != std::string::npos) throw;
    FF_FAIL("save_line_chart: ", path, ": ", msg);
  }
}

}  // namespace ff
