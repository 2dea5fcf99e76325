// report/draw.cpp — Canvas (Cairo on an Image's pixels), text measurement and montage (see
// report/draw.h).
//
// The canvas's user space is data/image.h's: Cairo's device pixel i spans [i, i + 1), so the
// canvas is translated by half a pixel and pixel (x, y)'s centre is the point (x, y).
#include "report/draw.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "report/cairo_util.h"

namespace ff {

namespace cu = cairo_util;

Color palette_color(int i) {
  static const Color kTab10[10] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
                                   {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  return kTab10[((i % 10) + 10) % 10];
}

struct Canvas::Impl {
  Image& img;
  cairo_surface_t* surface = nullptr;
  cairo_t* cr = nullptr;
  explicit Impl(Image& im) : img(im) {}
  ~Impl() {
    if (cr) cairo_destroy(cr);
    if (surface) cairo_surface_destroy(surface);
  }
  // Fails with the call's name when Cairo's context went into an error state.
  void done(const char* who) const { cu::check(cr, std::string("Canvas::") + who); }
};

Canvas::Canvas(Image& img) : impl_(std::make_unique<Impl>(img)) {
  impl_->surface = cu::surface_from_image(img, "Canvas");
  impl_->cr = cairo_create(impl_->surface);
  impl_->done("Canvas");
  cairo_translate(impl_->cr, 0.5, 0.5);
  cairo_set_line_cap(impl_->cr, CAIRO_LINE_CAP_ROUND);
  cairo_set_line_join(impl_->cr, CAIRO_LINE_JOIN_ROUND);
}

Canvas::~Canvas() {
  if (impl_ && impl_->cr && cairo_status(impl_->cr) == CAIRO_STATUS_SUCCESS) cu::surface_to_image(impl_->surface, impl_->img);
}

void Canvas::flush() {
  impl_->done("flush");
  cu::surface_to_image(impl_->surface, impl_->img);
}

namespace {
bool finite(std::initializer_list<double> v) {
  return std::all_of(v.begin(), v.end(), [](double d) { return std::isfinite(d); });
}
}  // namespace

void Canvas::line(double x0, double y0, double x1, double y1, Color color, double width) {
  FF_CHECK(finite({x0, y0, x1, y1}) && width > 0 && std::isfinite(width), "Canvas::line: bad line (", x0, ", ", y0,
           ") - (", x1, ", ", y1, ") width ", width);
  cairo_t* cr = impl_->cr;
  cairo_move_to(cr, x0, y0);
  cairo_line_to(cr, x1, y1);
  cairo_set_line_width(cr, width);
  cu::set_color(cr, color);
  cairo_stroke(cr);
  impl_->done("line");
}

void Canvas::disc(double x, double y, double radius, Color color) {
  FF_CHECK(finite({x, y, radius}) && radius > 0, "Canvas::disc: bad disc at (", x, ", ", y, ") radius ", radius);
  cairo_t* cr = impl_->cr;
  cairo_new_path(cr);
  cairo_arc(cr, x, y, radius, 0, 2 * M_PI);
  cu::set_color(cr, color);
  cairo_fill(cr);
  impl_->done("disc");
}

void Canvas::marker(double x, double y, Color color, Marker kind, double size, double width) {
  FF_CHECK(finite({x, y, size, width}) && size > 0 && width > 0, "Canvas::marker: bad marker at (", x, ", ", y,
           ") size ", size, " width ", width);
  if (kind == Marker::Dot) return disc(x, y, size, color);
  cairo_t* cr = impl_->cr;
  cairo_new_path(cr);
  if (kind == Marker::Cross) {
    const double d = size / std::sqrt(2.0);
    cairo_move_to(cr, x - d, y - d), cairo_line_to(cr, x + d, y + d);
    cairo_move_to(cr, x - d, y + d), cairo_line_to(cr, x + d, y - d);
  } else if (kind == Marker::Plus) {
    cairo_move_to(cr, x - size, y), cairo_line_to(cr, x + size, y);
    cairo_move_to(cr, x, y - size), cairo_line_to(cr, x, y + size);
  } else {
    cairo_arc(cr, x, y, size, 0, 2 * M_PI);
  }
  cairo_set_line_width(cr, width);
  cu::set_color(cr, color);
  cairo_stroke(cr);
  impl_->done("marker");
}

void Canvas::rect(double x0, double y0, double x1, double y1, Color color, double width) {
  FF_CHECK(finite({x0, y0, x1, y1, width}) && width > 0, "Canvas::rect: bad rectangle (", x0, ", ", y0, ") - (", x1,
           ", ", y1, ") width ", width);
  cairo_t* cr = impl_->cr;
  cairo_new_path(cr);
  cairo_rectangle(cr, std::min(x0, x1), std::min(y0, y1), std::fabs(x1 - x0), std::fabs(y1 - y0));
  cairo_set_line_width(cr, width);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_MITER);
  cu::set_color(cr, color);
  cairo_stroke(cr);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  impl_->done("rect");
}

void Canvas::fill_rect(int x0, int y0, int x1, int y1, Color color, double alpha) {
  FF_CHECK(alpha >= 0 && alpha <= 1, "Canvas::fill_rect: alpha ", alpha, " is outside [0, 1]");
  if (x1 <= x0 || y1 <= y0) return;
  cairo_t* cr = impl_->cr;
  cairo_new_path(cr);
  cairo_rectangle(cr, x0 - 0.5, y0 - 0.5, x1 - x0, y1 - y0);  // pixel edges
  cu::set_color(cr, color, alpha);
  cairo_fill(cr);
  impl_->done("fill_rect");
}

void Canvas::text(int x, int y, const std::string& text, Color color, double size, std::optional<Color> background) {
  FF_CHECK(std::isfinite(size) && size >= 1 && size <= 1000, "Canvas::text: font size ", size,
           " is outside 1..1000 pixels");
  if (text.empty()) return;
  cairo_t* cr = impl_->cr;
  cu::set_font(cr, size);
  if (background) {
    const cu::TextBox b = cu::measure(cr, text);
    const int m = static_cast<int>(std::ceil(size / 6));
    fill_rect(x - m, y - m, x + static_cast<int>(std::ceil(b.width)) + m, y + static_cast<int>(std::ceil(b.height)) + m,
              *background);
  }
  cu::set_color(cr, color);
  cu::show_text(cr, x - 0.5, y - 0.5, text);
  impl_->done("text");
}

int text_width(const std::string& text, double size) {
  return static_cast<int>(std::ceil(cu::measure(text, size).width - 1e-9));
}

int text_height(const std::string& text, double size) {
  return static_cast<int>(std::ceil(cu::measure(text, size).height - 1e-9));
}

Image montage(const std::vector<Image>& images, const std::vector<std::string>& captions, int cols, int pad,
              Color background, double font_size) {
  FF_CHECK(!images.empty(), "montage: no images");
  FF_CHECK(captions.empty() || captions.size() == images.size(), "montage: ", captions.size(), " captions for ",
           images.size(), " images");
  FF_CHECK(pad >= 0 && cols >= 0 && font_size >= 1, "montage: bad layout (cols ", cols, ", pad ", pad, ", font size ",
           font_size, ")");
  int cw = 0, ch = 0, cap_h = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    const Image& im = images[i];
    FF_CHECK(!im.empty() && (im.channels == 1 || im.channels == 3), "montage: image ", i, " is ", im.str());
    cw = std::max(cw, im.width), ch = std::max(ch, im.height);
    if (!captions.empty()) cap_h = std::max(cap_h, text_height(captions[i], font_size));
  }
  const int cap_gap = std::max(pad, static_cast<int>(std::ceil(font_size / 3)));
  if (cap_h > 0) cap_h += cap_gap;
  const int n = static_cast<int>(images.size());
  const int c = cols == 0 ? n : std::min(cols, n), rows = (n + c - 1) / c;
  Image out(pad + c * (cw + pad), pad + rows * (ch + cap_h + pad), 3, 0);
  for (size_t k = 0; k < out.pixels.size(); k += 3)
    out.pixels[k] = background.r, out.pixels[k + 1] = background.g, out.pixels[k + 2] = background.b;
  const double luma = 0.299 * background.r + 0.587 * background.g + 0.114 * background.b;
  const Color ink = luma > 128 ? Color{30, 30, 30} : Color{235, 235, 235};
  for (int i = 0; i < n; ++i) {
    Image im = to_channels(images[i], 3);
    const int cx = pad + (i % c) * (cw + pad), cy = pad + (i / c) * (ch + cap_h + pad);
    const int ox = cx + (cw - im.width) / 2, oy = cy + (ch - im.height) / 2;
    for (int y = 0; y < im.height; ++y) std::copy_n(&im.at(0, y, 0), size_t(im.width) * 3, &out.at(ox, oy + y, 0));
  }
  if (cap_h > 0) {
    Canvas canvas(out);
    for (int i = 0; i < n; ++i) {
      if (captions[i].empty()) continue;
      const int cx = pad + (i % c) * (cw + pad), cy = pad + (i / c) * (ch + cap_h + pad);
      std::string cap = cu::clean_utf8(captions[i]);
      const int room = cw + pad;
      if (text_width(cap, font_size) > room) {  // shorten to the cell, marking the cut
        while (cap.size() > 1 && text_width(cap + "..", font_size) > room) {
          // one whole character off the end: its continuation bytes, then its first byte
          while ((static_cast<unsigned char>(cap.back()) & 0xC0) == 0x80 && cap.size() > 1) cap.pop_back();
          cap.pop_back();
        }
        cap += "..";
      }
      canvas.text(cx + (cw - text_width(cap, font_size)) / 2, cy + ch + cap_gap / 2, cap, ink, font_size);
    }
  }
  return out;
}

}  // namespace ff
