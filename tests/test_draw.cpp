// tests/test_draw.cpp — report/draw: Cairo drawing on images (Canvas), text, montage.
//
// Checks: a 1-pixel line through pixel centres fills exactly its row (the canvas uses
// data/image.h's centre coordinates) and a slanted one has soft edges; discs, markers and
// rectangles cover what they should and leave the rest; gray images get the colour's luma; text
// leaves ink only inside its measured box, the box grows with the font size, non-ASCII text and
// invalid UTF-8 draw without error; a background box goes under text; the drawing reaches the image
// by flush() and by the canvas's end; montage's layout (sizes, centring, captions, shortened
// captions); bad arguments raise naming the call.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "engine/error.h"
#include "report/draw.h"

namespace ff::test {
namespace {

const Color kRed{220, 0, 0}, kBlue{0, 0, 230}, kWhite{255, 255, 255};

bool is_color(const Image& img, int x, int y, Color c, int tol) {
  return std::abs(img.at(x, y, 0) - c.r) <= tol && std::abs(img.at(x, y, 1) - c.g) <= tol &&
         std::abs(img.at(x, y, 2) - c.b) <= tol;
}
// Pixels of a white image that are no longer white, inside [x0, x1) x [y0, y1).
int count_ink(const Image& img, int x0, int y0, int x1, int y1) {
  int n = 0;
  for (int y = std::max(0, y0); y < std::min(img.height, y1); ++y)
    for (int x = std::max(0, x0); x < std::min(img.width, x1); ++x) n += !is_color(img, x, y, kWhite, 0);
  return n;
}

TEST(Draw, LineOnPixelCentresAndSoftEdges) {
  Image img(40, 20, 3, 0);
  {
    Canvas c(img);
    c.line(2, 5, 30, 5, kWhite, 1.0);  // through the centres of row 5
  }
  for (int x = 3; x < 30; ++x) {
    EXPECT_EQ(img.at(x, 5, 0), 255) << x;
    EXPECT_EQ(img.at(x, 4, 0), 0) << x;
    EXPECT_EQ(img.at(x, 6, 0), 0) << x;
  }
  EXPECT_EQ(img.at(35, 5, 0), 0);  // past the round end
  Image d(40, 40, 1, 0);           // a gray image: the colour's luma
  {
    Canvas c(d);
    c.line(2, 3, 35, 30, kWhite, 1.5);
  }
  int partial = 0, full = 0;
  for (uint8_t v : d.pixels) partial += v > 20 && v < 235, full += v >= 235;
  EXPECT_GT(partial, 20);  // anti-aliased edges
  EXPECT_GT(full, 10);
  Image g(10, 10, 1, 0);
  {
    Canvas c(g);
    c.fill_rect(0, 0, 10, 10, Color{255, 0, 0});
  }
  EXPECT_EQ(g.at(5, 5, 0), 76);  // round(0.299 * 255)
}

TEST(Draw, DiscsMarkersRectangles) {
  Image img(60, 60, 3, 0);
  {
    Canvas c(img);
    c.marker(20, 20, kRed, Marker::Cross, 5, 1.5);
    c.marker(45, 15, kBlue, Marker::Plus, 5, 1.0);
    c.marker(45, 45, kBlue, Marker::Circle, 6, 1.0);
    c.disc(10, 50, 3, kRed);
    c.marker(30, 50, kRed, Marker::Dot, 2);
  }
  EXPECT_TRUE(is_color(img, 20, 20, kRed, 40));
  EXPECT_TRUE(is_color(img, 23, 23, kRed, 90));  // on a diagonal of the cross
  EXPECT_EQ(img.at(20, 24, 0), 0);               // not on its vertical
  EXPECT_TRUE(is_color(img, 45, 11, kBlue, 10));  // on the plus's vertical arm
  EXPECT_EQ(img.at(48, 12, 2), 0);
  EXPECT_TRUE(is_color(img, 51, 45, kBlue, 30));  // on the circle
  EXPECT_EQ(img.at(45, 45, 2), 0);                // hollow
  EXPECT_TRUE(is_color(img, 10, 50, kRed, 0));    // the disc's centre, full
  EXPECT_TRUE(is_color(img, 12, 50, kRed, 30));
  EXPECT_EQ(img.at(15, 50, 0), 0);
  EXPECT_TRUE(is_color(img, 30, 50, kRed, 30));
  EXPECT_EQ(img.at(34, 50, 0), 0);
  Image r(40, 40, 3, 0);
  {
    Canvas c(r);
    c.rect(30, 30, 10, 8, Color{0, 255, 0}, 1.0);  // corners in any order
  }
  EXPECT_EQ(r.at(20, 8, 1), 255);
  EXPECT_EQ(r.at(10, 20, 1), 255);
  EXPECT_EQ(r.at(30, 30, 1), 255);
  EXPECT_EQ(r.at(20, 20, 1), 0);
  EXPECT_EQ(r.at(20, 7, 1), 0);
  // Clipped at the border without complaint; bad shapes raise naming the call.
  Canvas c(r);
  EXPECT_NO_THROW(c.rect(-10, -10, 100, 100, kRed));
  EXPECT_NO_THROW(c.disc(-50, -50, 3, kRed));
  try {
    c.line(0, 0, std::nan(""), 1, kRed);
    ADD_FAILURE() << "no error for a NaN end point";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Canvas::line"), std::string::npos) << e.what();
  }
  EXPECT_THROW(c.disc(1, 1, 0, kRed), Error);
  EXPECT_THROW(c.marker(1, 1, kRed, Marker::Plus, -1), Error);
  EXPECT_THROW(c.fill_rect(0, 0, 2, 2, kRed, 1.5), Error);
  Image empty;
  EXPECT_THROW(Canvas{empty}, Error);
  Image four(2, 2, 3);
  four.channels = 4;
  EXPECT_THROW(Canvas{four}, Error);
}

TEST(Draw, FlushAndDestructorWriteBack) {
  Image img(8, 8, 3, 0);
  Canvas c(img);
  c.fill_rect(0, 0, 4, 8, kWhite);
  EXPECT_EQ(img.at(1, 1, 0), 0);  // not yet
  c.flush();
  EXPECT_EQ(img.at(1, 1, 0), 255);
  EXPECT_EQ(img.at(5, 1, 0), 0);
  c.fill_rect(4, 0, 8, 8, kWhite, 0.5);
  c.flush();
  EXPECT_NEAR(img.at(5, 1, 0), 128, 1);  // half opacity over black
}

TEST(Draw, TextStaysInItsBoxAndScales) {
  const std::string t = "Loss 0.25";
  const int w = text_width(t, 20), h = text_height(t, 20);
  EXPECT_GT(w, 60);
  EXPECT_LT(w, 120);
  EXPECT_GE(h, 20);
  EXPECT_LE(h, 26);
  EXPECT_NEAR(text_width(t, 40), 2 * w, 2);  // unhinted metrics scale with the size
  EXPECT_NEAR(text_height("a\nb", 20), 2 * h, 1);
  EXPECT_EQ(text_width("", 20), 0);
  EXPECT_EQ(text_height("", 20), 0);
  Image img(200, 60, 3, 255);
  {
    Canvas c(img);
    c.text(10, 20, t, Color{0, 0, 0}, 20);
  }
  const int inside = count_ink(img, 10, 20, 10 + w + 1, 20 + h + 1);
  EXPECT_GT(inside, 100);  // glyphs drawn
  EXPECT_EQ(count_ink(img, 0, 0, img.width, img.height), inside);
  // Another string leaves other ink: the text is drawn, not a box.
  Image other(200, 60, 3, 255);
  {
    Canvas c(other);
    c.text(10, 20, "Loss 0.75", Color{0, 0, 0}, 20);
  }
  EXPECT_NE(other.pixels, img.pixels);
  // Non-ASCII text draws; an invalid byte shows as '?'; tabs are spaces; nothing throws.
  EXPECT_GT(text_width("caf\xC3\xA9", 20), text_width("caf", 20));
  EXPECT_EQ(text_width("caf\xFF", 20), text_width("caf?", 20));
  EXPECT_EQ(text_width("caf\xC3", 20), text_width("caf?", 20));  // a cut sequence
  EXPECT_EQ(text_width("a\tb", 20), text_width("a b", 20));
  Image u(100, 40, 3, 255);
  Canvas cu(u);
  EXPECT_NO_THROW(cu.text(2, 2, "\xE2\x89\xA5 \xFF\xFE\x80 ok", Color{0, 0, 0}, 14));
  EXPECT_THROW(cu.text(2, 2, "x", Color{0, 0, 0}, 0.5), Error);
  // A background box under the text, the margin around it.
  Image bg(100, 40, 3, 0);
  {
    Canvas c(bg);
    c.text(10, 10, "ok", Color{0, 0, 0}, 12, Color{255, 255, 0});
  }
  EXPECT_TRUE(is_color(bg, 9, 9, Color{255, 255, 0}, 0));
  EXPECT_TRUE(is_color(bg, 5, 5, Color{0, 0, 0}, 0));
}

TEST(Draw, MontageLayout) {
  Image a(30, 20, 3, 200), b(20, 40, 1, 50);
  Image m = montage({a, b}, {"first", "second"}, 0, 6, Color{255, 255, 255}, 12);
  EXPECT_EQ(m.width, 6 + 2 * (30 + 6));
  const int cap = text_height("first", 12) + 6;
  EXPECT_EQ(m.height, 6 + 40 + cap + 6);
  EXPECT_EQ(m.channels, 3);
  // a centred vertically in its 30x40 cell, b centred horizontally in its cell
  EXPECT_EQ(m.at(6, 6 + 10, 0), 200);
  EXPECT_EQ(m.at(6, 6 + 9, 0), 255);
  EXPECT_EQ(m.at(42 + 5, 6, 1), 50);
  EXPECT_EQ(m.at(42 + 4, 6, 1), 255);
  // captions: ink under each cell, none between the images and the captions' band
  EXPECT_GT(count_ink(m, 6, 46, 36, m.height), 20);
  EXPECT_GT(count_ink(m, 42, 46, 72, m.height), 20);
  // a grid: 3 images in 2 columns, no captions
  Image g = montage({a, a, a}, {}, 2, 2);
  EXPECT_EQ(g.width, 2 + 2 * 32);
  EXPECT_EQ(g.height, 2 + 2 * 22);
  // A caption wider than its cell is shortened and stays inside the picture's width.
  Image s = montage({a}, {"a caption far too long for a thirty pixel cell"}, 0, 2);
  EXPECT_EQ(s.width, 2 + 30 + 2);
  EXPECT_GT(count_ink(s, 0, 24, s.width, s.height), 5);
  EXPECT_THROW(montage({}), Error);
  EXPECT_THROW(montage({a, b}, {"one"}), Error);
}

}  // namespace
}  // namespace ff::test
