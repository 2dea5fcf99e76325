// tests/test_plot.cpp — report/plot: line charts and drawing on images.
//
// Checks:
//   - a chart written as PNG decodes with the requested size;
//   - a horizontal line y = 0.5 on fixed limits [0, 1] lands on the row halfway between the frame's
//     top and bottom rows (found by scanning the picture, not from the layout), and nowhere else;
//     a vertical line x = 3 on [0, 10] lands 30% of the way across; on a log-x axis [1e-4, 1] the
//     line x = 1e-2 lands halfway;
//   - the legend holds text pixels and the series' colour; LegendPlace::None draws no legend; Auto
//     picks a corner away from the data;
//   - NaN points break a line (a gap around them), an empty series is drawn nowhere but still named,
//     no drawable data at all writes "no data"; x <= 0 on a log axis is skipped; mismatched x/y,
//     bad sizes and impossible limits raise;
//   - tick values are 1-2-5 multiples inside the limits, decades on a log axis;
//   - drawing helpers: text stays inside its measured box and scales, lines are anti-aliased and
//     placed on pixel centres, markers, rectangles, gray images, non-ASCII text, montage layout.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "report/plot.h"

namespace ff::test {
namespace {

const Color kRed{220, 0, 0}, kBlue{0, 0, 230};

bool is_color(const Image& img, int x, int y, Color c, int tol = 40) {
  return std::abs(img.at(x, y, 0) - c.r) <= tol && std::abs(img.at(x, y, 1) - c.g) <= tol &&
         std::abs(img.at(x, y, 2) - c.b) <= tol;
}
bool is_dark(const Image& img, int x, int y) {
  return img.at(x, y, 0) < 110 && img.at(x, y, 1) < 110 && img.at(x, y, 2) < 110;
}
int count_color(const Image& img, int x0, int y0, int x1, int y1, Color c, int tol = 40) {
  int n = 0;
  for (int y = std::max(0, y0); y < std::min(img.height, y1); ++y)
    for (int x = std::max(0, x0); x < std::min(img.width, x1); ++x) n += is_color(img, x, y, c, tol);
  return n;
}
int count_dark(const Image& img, int x0, int y0, int x1, int y1) {
  int n = 0;
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) n += is_dark(img, x, y);
  return n;
}

// The frame's rows and columns, found by scanning the middle of the picture for the frame's gray.
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
  Series s;
  s.name = name, s.x = std::move(x), s.y = std::move(y), s.color = c;
  return s;
}

ChartOptions fixed(double x0, double x1, double y0, double y1) {
  ChartOptions o;
  o.width = 640, o.height = 400, o.title = "Test chart", o.x_label = "step", o.y_label = "value";
  o.x_min = x0, o.x_max = x1, o.y_min = y0, o.y_max = y1;
  return o;
}

TEST(Plot, PngDecodesWithRequestedSize) {
  std::vector<Series> s = {line("train loss", {0, 1, 2, 3, 4}, {2.0, 1.2, 0.9, 0.7, 0.65}, kRed),
                           line("val loss", {0, 2, 4}, {2.1, 1.1, 0.8}, kBlue)};
  ChartOptions o;
  o.width = 533, o.height = 311, o.title = "loss";
  std::string path = ::testing::TempDir() + "/ff_plot_size.png";
  save_line_chart(path, s, o);
  Image back = load_image(path, 3);
  EXPECT_EQ(back.width, 533);
  EXPECT_EQ(back.height, 311);
  EXPECT_EQ(back.pixels, render_line_chart(s, o).pixels);  // PNG is lossless
  std::remove(path.c_str());
}

