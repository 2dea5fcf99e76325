// tests/test_chart.cpp — report/chart: line charts drawn with Cairo, as SVG and as images.
//
// Checks:
//   - files: .svg and .png by extension, written atomically (nothing else left in the folder);
//     the PNG decodes to the requested size and equals render_line_chart; the SVG is well-formed
//     XML of the requested size in px with the title in <title> (escaped); other extensions and
//     unwritable paths raise naming the path;
//   - the SVG holds each series as a path of the series' colour whose points are exactly the data
//     mapped by the layout (px, py), and the SVG and the image share one layout;
//   - on the image: a horizontal line y = 0.5 on [0, 1] lands on the row the layout says, halfway
//     between the frame's rows (found by scanning for the frame's grey), and nowhere else; a
//     vertical line x = 3 on [0, 10] 30% of the way across; x = 1e-2 halfway on a log axis
//     [1e-4, 1];
//   - text is drawn: ink in the title band, under every x tick, left of the y ticks, in the y-axis
//     title's column and in the legend; a long title is drawn smaller and stays inside the image;
//   - NaN points break a line (a gap in the image, two subpaths in the SVG); an empty series is
//     drawn nowhere but still named; no drawable data writes "no data"; x <= 0 on a log axis is
//     skipped; mismatched x/y, bad sizes and impossible limits raise;
//   - 100k points are drawn through at most 4 per pixel column, keeping the extremes;
//   - tick values are 1-2-5 multiples inside the limits, decades on a log axis; labels differ.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "engine/error.h"
#include "report/chart.h"

