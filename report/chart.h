// report/chart.h — line charts (loss curves, ROC, CED) drawn with Cairo, as SVG or as an image.
//
// One drawing serves both: the layout (plot area, ticks, legend) is decided once from the font's
// unhinted metrics, then drawn on an SVG surface (the HTML reports show charts as SVG) or on an
// image surface (render_line_chart; save_line_chart writes PNG for a .png path). Chart units are
// pixels: an SVG chart is `width` x `height` px.
#pragma once
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "report/draw.h"

namespace ff {

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
  LegendPlace legend = LegendPlace::Auto;  // Auto: the corner the series pass through least
  double font_size = 0;  // pixels, for tick labels, axis titles and the legend (the title 1.25x); 0: from the size
};

// Where the chart put things, in pixel-edge coordinates (pixel column i spans [i, i + 1)), so
// tests and callers can map data to pixels. The frame is drawn on the pixels just outside the plot
// area (column plot_left - 1, row plot_bottom, ...).
struct ChartLayout {
  int plot_left = 0, plot_top = 0, plot_right = 0, plot_bottom = 0;  // the plot area's edges
  double x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;                      // the axis limits
  bool log_x = false, log_y = false;
  int legend_left = 0, legend_top = 0, legend_right = 0, legend_bottom = 0;  // all 0 without a legend
  int title_top = 0, title_bottom = 0;    // the title's text box rows (0, 0 without a title)
  std::vector<double> x_ticks, y_ticks;  // the labelled tick values
  std::vector<std::string> x_tick_labels, y_tick_labels;
  double px(double x) const;  // data x -> pixel-edge x
  double py(double y) const;  // data y -> pixel-edge y
};

// Draws the series on white: plot frame, grid at the ticks, numeric tick labels, axis titles,
// title and legend. Points whose x or y is NaN or infinite (or not > 0 on a log axis) are skipped
// and break the line there; a point with no drawable neighbour is drawn as a dot. A series with no
// drawable point is drawn nowhere and its legend entry reads "name (no data)"; with no drawable
// point at all the plot area says "no data". A long run of points (more than 4 per pixel column)
// is drawn through each column's first, lowest, highest and last point, which looks the same and
// keeps an SVG of a 100k-step loss curve small. Throws ff::Error on a series whose x and y differ
// in length, on sizes out of range, and on limits that cannot hold (min >= max, <= 0 on a log
// axis).
Image render_line_chart(const std::vector<Series>& series, const ChartOptions& options = {},
                        ChartLayout* layout = nullptr);
// The same chart as an SVG document (text as glyph outlines: no fonts needed to view it), with the
// title in the document's <title>.
std::string line_chart_svg(const std::vector<Series>& series, const ChartOptions& options = {},
                           ChartLayout* layout = nullptr);
// Writes the chart as SVG (a .svg path) or PNG (.png), atomically: the target never holds half a
// file. Any other extension, a Cairo failure or an unwritable path throws ff::Error naming it.
void save_line_chart(const std::string& path, const std::vector<Series>& series, const ChartOptions& options = {},
                     ChartLayout* layout = nullptr);

}  // namespace ff
