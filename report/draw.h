// report/draw.h — drawing on images with Cairo: anti-aliased lines, discs, markers, rectangles,
// text in a real font (DejaVu Sans through fontconfig), and side-by-side montages with captions.
// The landmark and verification figures are drawn with it; report/chart.h draws the charts.
//
// Coordinates follow data/image.h: pixel (x, y) has its centre at (x, y), so a landmark from
// CelebA or from decode_heatmaps is drawn where it is. Text positions are the top-left corner of
// the text's box; sizes are font sizes in pixels (the em square; capitals are about 0.73 of it).
// Text is UTF-8 (Cairo's toy text API: no shaping, no right-to-left); invalid bytes show as '?'.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/image.h"

namespace ff {

struct Color {
  uint8_t r = 0, g = 0, b = 0;
};
// The i-th colour of a 10-colour qualitative palette (matplotlib's "tab10"), cycling.
Color palette_color(int i);

enum class Marker { Cross, Plus, Dot, Circle };

// Draws on an RGB or gray Image (gray: the colour's luma). The pixels are copied into a Cairo
// surface when the canvas is made and back into the image by flush() and by the destructor, so
// draw many shapes through one canvas. Everything clips at the image borders. Bad arguments
// (non-finite coordinates, non-positive sizes) throw ff::Error naming the call; so does a Cairo
// failure.
class Canvas {
 public:
  explicit Canvas(Image& img);
  ~Canvas();
  Canvas(const Canvas&) = delete;
  Canvas& operator=(const Canvas&) = delete;

  // A line of `width` pixels with round ends, from (x0, y0) to (x1, y1).
  void line(double x0, double y0, double x1, double y1, Color color, double width = 1.5);
  // A filled disc: a point.
  void disc(double x, double y, double radius, Color color);
  // A marker centred at (x, y), `size` pixels from the centre to its tips (Dot: its radius).
  void marker(double x, double y, Color color, Marker kind = Marker::Cross, double size = 3, double width = 1.5);
  // A rectangle's outline through the pixel centres (x0, y0) and (x1, y1) (any order): a face box.
  void rect(double x0, double y0, double x1, double y1, Color color, double width = 1.5);
  // Fills the pixels [x0, x1) x [y0, y1) with opacity alpha in [0, 1].
  void fill_rect(int x0, int y0, int x1, int y1, Color color, double alpha = 1.0);
  // Text with its top-left at pixel (x, y) in a font of `size` pixels; '\n' starts a new line.
  // With a background colour, a box of that colour (size / 6 of margin) goes under it first, for
  // legibility on photographs.
  void text(int x, int y, const std::string& text, Color color, double size = 12,
            std::optional<Color> background = std::nullopt);

  void flush();  // copies the drawing into the image now

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The box of `text` in a font of `size` pixels: the widest line's advance, and the lines' height
// (ascent + descent per line), in pixels, rounded up.
int text_width(const std::string& text, double size = 12);
int text_height(const std::string& text, double size = 12);

// Images side by side (cols = 0: one row) or in a grid of `cols` columns, each with an optional
// caption centred under it, on `background`, `pad` pixels apart. Cells are as large as the
// largest image; images are centred in their cell and converted to RGB. captions: empty, or one
// per image; a caption wider than its cell is shortened with "..".
Image montage(const std::vector<Image>& images, const std::vector<std::string>& captions = {}, int cols = 0,
              int pad = 6, Color background = {255, 255, 255}, double font_size = 12);

}  // namespace ff