namespace ff::test {
namespace {

namespace fs = std::filesystem;

const Color kRed{220, 0, 0}, kBlue{0, 0, 230}, kWhite{255, 255, 255};

bool is_color(const Image& img, int x, int y, Color c, int tol = 40) {
  return std::abs(img.at(x, y, 0) - c.r) <= tol && std::abs(img.at(x, y, 1) - c.g) <= tol &&
         std::abs(img.at(x, y, 2) - c.b) <= tol;
}
bool is_dark(const Image& img, int x, int y) {
  return img.at(x, y, 0) < 120 && img.at(x, y, 1) < 120 && img.at(x, y, 2) < 120;
}
int count_color(const Image& img, int x0, int y0, int x1, int y1, Color c, int tol = 40) {
  int n = 0;
  for (int y = std::max(0, y0); y < std::min(img.height, y1); ++y)
    for (int x = std::max(0, x0); x < std::min(img.width, x1); ++x) n += is_color(img, x, y, c, tol);
  return n;
}
int count_dark(const Image& img, int x0, int y0, int x1, int y1) {
  int n = 0;
  for (int y = std::max(0, y0); y < std::min(img.height, y1); ++y)
    for (int x = std::max(0, x0); x < std::min(img.width, x1); ++x) n += is_dark(img, x, y);
  return n;
}
// The coverage of kRed in pixel (x, y): kRed blended with opacity a over any grey gives
// red - green = 220 a.
double redness(const Image& img, int x, int y) {
  return std::clamp((img.at(x, y, 0) - img.at(x, y, 1)) / 220.0, 0.0, 1.0);
}

// The frame's rows and columns, found by scanning the middle of the picture for the frame's grey.
struct Frame {
  int top = -1, bottom = -1, left = -1, right = -1;
};
Frame find_frame(const Image& img) {
  Frame f;
  const Color frame{90, 90, 90};
  int cx = img.width / 2, cy = img.height / 2;
  for (int y = 0; y < img.height; ++y)
    if (is_color(img, cx, y, frame, 2)) (f.top < 0 ? f.top : f.bottom) = y;
  for (int x = 0; x < img.width; ++x)
    if (is_color(img, x, cy, frame, 2)) (f.left < 0 ? f.left : f.right) = x;
  return f;
}

Series line(const std::string& name, std::vector<double> x, std::vector<double> y, Color c) {
  Series s(name, std::move(x), std::move(y));
  s.color = c;
  return s;
}

ChartOptions fixed(double x0, double x1, double y0, double y1) {
  ChartOptions o;
  o.width = 640, o.height = 400, o.title = "Test chart", o.x_label = "step", o.y_label = "value";
  o.x_min = x0, o.x_max = x1, o.y_min = y0, o.y_max = y1;
  return o;
}

// ---------------------------------------------------------------- reading the SVG back

// Well-formed XML, checked the simple way: every element closes in order, one root <svg>,
// attribute values quoted, '&' only in entities, no '<' in text.
::testing::AssertionResult well_formed(const std::string& doc) {
  std::vector<std::string> open;
  int roots = 0;
  size_t i = 0;
  auto entities_ok = [](const std::string& t) {
    for (size_t k = t.find('&'); k != std::string::npos; k = t.find('&', k + 1)) {
      size_t semi = t.find(';', k);
      if (semi == std::string::npos || semi - k > 8 || semi == k + 1) return false;
      for (size_t j = k + 1; j < semi; ++j)
        if (!std::isalnum(static_cast<unsigned char>(t[j])) && t[j] != '#') return false;
    }
    return true;
  };
  while (i < doc.size()) {
    size_t lt = doc.find('<', i);
    std::string text = doc.substr(i, lt == std::string::npos ? std::string::npos : lt - i);
    if (!entities_ok(text)) return ::testing::AssertionFailure() << "bad '&' in text near " << i;
    if (lt == std::string::npos) break;
    if (doc.compare(lt, 4, "<!--") == 0) {
      i = doc.find("-->", lt);
      if (i == std::string::npos) return ::testing::AssertionFailure() << "unclosed comment";
      i += 3;
      continue;
    }
    size_t gt = lt + 1;  // the tag's end, skipping '>' inside quoted values
    bool quoted = false;
    while (gt < doc.size() && (quoted || doc[gt] != '>')) quoted ^= doc[gt++] == '"';
    if (gt >= doc.size()) return ::testing::AssertionFailure() << "unclosed tag at " << lt;
    std::string tag = doc.substr(lt + 1, gt - lt - 1);
    i = gt + 1;
    if (tag[0] == '?') continue;
    if (!entities_ok(tag)) return ::testing::AssertionFailure() << "bad '&' in <" << tag << ">";
    if (tag[0] == '/') {
      std::string name = tag.substr(1);
      if (open.empty() || open.back() != name)
        return ::testing::AssertionFailure() << "</" << name << "> closes " << (open.empty() ? "nothing" : open.back());
      open.pop_back();
      continue;
    }
    std::string name = tag.substr(0, tag.find_first_of(" \n\t/"));
    if (open.empty()) ++roots;
    if (open.empty() && name != "svg") return ::testing::AssertionFailure() << "root element " << name;
    if (tag.back() != '/') open.push_back(name);
  }
  if (!open.empty()) return ::testing::AssertionFailure() << "<" << open.back() << "> never closed";
  if (roots != 1) return ::testing::AssertionFailure() << roots << " root elements";
  return ::testing::AssertionSuccess();
}

// The stroked paths of an SVG from Cairo: colour (0..255) and subpaths of points, from
// <path style="...stroke:rgb(R%,G%,B%)..." d="M x y L x y ... M ...">.
struct SvgPath {
  double r = 0, g = 0, b = 0;
  std::vector<std::vector<std::pair<double, double>>> subpaths;
};
std::vector<SvgPath> stroked_paths(const std::string& svg) {
  std::vector<SvgPath> out;
  for (size_t p = svg.find("<path"); p != std::string::npos; p = svg.find("<path", p + 1)) {
    const size_t end = svg.find('>', p);
    const std::string el = svg.substr(p, end - p);
    const size_t st = el.find("stroke:rgb(");
    const size_t d = el.find(" d=\"");
    if (st == std::string::npos || d == std::string::npos) continue;
    SvgPath sp;
    if (std::sscanf(el.c_str() + st, "stroke:rgb(%lf%%,%lf%%,%lf%%)", &sp.r, &sp.g, &sp.b) != 3) continue;
    sp.r *= 2.55, sp.g *= 2.55, sp.b *= 2.55;
    const char* c = el.c_str() + d + 4;
    while (*c && *c != '"') {
      while (*c == ' ') ++c;
      char cmd = *c;
      if (cmd != 'M' && cmd != 'L') break;  // curves: not a polyline
      ++c;
      char* e = nullptr;
      double x = std::strtod(c, &e);
      double y = std::strtod(e, &e);
      c = e;
      if (cmd == 'M') sp.subpaths.emplace_back();
      sp.subpaths.back().emplace_back(x, y);
    }
    out.push_back(std::move(sp));
  }
  return out;
}
// The paths stroked in colour c.
std::vector<SvgPath> paths_of(const std::string& svg, Color c) {
  std::vector<SvgPath> out;
  for (SvgPath& p : stroked_paths(svg))
    if (std::fabs(p.r - c.r) < 0.6 && std::fabs(p.g - c.g) < 0.6 && std::fabs(p.b - c.b) < 0.6) out.push_back(p);
  return out;
}

// ---------------------------------------------------------------- files

TEST(Chart, SvgAndPngFiles) {
  std::vector<Series> s = {line("train loss", {0, 1, 2, 3, 4}, {2.0, 1.2, 0.9, 0.7, 0.65}, kRed),
                           line("val loss", {0, 2, 4}, {2.1, 1.1, 0.8}, kBlue)};
  ChartOptions o;
  o.width = 533, o.height = 311, o.title = "loss <of> R&D";
  const fs::path dir = fs::path(::testing::TempDir()) / "ff_chart_files";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string png = (dir / "c.png").string(), svg = (dir / "c.SVG").string();
  save_line_chart(png, s, o);
  save_line_chart(svg, s, o);
  Image back = load_image(png, 3);
  EXPECT_EQ(back.width, 533);
  EXPECT_EQ(back.height, 311);
  EXPECT_EQ(back.pixels, render_line_chart(s, o).pixels);  // PNG is lossless
  std::ifstream f(svg);
  const std::string doc((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(doc, line_chart_svg(s, o));
  EXPECT_TRUE(well_formed(doc));
  EXPECT_NE(doc.find("width=\"533px\" height=\"311px\" viewBox=\"0 0 533 311\""), std::string::npos) << doc.substr(0, 300);
  EXPECT_NE(doc.find("<title>loss &lt;of&gt; R&amp;D</title>"), std::string::npos);
  int files = 0;
  for (auto& e : fs::directory_iterator(dir)) {
    ++files;
    EXPECT_TRUE(e.path() == png || e.path() == svg) << e.path();
  }
  EXPECT_EQ(files, 2);  // no temporary file left behind
  for (const std::string& bad : {(dir / "c.jpg").string(), (dir / "missing" / "c.svg").string(),
                                (dir / "missing" / "c.png").string()}) {
    try {
      save_line_chart(bad, s, o);
      ADD_FAILURE() << "no error for " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
  EXPECT_FALSE(fs::exists(dir / "c.jpg"));
  fs::remove_all(dir);
}

// ---------------------------------------------------------------- geometry

TEST(Chart, SvgDrawsTheSeriesWhereTheDataSays) {
  const std::vector<double> x = {0, 2.5, 5, 10}, y = {0.2, 0.9, 0.8, 0.5};
  std::vector<Series> s = {line("a", x, y, kRed), line("b", {0, 10}, {0.1, 0.1}, kBlue)};
  ChartOptions o = fixed(0, 10, 0, 1);
  ChartLayout L, R;
  const std::string svg = line_chart_svg(s, o, &L);
  render_line_chart(s, o, &R);
  // One layout for both surfaces.
  EXPECT_EQ(L.plot_left, R.plot_left);
  EXPECT_EQ(L.plot_right, R.plot_right);
  EXPECT_EQ(L.plot_top, R.plot_top);
  EXPECT_EQ(L.plot_bottom, R.plot_bottom);
  EXPECT_EQ(L.x_tick_labels, R.x_tick_labels);
  EXPECT_EQ(L.legend_left, R.legend_left);
  EXPECT_GT(L.plot_right - L.plot_left, 400);
  EXPECT_GT(L.plot_bottom - L.plot_top, 250);
  std::vector<SvgPath> red = paths_of(svg, kRed);
  // The series' line, and the legend's sample (a two-point horizontal line inside the legend box).
  ASSERT_EQ(red.size(), 2u) << svg.size();
  ASSERT_EQ(red[0].subpaths.size(), 1u);
  const auto& pts = red[0].subpaths[0];
  ASSERT_EQ(pts.size(), x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_NEAR(pts[i].first, L.px(x[i]), 1e-3) << i;
    EXPECT_NEAR(pts[i].second, L.py(y[i]), 1e-3) << i;
  }
  EXPECT_DOUBLE_EQ(L.px(0), L.plot_left);
  EXPECT_DOUBLE_EQ(L.px(10), L.plot_right);
  EXPECT_DOUBLE_EQ(L.py(0), L.plot_bottom);
  EXPECT_DOUBLE_EQ(L.py(1), L.plot_top);
  const auto& sample = red[1].subpaths.at(0);
  ASSERT_EQ(sample.size(), 2u);
  EXPECT_EQ(sample[0].second, sample[1].second);
  EXPECT_GT(sample[0].first, L.legend_left);
  EXPECT_LT(sample[1].first, L.legend_right);
  EXPECT_GT(sample[0].second, L.legend_top);
  EXPECT_LT(sample[0].second, L.legend_bottom);
  std::vector<SvgPath> blue = paths_of(svg, kBlue);
  ASSERT_EQ(blue.size(), 2u);
  EXPECT_NEAR(blue[0].subpaths.at(0).at(0).second, L.py(0.1), 1e-3);
}

TEST(Chart, HorizontalLineLandsOnItsRow) {
  ChartLayout L;
  Image img = render_line_chart({line("half", {0, 10}, {0.5, 0.5}, kRed)}, fixed(0, 10, 0, 1), &L);
  Frame f = find_frame(img);
  ASSERT_GT(f.top, 0);
  ASSERT_GT(f.bottom, f.top + 100);
  EXPECT_EQ(f.top, L.plot_top - 1);
  EXPECT_EQ(f.bottom, L.plot_bottom);
  EXPECT_EQ(f.left, L.plot_left - 1);
  EXPECT_EQ(f.right, L.plot_right);
  const double mid = (f.top + 1 + f.bottom) / 2.0;  // halfway between the plot area's edges
  EXPECT_NEAR(L.py(0.5), mid, 1e-9);
  int cols = 0;
  for (int x = L.plot_left + 2; x < L.plot_right - 2; ++x) {
    if (x >= L.legend_left - 2 && x < L.legend_right + 2) continue;
    ++cols;
    // The line's ink, weighted by row centre: its centre is the data's row.
    double sum = 0, moment = 0;
    for (int y = L.plot_top; y < L.plot_bottom; ++y) {
      double w = redness(img, x, y);
      if (std::abs(y + 0.5 - mid) > 3) {
        EXPECT_LT(w, 0.05) << "stray red at " << x << ", " << y;
        continue;
      }
      sum += w, moment += w * (y + 0.5);
    }
    EXPECT_NEAR(sum, 2.0, 0.15) << "column " << x;  // a 2-pixel line
    EXPECT_NEAR(moment / sum, mid, 0.1) << "column " << x;
  }
  EXPECT_GT(cols, 300);
}

TEST(Chart, VerticalLineLandsOnItsColumn) {
  ChartOptions o = fixed(0, 10, 0, 1);
  o.legend = LegendPlace::None;
  ChartLayout L;
  Image img = render_line_chart({line("", {3, 3}, {0, 1}, kRed)}, o, &L);
  const double want = L.plot_left + 0.3 * (L.plot_right - L.plot_left);
  for (int y = L.plot_top + 3; y < L.plot_bottom - 3; ++y) {
    double sum = 0, moment = 0;
    for (int x = L.plot_left; x < L.plot_right; ++x) sum += redness(img, x, y), moment += redness(img, x, y) * (x + 0.5);
    ASSERT_GT(sum, 1.5) << "row " << y;
    EXPECT_NEAR(moment / sum, want, 0.1) << "row " << y;
  }
}

TEST(Chart, LogXPlacesDecades) {
  ChartOptions o = fixed(1e-4, 1, 0, 1);
  o.log_x = true;
  o.legend = LegendPlace::None;
  ChartLayout L;
  // x = 0 cannot be shown on a log axis: skipped, and the line starts at the next point.
  Image img = render_line_chart({line("roc", {0, 1e-2, 1e-2}, {0, 0, 1}, kRed)}, o, &L);
  const double want = (L.plot_left + L.plot_right) / 2.0;
  for (int y = L.plot_top + 3; y < L.plot_bottom - 3; ++y) {
    double sum = 0, moment = 0;
    for (int x = L.plot_left; x < L.plot_right; ++x) sum += redness(img, x, y), moment += redness(img, x, y) * (x + 0.5);
    ASSERT_GT(sum, 1.5) << "row " << y;
    EXPECT_NEAR(moment / sum, want, 0.1) << "row " << y;
  }
  ASSERT_EQ(L.x_ticks.size(), 5u);
  for (int k = 0; k < 5; ++k) EXPECT_NEAR(L.x_ticks[k], std::pow(10.0, k - 4), 1e-15);
  // In the SVG the skipped point is absent: the path starts at x = 1e-2.
  const auto red = paths_of(line_chart_svg({line("roc", {0, 1e-2, 1e-2}, {0, 0, 1}, kRed)}, o), kRed);
  ASSERT_EQ(red.size(), 1u);
  ASSERT_EQ(red[0].subpaths.size(), 1u);
  EXPECT_EQ(red[0].subpaths[0].size(), 2u);
  EXPECT_NEAR(red[0].subpaths[0][0].first, want, 1e-3);
}

// ---------------------------------------------------------------- text

TEST(Chart, TextIsDrawn) {
  ChartLayout L;
  ChartOptions o = fixed(0, 10, 0, 1);
  o.legend = LegendPlace::None;
  Image img = render_line_chart({line("a", {0, 10}, {0.5, 0.5}, kRed)}, o, &L);
  ASSERT_GT(L.title_bottom, L.title_top);
  EXPECT_GT(count_dark(img, 0, L.title_top, img.width, L.title_bottom), 40) << "title";
  // Under every x tick, its label; left of every y tick, its label.
  for (double v : L.x_ticks) {
    const int x = static_cast<int>(L.px(v));
    EXPECT_GT(count_dark(img, x - 12, L.plot_bottom + 4, x + 12, L.plot_bottom + 30), 5) << "x tick " << v;
  }
  for (double v : L.y_ticks) {
    const int y = static_cast<int>(L.py(v));
    EXPECT_GT(count_dark(img, 0, y - 6, L.plot_left - 6, y + 6), 5) << "y tick " << v;
  }
  // The axis titles: "step" under the tick labels, "value" in the leftmost columns.
  EXPECT_GT(count_dark(img, L.plot_left, img.height - 22, L.plot_right, img.height), 20) << "x label";
  EXPECT_GT(count_dark(img, 0, L.plot_top, 20, L.plot_bottom), 20) << "y label";
  // Without a title the band above the plot is blank; another title changes only that band.
  ChartOptions u = o;
  u.title = "";
  ChartLayout U;
  Image untitled = render_line_chart({line("a", {0, 10}, {0.5, 0.5}, kRed)}, u, &U);
  EXPECT_LT(U.plot_top, L.plot_top);
  EXPECT_EQ(count_dark(untitled, U.plot_left, 0, U.plot_right, U.plot_top - 1), 0);
  ChartOptions t = o;
  t.title = "Another chart";
  ChartLayout T;
  Image other = render_line_chart({line("a", {0, 10}, {0.5, 0.5}, kRed)}, t, &T);
  ASSERT_EQ(T.plot_top, L.plot_top);
  int differ_in = 0, differ_out = 0;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x)
      if (img.at(x, y, 0) != other.at(x, y, 0)) (y < L.title_bottom + 1 ? differ_in : differ_out)++;
  EXPECT_GT(differ_in, 20);
  EXPECT_EQ(differ_out, 0);
}

// A title too long for the chart at its usual size is drawn smaller and stays inside the image:
// the ink of the title band spans more than half the width and keeps clear of both edges.
TEST(Chart, LongTitleShrinksToFit) {
  ChartOptions o = fixed(0, 1, 0, 1);
  o.width = 400, o.height = 250;
  o.title = "Cumulative error distribution (AUC to 0.1: 0.5438) of a long run";
  ChartLayout L;
  Image img = render_line_chart({line("a", {0, 1}, {0, 1}, kRed)}, o, &L);
  int lo = img.width, hi = -1;
  for (int y = L.title_top; y < L.title_bottom; ++y)
    for (int x = 0; x < img.width; ++x)
      if (!is_color(img, x, y, kWhite, 0)) lo = std::min(lo, x), hi = std::max(hi, x);
  ASSERT_GE(hi, 0) << "the title was not drawn";
  EXPECT_GT(hi - lo, img.width / 2);
  EXPECT_GE(lo, 3);
  EXPECT_LE(hi, img.width - 4);
}

TEST(Chart, LegendHasTextAndSwatches) {
  std::vector<Series> s = {line("first series", {0, 1, 2}, {0.1, 0.2, 0.3}, kRed),
                           line("second", {0, 1, 2}, {0.3, 0.2, 0.1}, kBlue)};
  ChartLayout L;
  Image img = render_line_chart(s, fixed(0, 2, 0, 1), &L);
  ASSERT_GT(L.legend_right, L.legend_left);
  ASSERT_GT(L.legend_bottom, L.legend_top);
  EXPECT_GT(count_dark(img, L.legend_left, L.legend_top, L.legend_right, L.legend_bottom), 60);
  EXPECT_GT(count_color(img, L.legend_left, L.legend_top, L.legend_right, L.legend_bottom, kRed), 10);
  EXPECT_GT(count_color(img, L.legend_left, L.legend_top, L.legend_right, L.legend_bottom, kBlue), 10);
  // The data sit low (y <= 0.3 of [0, 1]): the legend goes to a top corner.
  EXPECT_LT(L.legend_bottom, (L.plot_top + L.plot_bottom) / 2);
  // A line along the top: the legend goes to a bottom corner.
  ChartLayout H;
  render_line_chart({line("top", {0, 2}, {0.95, 0.95}, kRed)}, fixed(0, 2, 0, 1), &H);
  EXPECT_GT(H.legend_top, (H.plot_top + H.plot_bottom) / 2);
  ChartOptions none = fixed(0, 2, 0, 1);
  none.legend = LegendPlace::None;
  ChartLayout N;
  Image plain = render_line_chart(s, none, &N);
  EXPECT_EQ(N.legend_right, 0);
  EXPECT_EQ(count_dark(plain, L.legend_left, L.legend_top, L.legend_right, L.legend_bottom), 0);
  ChartOptions bl = fixed(0, 2, 0, 1);
  bl.legend = LegendPlace::BottomLeft;
  ChartLayout B;
  render_line_chart(s, bl, &B);
  EXPECT_LT(B.legend_left, (B.plot_left + B.plot_right) / 2);
  EXPECT_GT(B.legend_top, (B.plot_top + B.plot_bottom) / 2);
}

// ---------------------------------------------------------------- gaps, empty data, errors

TEST(Chart, NaNBreaksTheLine) {
  std::vector<double> x, y;
  for (int i = 0; i <= 10; ++i) x.push_back(i), y.push_back(0.5);
  y[5] = std::nan("");
  ChartOptions o = fixed(0, 10, 0, 1);
  o.legend = LegendPlace::None;
  ChartLayout L;
  Image img = render_line_chart({line("gappy", x, y, kRed)}, o, &L);
  const int row = static_cast<int>(std::floor(L.py(0.5)));
  for (double xv : {4.6, 5.0, 5.4}) EXPECT_FALSE(is_color(img, int(L.px(xv)), row, kRed, 90)) << xv;
  for (double xv : {2.0, 3.5, 6.5, 8.0}) EXPECT_TRUE(is_color(img, int(L.px(xv)), row, kRed, 60)) << xv;
  const auto red = paths_of(line_chart_svg({line("gappy", x, y, kRed)}, o), kRed);
  ASSERT_EQ(red.size(), 1u);
  ASSERT_EQ(red[0].subpaths.size(), 2u);  // 0..4 and 6..10 (Cairo merges the collinear points)
  EXPECT_NEAR(red[0].subpaths[0].front().first, L.px(0), 1e-3);
  EXPECT_NEAR(red[0].subpaths[0].back().first, L.px(4), 1e-3);
  EXPECT_NEAR(red[0].subpaths[1].front().first, L.px(6), 1e-3);
  EXPECT_NEAR(red[0].subpaths[1].back().first, L.px(10), 1e-3);
  for (const auto& sub : red[0].subpaths)
    for (const auto& pt : sub) EXPECT_NEAR(pt.second, L.py(0.5), 1e-3);
}

TEST(Chart, EmptySeriesAndNoData) {
  ChartLayout with, without;
  Series empty = line("validation", {}, {}, kBlue);
  Image a = render_line_chart({line("train", {0, 1}, {1, 0}, kRed), empty}, fixed(0, 1, 0, 1), &with);
  render_line_chart({line("train", {0, 1}, {1, 0}, kRed)}, fixed(0, 1, 0, 1), &without);
  // Named in the legend (which grows by a row), drawn nowhere else.
  EXPECT_GT(with.legend_bottom - with.legend_top, without.legend_bottom - without.legend_top);
  EXPECT_EQ(count_color(a, 0, 0, a.width, a.height, kBlue) -
                count_color(a, with.legend_left, with.legend_top, with.legend_right, with.legend_bottom, kBlue),
            0);
  // All points NaN: "no data" in the middle of the plot area, default limits.
  ChartLayout L;
  Image b = render_line_chart({line("nan", {std::nan(""), 1}, {1, std::nan("")}, kRed)}, ChartOptions{}, &L);
  int cx = (L.plot_left + L.plot_right) / 2, cy = (L.plot_top + L.plot_bottom) / 2;
  int grayish = 0;
  for (int y = cy - 15; y < cy + 15; ++y)
    for (int x = cx - 40; x < cx + 40; ++x) grayish += is_color(b, x, y, Color{150, 150, 150}, 30);
  EXPECT_GT(grayish, 20);
  EXPECT_EQ(L.x_lo, 0.0);
  EXPECT_EQ(L.x_hi, 1.0);
  // No series at all is the same; a lone point is a dot.
  EXPECT_NO_THROW(render_line_chart({}, ChartOptions{}));
  ChartLayout D;
  Image dot = render_line_chart({line("", {0, 1, 2}, {std::nan(""), 0.5, std::nan("")}, kRed)}, fixed(0, 2, 0, 1), &D);
  EXPECT_TRUE(is_color(dot, int(D.px(1)), int(D.py(0.5)), kRed, 90));
}

TEST(Chart, BadInputRaises) {
  EXPECT_THROW(render_line_chart({line("bad", {0, 1, 2}, {0, 1}, kRed)}), Error);
  EXPECT_THROW(line_chart_svg({line("bad", {0, 1, 2}, {0, 1}, kRed)}), Error);
  ChartOptions o;
  o.width = 10;
  EXPECT_THROW(render_line_chart({}, o), Error);
  o = ChartOptions{};
  o.log_x = true, o.x_min = 0;
  EXPECT_THROW(render_line_chart({}, o), Error);
  o = ChartOptions{};
  o.y_min = 1, o.y_max = 1;
  EXPECT_THROW(render_line_chart({}, o), Error);
  o = ChartOptions{};
  o.x_max = std::numeric_limits<double>::infinity();
  EXPECT_THROW(render_line_chart({}, o), Error);
  o = ChartOptions{};
  o.font_size = 2;
  EXPECT_THROW(render_line_chart({}, o), Error);
  o.font_size = 60, o.height = 64;  // no room left for the plot
  EXPECT_THROW(render_line_chart({}, o), Error);
  Series w = line("w", {0, 1}, {0, 1}, kRed);
  w.width = 0;
  EXPECT_THROW(render_line_chart({w}), Error);
}

TEST(Chart, ManyPointsKeepTheirExtremes) {
  std::vector<double> x, y;
  for (int i = 0; i < 100000; ++i) x.push_back(i), y.push_back(1 + 0.1 * std::sin(i * 0.01));
  y[54321] = 3.0;  // one spike
  ChartOptions o;
  o.legend = LegendPlace::None;
  ChartLayout L;
  const std::string svg = line_chart_svg({line("loss", x, y, kRed)}, o, &L);
  EXPECT_LT(svg.size(), 150000u);
  const auto red = paths_of(svg, kRed);
  ASSERT_EQ(red.size(), 1u);
  ASSERT_EQ(red[0].subpaths.size(), 1u);
  const auto& pts = red[0].subpaths[0];
  EXPECT_LE(pts.size(), 4u * (L.plot_right - L.plot_left + 1));
  double top = 1e9;
  for (const auto& p : pts) top = std::min(top, p.second);
  EXPECT_NEAR(top, L.py(3.0), 1e-3);  // the spike's point survived
  EXPECT_NEAR(pts.front().first, L.px(0), 1e-3);
  EXPECT_NEAR(pts.back().first, L.px(99999), 1e-3);
  Image img = render_line_chart({line("loss", x, y, kRed)}, o);
  const int sx = static_cast<int>(L.px(54321)), sy = static_cast<int>(L.py(3.0)) + 1;
  EXPECT_GT(count_color(img, sx - 2, sy - 2, sx + 3, sy + 3, kRed, 90), 0);
}

// ---------------------------------------------------------------- ticks

TEST(Chart, TicksAreNiceAndInside) {
  ChartLayout L;
  std::vector<double> x, y;
  for (int i = 0; i <= 1234; i += 7) x.push_back(i), y.push_back(0.37 + 0.9 * std::exp(-i / 300.0));
  render_line_chart({line("loss", x, y, kRed)}, ChartOptions{}, &L);
  ASSERT_GE(L.x_ticks.size(), 3u);
  ASSERT_GE(L.y_ticks.size(), 3u);
  for (const auto* t : {&L.x_ticks, &L.y_ticks}) {
    double step = (*t)[1] - (*t)[0];
    double mant = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
    EXPECT_TRUE(std::fabs(mant - 1) < 1e-6 || std::fabs(mant - 2) < 1e-6 || std::fabs(mant - 5) < 1e-6) << step;
    for (size_t i = 1; i < t->size(); ++i) EXPECT_NEAR((*t)[i] - (*t)[i - 1], step, 1e-9 * step);
  }
  EXPECT_GE(L.x_ticks.front(), L.x_lo);
  EXPECT_LE(L.x_ticks.back(), L.x_hi);
  EXPECT_EQ(L.x_lo, 0);     // x spans the data exactly
  EXPECT_EQ(L.x_hi, 1232);
  EXPECT_LT(L.y_lo, 0.37 + 0.9 * std::exp(-1232 / 300.0));  // y has a margin
  EXPECT_GT(L.y_hi, 1.27);
}

TEST(Chart, TickLabels) {
  ChartLayout L;
  ChartOptions o = fixed(0, 1, 0, 1);
  render_line_chart({line("a", {0, 1}, {0, 1}, kRed)}, o, &L);
  ASSERT_EQ(L.y_tick_labels.size(), L.y_ticks.size());
  EXPECT_EQ(L.y_tick_labels.front(), "0.0");
  EXPECT_EQ(L.y_tick_labels.back(), "1.0");
  // Decades on a log axis; "1" for 10^0.
  o.log_x = true, o.x_min = 1e-4;
  render_line_chart({line("a", {1e-3, 1}, {0, 1}, kRed)}, o, &L);
  EXPECT_EQ(L.x_tick_labels, (std::vector<std::string>{"1e-4", "1e-3", "1e-2", "1e-1", "1"}));
  // Plain decimals when every decade reads well that way.
  o.x_min = 0.01, o.x_max = 100;
  render_line_chart({line("a", {0.1, 10}, {0, 1}, kRed)}, o, &L);
  EXPECT_EQ(L.x_tick_labels, (std::vector<std::string>{"0.01", "0.1", "1", "10", "100"}));
  // A narrow range far from zero: neighbouring labels still differ.
  ChartOptions n;
  render_line_chart({line("a", {0, 1}, {1000.0001, 1000.0003}, kRed)}, n, &L);
  ASSERT_GE(L.y_tick_labels.size(), 2u);
  for (size_t i = 1; i < L.y_tick_labels.size(); ++i)
    EXPECT_NE(L.y_tick_labels[i], L.y_tick_labels[i - 1]) << L.y_tick_labels[i];
  // A log axis narrower than one 1-2-5 step still gets at least two ticks.
  ChartOptions g;
  g.log_y = true, g.y_min = 0.52, g.y_max = 0.58;
  render_line_chart({line("a", {0, 1}, {0.53, 0.57}, kRed)}, g, &L);
  EXPECT_GE(L.y_ticks.size(), 2u);
  EXPECT_EQ(L.y_ticks.size(), L.y_tick_labels.size());
  for (double v : L.y_ticks) {
    EXPECT_GE(v, L.y_lo);
    EXPECT_LE(v, L.y_hi);
  }
}

TEST(Chart, ExtremeRangesStayFinite) {
  for (auto ys : {std::vector<double>{1e-300, 3e-300}, std::vector<double>{-1e300, 1e300}, std::vector<double>{5, 5}}) {
    ChartLayout L;
    ASSERT_NO_THROW(render_line_chart({line("a", {0, 1}, ys, kRed)}, ChartOptions{}, &L));
    EXPECT_LT(L.y_lo, L.y_hi);
    for (double v : L.y_ticks) EXPECT_TRUE(std::isfinite(v));
    EXPECT_EQ(L.y_ticks.size(), L.y_tick_labels.size());
  }
}

}  // namespace
}  // namespace ff::test
