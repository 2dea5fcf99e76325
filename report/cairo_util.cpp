// report/cairo_util.cpp — the shared Cairo helpers (see report/cairo_util.h).
#include "report/cairo_util.h"

#include <cmath>
#include <cstring>

#include "engine/error.h"

namespace ff::cairo_util {

void check(cairo_status_t status, const std::string& who) {
  FF_CHECK(status == CAIRO_STATUS_SUCCESS, who, ": Cairo: ", cairo_status_to_string(status));
}

std::string clean_utf8(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      out += c == '\t' ? ' ' : (c < 0x20 && c != '\n') || c == 0x7f ? '?' : static_cast<char>(c);
      ++i;
      continue;
    }
    // A multi-byte sequence: its length from the lead byte, each continuation 10xxxxxx, no
    // overlong forms, no surrogates, nothing above U+10FFFF.
    int len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    bool ok = len > 0 && i + len <= n;
    for (int k = 1; ok && k < len; ++k) ok = (s[i + k] & 0xC0) == 0x80;
    if (ok && len == 3) {
      const unsigned char d = s[i + 1];
      ok = !(c == 0xE0 && d < 0xA0) && !(c == 0xED && d >= 0xA0);
    }
    if (ok && len == 4) {
      const unsigned char d = s[i + 1];
      ok = !(c == 0xF0 && d < 0x90) && !(c == 0xF4 && d >= 0x90);
    }
    if (ok) {
      out.append(text, i, len);
      i += len;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

void set_font(cairo_t* cr, double size) {
  cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
  cairo_font_options_t* fo = cairo_font_options_create();
  cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
  cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_SLIGHT);
  cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
  cairo_set_font_options(cr, fo);
  cairo_font_options_destroy(fo);
}

TextBox measure(cairo_t* cr, const std::string& text) {
  TextBox b;
  const std::string clean = clean_utf8(text);
  size_t start = 0;
  while (true) {
    size_t nl = clean.find('\n', start);
    b.lines.push_back(clean.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  cairo_font_extents_t fe;
  cairo_font_extents(cr, &fe);
  b.ascent = fe.ascent;
  b.line_height = fe.ascent + fe.descent;
  for (const std::string& l : b.lines) {
    cairo_text_extents_t te;
    cairo_text_extents(cr, l.c_str(), &te);
    b.width = std::max(b.width, te.x_advance);
  }
  b.height = text.empty() ? 0 : b.line_height * static_cast<double>(b.lines.size());
  return b;
}

TextBox measure(const std::string& text, double size) {
  cairo_surface_t* s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1);
  cairo_t* cr = cairo_create(s);
  set_font(cr, size);
  TextBox b = measure(cr, text);
  const cairo_status_t st = cairo_status(cr);
  cairo_destroy(cr);
  cairo_surface_destroy(s);
  check(st, "text measure");
  return b;
}

void show_text(cairo_t* cr, double x, double y, const std::string& text, bool round_baseline) {
  const TextBox b = measure(cr, text);
  for (size_t i = 0; i < b.lines.size(); ++i) {
    if (b.lines[i].empty()) continue;
    double bx = x, by = y + b.ascent + static_cast<double>(i) * b.line_height;
    if (round_baseline) {
      cairo_user_to_device(cr, &bx, &by);
      by = std::round(by);
      cairo_device_to_user(cr, &bx, &by);
    }
    cairo_move_to(cr, bx, by);
    cairo_show_text(cr, b.lines[i].c_str());
  }
  cairo_new_path(cr);
}

cairo_surface_t* surface_from_image(const Image& img, const std::string& who) {
  FF_CHECK(!img.empty() && img.width > 0 && img.height > 0 && (img.channels == 1 || img.channels == 3) &&
               img.pixels.size() == static_cast<size_t>(img.width) * img.height * img.channels,
           who, ": cannot draw on image ", img.str());
  cairo_surface_t* s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, img.width, img.height);
  const cairo_status_t st = cairo_surface_status(s);
  if (st != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(s);
    check(st, who + " (" + img.str() + ")");
  }
  cairo_surface_flush(s);
  unsigned char* base = cairo_image_surface_get_data(s);
  const int stride = cairo_image_surface_get_stride(s);
  for (int y = 0; y < img.height; ++y) {
    auto* row = reinterpret_cast<uint32_t*>(base + static_cast<size_t>(y) * stride);
    const uint8_t* p = &img.pixels[static_cast<size_t>(y) * img.width * img.channels];
    for (int x = 0; x < img.width; ++x, p += img.channels) {
      const uint32_t r = p[0], g = img.channels == 3 ? p[1] : p[0], b = img.channels == 3 ? p[2] : p[0];
      row[x] = 0xFF000000u | (r << 16) | (g << 8) | b;
    }
  }
  cairo_surface_mark_dirty(s);
  return s;
}

void surface_to_image(cairo_surface_t* s, Image& img) {
  cairo_surface_flush(s);
  const unsigned char* base = cairo_image_surface_get_data(s);
  const int stride = cairo_image_surface_get_stride(s);
  for (int y = 0; y < img.height; ++y) {
    const auto* row = reinterpret_cast<const uint32_t*>(base + static_cast<size_t>(y) * stride);
    uint8_t* p = &img.pixels[static_cast<size_t>(y) * img.width * img.channels];
    for (int x = 0; x < img.width; ++x, p += img.channels) {
      const uint8_t r = (row[x] >> 16) & 0xFF, g = (row[x] >> 8) & 0xFF, b = row[x] & 0xFF;
      if (img.channels == 3) {
        p[0] = r, p[1] = g, p[2] = b;
      } else {
        p[0] = static_cast<uint8_t>(std::lround(0.299 * r + 0.587 * g + 0.114 * b));
      }
    }
  }
}

}  // namespace ff::cairo_util
