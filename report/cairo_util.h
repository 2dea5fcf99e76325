// report/cairo_util.h — what report/draw.cpp and report/chart.cpp share about Cairo: the font
// (one face, one set of font options, so a layout measured once holds on every surface), UTF-8
// cleaning for the toy text API, text measured and drawn line by line, colours, and Cairo status
// checks that become ff::Error. Internal to report/.
#pragma once
#include <cairo.h>

#include <string>
#include <vector>

#include "report/draw.h"

namespace ff::cairo_util {

// Throws ff::Error "<who>: Cairo: <reason>" when the status is not success.
void check(cairo_status_t status, const std::string& who);
inline void check(cairo_t* cr, const std::string& who) { check(cairo_status(cr), who); }

// A copy of `text` that Cairo's toy text API accepts: valid UTF-8 kept, every invalid byte (and
// every control character but '\n') replaced by '?', tabs by a space.
std::string clean_utf8(const std::string& text);

// Selects DejaVu Sans (fontconfig's nearest sans-serif if absent) at `size` pixels, grayscale
// anti-aliasing, unhinted metrics (advances scale linearly with the size).
void set_font(cairo_t* cr, double size);

struct TextBox {
  double width = 0, height = 0;  // widest line's advance; lines x (ascent + descent)
  double ascent = 0, line_height = 0;
  std::vector<std::string> lines;  // cleaned, split at '\n'
};
// Measures `text` with the current font of cr (set_font first).
TextBox measure(cairo_t* cr, const std::string& text);
// Measures with a scratch context: for layouts decided before there is a surface.
TextBox measure(const std::string& text, double size);
// Draws `text` with its box's top-left at (x, y) in the current user space, in the current source;
// each baseline is rounded to a whole device pixel when round_baseline is set.
void show_text(cairo_t* cr, double x, double y, const std::string& text, bool round_baseline = true);

inline void set_color(cairo_t* cr, Color c, double alpha = 1.0) {
  cairo_set_source_rgba(cr, c.r / 255.0, c.g / 255.0, c.b / 255.0, alpha);
}

// Image <-> a Cairo RGB24 image surface of the same size (gray images become r = g = b and come
// back as the luma 0.299 R + 0.587 G + 0.114 B).
cairo_surface_t* surface_from_image(const Image& img, const std::string& who);
void surface_to_image(cairo_surface_t* s, Image& img);

}  // namespace ff::cairo_util
