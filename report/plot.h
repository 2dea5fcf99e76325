// report/plot.h — pictures for reports: line charts rendered to PNG (loss curves, ROC, CED), and
// drawing on images (landmarks, boxes, labels, side-by-side montages).
//
// Everything is drawn by a small rasteriser of our own: anti-aliased lines (coverage from the
// distance to each segment), discs, rectangles, and text from stb_easy_font (a vector font made
// of axis-aligned quads, which we fill with exact coverage; ASCII only — other bytes show as '?').
// Text is crisp at integer scales placed at integer positions.
//
// Coordinates of the image-drawing helpers follow data/image.h: pixel (x, y) has its centre at
// (x, y), so a landmark from CelebA or from decode_heatmaps can be drawn as it is. Text and
// fill_rect take integer pixel positions (the top-left pixel).
#pragma once
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "data/image.h"

namespace ff {

struct Color {
  uint8_t r = 0, g = 0, b = 0;
};
// The i-th colour of a 10-colour qualitative palette (matplotlib's "tab10"), cycling.
Color palette_color(int i);

// ================================================================ line charts

struct Series {
  Series() = default;
  Series(std::string name, std::vector<double> x, std::vector<double> y)
      : name(std::move(name)), x(std::move(x)), y(std::move(y)) {}
  std::string name;            // legend entry
  std::vector<double> x, y;    // same length; points joined in the given order
  std::optional<Color> color;  // default: palette_color(index of the series)
  double width = 2.0;          // line width in pixels
  bool markers = false;        // also draw a dot at every point
};

enum class LegendPlace { Auto, TopLeft, TopRight, BottomLeft, BottomRight, None };

struct ChartOptions {
  int width = 800, height = 500;  // pixels, each in [64, 8192]
  std::string title, x_label, y_label;
  bool log_x = false, log_y = false;  // log-x for ROC curves against FAR, log-y for losses
  // Axis limits; NaN takes the limit from the data. Without limits, x spans the data exactly
  // (whole decades on a log axis) and y the data plus a 5% margin.
  double x_min = std::numeric_limits<double>::quiet_NaN(), x_max = std::numeric_limits<double>::quiet_NaN();
  double y_min = std::numeric_limits<double>::quiet_NaN(), y_max = std::numeric_limits<double>::quiet_NaN();
  LegendPlace legend = LegendPlace::Auto;  // Auto: the corner that hides the fewest line pixels
  int text_scale = 0;  // font pixels per stb_easy_font unit (caps are 7 units); 0: from the size
};

// Where render_line_chart put things, in pixel-edge coordinates (pixel column i spans [i, i+1)),
// so tests and callers can map data to pixels.
struct ChartLayout {
  int plot_left = 0, plot_top = 0, plot_right = 0, plot_bottom = 0;  // the plot area's edges
  double x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;                      // the axis limits
  bool log_x = false, log_y = false;
  int legend_left = 0, legend_top = 0, legend_right = 0, legend_bottom = 0;  // all 0 without a legend
  std::vector<double> x_ticks, y_ticks;  // the labelled tick values
  std::vector<std::string> x_tick_labels, y_tick_labels;
  double px(double x) const;  // data x -> pixel-edge x
  double py(double y) const;  // data y -> pixel-edge y
};

// Renders the series on white: plot frame, grid at the ticks, numeric tick labels, axis titles,
// title and legend. Points whose x or y is NaN or infinite (or not > 0 on a log axis) are skipped
// and break the line there; a point with no drawable neighbour is drawn as a dot. A series with no
// drawable point is drawn nowhere and its legend entry reads "name (no data)"; with no drawable
// point at all the plot area says "no data". Throws ff::Error on a series whose x and y differ in
// length, on sizes out of range, and on limits that cannot hold (min >= max, <= 0 on a log axis).
Image render_line_chart(const std::vector<Series>& series, const ChartOptions& options = {},
                        ChartLayout* layout = nullptr);
// render_line_chart, written as PNG (atomically: see save_png).
void save_line_chart(const std::string& path, const std::vector<Series>& series, const ChartOptions& options = {},
                     ChartLayout* layout = nullptr);

// ================================================================ drawing on images
// All of them clip at the image borders and work on gray images too (the colour's luma).

// An anti-aliased line of `width` pixels with round ends, from (x0, y0) to (x1, y1).
void draw_line(Image& img, double x0, double y0, double x1, double y1, Color color, double width = 1.5);
// A filled anti-aliased disc: a point.
void draw_disc(Image& img, double x, double y, double radius, Color color);
enum class Marker { Cross, Plus, Dot, Circle };
// A marker centred at (x, y), `size` pixels from the centre to its tips.
void draw_marker(Image& img, double x, double y, Color color, Marker kind = Marker::Cross, double size = 3,
                 double width = 1.5);
// A rectangle's outline through the pixel centres (x0, y0) and (x1, y1) (any order): a face box.
void draw_rect(Image& img, double x0, double y0, double x1, double y1, Color color, double width = 1.5);
// Fills the pixels [x0, x1) x [y0, y1), blended with opacity alpha in [0, 1].
void fill_rect(Image& img, int x0, int y0, int x1, int y1, Color color, double alpha = 1.0);

// Text with its top-left at pixel (x, y), `scale` pixels per font unit (scale 1: caps 7 pixels
// high, 6 pixels per character). '\n' starts a new line. With a background colour, a box of that
// colour (1 scale unit of margin) goes under the text first, for legibility on photographs.
void draw_text(Image& img, int x, int y, const std::string& text, Color color, int scale = 1,
               std::optional<Color> background = std::nullopt);
int text_width(const std::string& text, int scale = 1);   // pixels, the widest line
int text_height(const std::string& text, int scale = 1);  // pixels, descenders included

// Images side by side (cols = 0: one row) or in a grid of `cols` columns, each with an optional
// caption centred under it, on `background`, `pad` pixels apart. Cells are as large as the
// largest image; images are centred in their cell and converted to RGB. captions: empty, or one
// per image.
Image montage(const std::vector<Image>& images, const std::vector<std::string>& captions = {}, int cols = 0,
              int pad = 6, Color background = {255, 255, 255}, int text_scale = 1);

}  // namespace ff