// A title too long for the chart at its usual scale is drawn smaller and stays inside the image:
// the ink of the title band (the rows above the plot) spans more than half the width and keeps
// clear of both edges.
TEST(Plot, LongTitleShrinksToFit) {
  ChartOptions o = fixed(0, 1, 0, 1);
  o.width = 400, o.height = 250;
  o.title = "Cumulative error distribution (AUC to 0.1: 0.5438) of a long run";
  Image img = render_line_chart({line("a", {0, 1}, {0, 1}, kRed)}, o);
  const Color white{255, 255, 255};
  int lo = img.width, hi = -1;
  for (int y = 0; y < 12; ++y)
    for (int x = 0; x < img.width; ++x)
      if (!is_color(img, x, y, white, 0)) lo = std::min(lo, x), hi = std::max(hi, x);
  ASSERT_GE(hi, 0) << "the title was not drawn";
  EXPECT_GT(hi - lo, img.width / 2);
  EXPECT_GE(lo, 3);
  EXPECT_LE(hi, img.width - 4);
}

TEST(Plot, HorizontalLineLandsOnItsRow) {
  ChartLayout L;
  Image img = render_line_chart({line("half", {0, 10}, {0.5, 0.5}, kRed)}, fixed(0, 10, 0, 1), &L);
  Frame f = find_frame(img);
  ASSERT_GT(f.top, 0);
  ASSERT_GT(f.bottom, f.top + 100);
  EXPECT_EQ(f.top, L.plot_top - 1);
  EXPECT_EQ(f.bottom, L.plot_bottom);
  const double mid = (f.top + 1 + f.bottom) / 2.0;  // halfway between the plot area's edges
  const int row = static_cast<int>(std::floor(mid));
  int on = 0, cols = 0;
  for (int x = L.plot_left + 2; x < L.plot_right - 2; ++x) {
    if (x >= L.legend_left - 2 && x < L.legend_right + 2 && row >= L.legend_top && row < L.legend_bottom) continue;
    ++cols;
    on += is_color(img, x, row, kRed, 60);
    EXPECT_FALSE(is_color(img, x, row - 3, kRed, 90)) << "column " << x;
    EXPECT_FALSE(is_color(img, x, row + 3, kRed, 90)) << "column " << x;
  }
  EXPECT_GT(cols, 300);
  EXPECT_EQ(on, cols);
  // And no red anywhere outside that band and the legend.
  int stray = count_color(img, 0, 0, img.width, row - 2, kRed, 90) - count_color(img, L.legend_left, L.legend_top, L.legend_right, std::min(row - 2, L.legend_bottom), kRed, 90);
  stray += count_color(img, 0, row + 3, img.width, img.height, kRed, 90) -
           count_color(img, L.legend_left, std::max(row + 3, L.legend_top), L.legend_right, L.legend_bottom, kRed, 90);
  EXPECT_EQ(stray, 0);
}

TEST(Plot, VerticalLineLandsOnItsColumn) {
  ChartOptions o = fixed(0, 10, 0, 1);
  o.legend = LegendPlace::None;
  Image img = render_line_chart({line("", {3, 3}, {0, 1}, kBlue)}, o);
  Frame f = find_frame(img);
  const int col = static_cast<int>(std::floor(f.left + 1 + 0.3 * (f.right - f.left - 1)));
  for (int y = f.top + 3; y < f.bottom - 3; ++y) {
    EXPECT_TRUE(is_color(img, col, y, kBlue, 60)) << "row " << y;
    EXPECT_FALSE(is_color(img, col - 3, y, kBlue, 90)) << "row " << y;
    EXPECT_FALSE(is_color(img, col + 3, y, kBlue, 90)) << "row " << y;
  }
}

TEST(Plot, LogXPlacesDecades) {
  ChartOptions o = fixed(1e-4, 1, 0, 1);
  o.log_x = true;
  o.legend = LegendPlace::None;
  ChartLayout L;
  // x = 0 cannot be shown on a log axis: skipped, and the line starts at the next point.
  Image img = render_line_chart({line("roc", {0, 1e-2, 1e-2}, {0, 0, 1}, kRed)}, o, &L);
  Frame f = find_frame(img);
  const int col = static_cast<int>(std::floor((f.left + 1 + f.right) / 2.0));
  int on = 0;
  for (int y = f.top + 3; y < f.bottom - 3; ++y) on += is_color(img, col, y, kRed, 60);
  EXPECT_EQ(on, f.bottom - f.top - 6);
  ASSERT_EQ(L.x_ticks.size(), 5u);
  for (int k = 0; k < 5; ++k) EXPECT_NEAR(L.x_ticks[k], std::pow(10.0, k - 4), 1e-15);
}

TEST(Plot, LegendHasTextAndSwatches) {
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
  ChartOptions none = fixed(0, 2, 0, 1);
  none.legend = LegendPlace::None;
  ChartLayout N;
  Image plain = render_line_chart(s, none, &N);
  EXPECT_EQ(N.legend_right, 0);
  EXPECT_EQ(count_dark(plain, L.legend_left, L.legend_top, L.legend_right, L.legend_bottom), 0);
}

TEST(Plot, NaNBreaksTheLine) {
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
}

TEST(Plot, EmptySeriesAndNoData) {
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
  // No series at all is the same.
  EXPECT_NO_THROW(render_line_chart({}, ChartOptions{}));
}

TEST(Plot, BadInputRaises) {
  EXPECT_THROW(render_line_chart({line("bad", {0, 1, 2}, {0, 1}, kRed)}), Error);
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
  Series w = line("w", {0, 1}, {0, 1}, kRed);
  w.width = 0;
  EXPECT_THROW(render_line_chart({w}), Error);
}

TEST(Plot, TicksAreNiceAndInside) {
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

TEST(Plot, TickLabels) {
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

TEST(Plot, ExtremeRangesStayFinite) {
  for (auto ys : {std::vector<double>{1e-300, 3e-300}, std::vector<double>{-1e300, 1e300}, std::vector<double>{5, 5}}) {
    ChartLayout L;
    ASSERT_NO_THROW(render_line_chart({line("a", {0, 1}, ys, kRed)}, ChartOptions{}, &L));
    EXPECT_LT(L.y_lo, L.y_hi);
    for (double v : L.y_ticks) EXPECT_TRUE(std::isfinite(v));
    EXPECT_EQ(L.y_ticks.size(), L.y_tick_labels.size());
  }
}

// ---------------------------------------------------------------- drawing helpers

TEST(Plot, TextStaysInItsBoxAndScales) {
  Image img(200, 60, 3, 255);
  const std::string t = "Loss 0.25";
  draw_text(img, 10, 20, t, Color{0, 0, 0}, 2);
  const int w = text_width(t, 2), h = text_height(t, 2);
  EXPECT_EQ(w, 2 * text_width(t, 1));
  EXPECT_EQ(h, 18);
  EXPECT_GT(count_dark(img, 10, 20, 10 + w, 20 + h), 80);
  EXPECT_EQ(count_dark(img, 0, 0, img.width, img.height), count_dark(img, 10, 20, 10 + w, 20 + h));
  // Integer scale at an integer position: every pixel is either paper or full ink.
  for (uint8_t v : img.pixels) EXPECT_TRUE(v == 0 || v == 255);
  // Non-ASCII bytes become '?' (one per UTF-8 character), tabs spaces; nothing crashes.
  EXPECT_EQ(text_width("caf\xC3\xA9", 1), text_width("caf?", 1));
  EXPECT_EQ(text_width("a\tb", 1), text_width("a b", 1));
  // A background box.
  Image bg(100, 40, 3, 0);
  draw_text(bg, 10, 10, "ok", Color{0, 0, 0}, 1, Color{255, 255, 0});
  EXPECT_TRUE(is_color(bg, 9, 9, Color{255, 255, 0}, 0));
  EXPECT_TRUE(is_color(bg, 5, 5, Color{0, 0, 0}, 0));
}

TEST(Plot, LinesAreAntialiasedOnPixelCentres) {
  Image img(40, 20, 3, 0);
  draw_line(img, 2, 5, 30, 5, Color{255, 255, 255}, 1.0);  // through the centres of row 5
  for (int x = 3; x < 30; ++x) {
    EXPECT_EQ(img.at(x, 5, 0), 255);
    EXPECT_EQ(img.at(x, 4, 0), 0);
    EXPECT_EQ(img.at(x, 6, 0), 0);
  }
  Image d(40, 40, 1, 0);  // a gray image: the colour's luma
  draw_line(d, 2, 3, 35, 30, Color{255, 255, 255}, 1.5);
  int partial = 0, full = 0;
  for (uint8_t v : d.pixels) partial += v > 20 && v < 235, full += v >= 235;
  EXPECT_GT(partial, 20);  // soft edges
  EXPECT_GT(full, 10);
}

TEST(Plot, MarkersAndRectangles) {
  Image img(60, 60, 3, 0);
  draw_marker(img, 20, 20, kRed, Marker::Cross, 5, 1.5);
  EXPECT_TRUE(is_color(img, 20, 20, kRed, 30));
  EXPECT_TRUE(is_color(img, 23, 23, kRed, 80));   // on a diagonal
  EXPECT_EQ(img.at(20, 24, 0), 0);                // not on the vertical
  draw_marker(img, 45, 15, kBlue, Marker::Plus, 5, 1.0);
  EXPECT_TRUE(is_color(img, 45, 11, kBlue, 30));
  EXPECT_EQ(img.at(48, 12, 2), 0);
  draw_marker(img, 45, 45, kBlue, Marker::Circle, 6, 1.0);
  EXPECT_TRUE(is_color(img, 51, 45, kBlue, 30));
  EXPECT_EQ(img.at(45, 45, 2), 0);  // hollow
  draw_disc(img, 10, 50, 3, kRed);
  EXPECT_TRUE(is_color(img, 10, 50, kRed, 0));
  EXPECT_TRUE(is_color(img, 12, 50, kRed, 30));
  EXPECT_EQ(img.at(15, 50, 0), 0);
  Image r(40, 40, 3, 0);
  draw_rect(r, 30, 30, 10, 8, Color{0, 255, 0}, 1.0);  // corners in any order
  EXPECT_EQ(r.at(20, 8, 1), 255);
  EXPECT_EQ(r.at(10, 20, 1), 255);
  EXPECT_EQ(r.at(30, 30, 1), 255);
  EXPECT_EQ(r.at(20, 20, 1), 0);
  EXPECT_EQ(r.at(20, 7, 1), 0);
  // Clipped at the border without complaint.
  EXPECT_NO_THROW(draw_rect(r, -10, -10, 100, 100, kRed));
  EXPECT_THROW(draw_line(r, 0, 0, std::nan(""), 1, kRed), Error);
  Image empty;
  EXPECT_THROW(draw_disc(empty, 1, 1, 1, kRed), Error);
}

TEST(Plot, MontageLayout) {
  Image a(30, 20, 3, 200), b(20, 40, 1, 50);
  Image m = montage({a, b}, {"first", "second"}, 0, 6, Color{255, 255, 255});
  EXPECT_EQ(m.width, 6 + 2 * (30 + 6));
  const int cap = text_height("first", 1) + 6;
  EXPECT_EQ(m.height, 6 + 40 + cap + 6);
  EXPECT_EQ(m.channels, 3);
  // a centred vertically in its 30x40 cell, b centred horizontally in its cell
  EXPECT_EQ(m.at(6, 6 + 10, 0), 200);
  EXPECT_EQ(m.at(6, 6 + 9, 0), 255);
  EXPECT_EQ(m.at(42 + 5, 6, 1), 50);
  EXPECT_EQ(m.at(42 + 4, 6, 1), 255);
  // captions: dark pixels under the cells
  EXPECT_GT(count_dark(m, 6, 46, 36, m.height), 20);
  EXPECT_GT(count_dark(m, 42, 46, 72, m.height), 20);
  // a grid: 3 images in 2 columns, no captions
  Image g = montage({a, a, a}, {}, 2, 2);
  EXPECT_EQ(g.width, 2 + 2 * 32);
  EXPECT_EQ(g.height, 2 + 2 * 22);
  EXPECT_THROW(montage({}), Error);
  EXPECT_THROW(montage({a, b}, {"one"}), Error);
}

}  // namespace
}  // namespace ff::test
