// report/html.cpp — the HTML report builder (see report/html.h).
#include "report/html.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "engine/error.h"
#include "engine/safetensors.h"

namespace ff {

namespace {

// Percent-encodes a relative path for an href/src: everything but unreserved characters and '/'.
std::string url_path(const std::string& path) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// A cell reads as a number when strtod consumes all of it (spaces around it and one trailing '%'
// allowed): "0.953", "-1e-3", "12 %".
bool numeric(const std::string& s) {
  size_t b = s.find_first_not_of(' '), e = s.find_last_not_of(' ');
  if (b == std::string::npos) return false;
  std::string t = s.substr(b, e - b + 1);
  if (t.back() == '%') t.pop_back();
  while (!t.empty() && t.back() == ' ') t.pop_back();
  if (t.empty()) return false;
  char* end = nullptr;
  std::strtod(t.c_str(), &end);
  return end == t.c_str() + t.size();
}

const char* kStyle =
    "body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;max-width:1000px;margin:2em auto;"
    "padding:0 1em;color:#222;line-height:1.45}\n"
    "h1{font-size:1.7em;border-bottom:2px solid #ddd;padding-bottom:.3em}\n"
    "h2{font-size:1.3em;margin-top:1.6em;border-bottom:1px solid #eee;padding-bottom:.2em}\n"
    "table{border-collapse:collapse;margin:.8em 0}\n"
    "th,td{border:1px solid #ddd;padding:.3em .7em;text-align:left}\n"
    "th{background:#f4f4f4}\n"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
    "tr:nth-child(even) td{background:#fafafa}\n"
    "pre{background:#f6f6f6;border:1px solid #e4e4e4;padding:.6em;overflow-x:auto}\n"
    "figure{margin:1em 0}\n"
    "figure img{max-width:100%;height:auto;border:1px solid #eee}\n"
    "figcaption{color:#555;font-size:.92em;margin-top:.3em}\n"
    "code{background:#f3f3f3;padding:0 .2em;border-radius:3px;font-size:.95em}\n";

// Escaped text in which `a span between backticks` becomes <code>; an unpaired backtick is
// written as an entity, so the document holds no literal backtick.
std::string inline_markup(const std::string& text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t open = text.find('`', i);
    if (open == std::string::npos) {
      out += html_escape(text.substr(i));
      break;
    }
    out += html_escape(text.substr(i, open - i));
    size_t close = text.find('`', open + 1);
    if (close == std::string::npos) {
      out += "&#96;" + html_escape(text.substr(open + 1));
      break;
    }
    out += "<code>" + html_escape(text.substr(open + 1, close - open - 1)) + "</code>";
    i = close + 1;
  }
  return out;
}

// For <title> and attributes, where markup cannot go: the backticks of code spans dropped, an
// unpaired one written as an entity.
std::string plain(const std::string& text) {
  const bool paired = std::count(text.begin(), text.end(), '`') % 2 == 0;
  std::string out;
  for (char c : text)
    if (c == '`')
      out += paired ? "" : "&#96;";
    else
      out += html_escape(std::string(1, c));
  return out;
}

}  // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

HtmlReport::HtmlReport(std::string title) : title_(std::move(title)) {}

HtmlReport& HtmlReport::section(const std::string& heading) {
  if (in_section_) body_ += "</section>\n";
  body_ += "<section>\n<h2>" + inline_markup(heading) + "</h2>\n";
  in_section_ = true;
  return *this;
}

HtmlReport& HtmlReport::paragraph(const std::string& text) {
  std::string e = inline_markup(text), out;
  for (char c : e) out += c == '\n' ? std::string("<br>\n") : std::string(1, c);
  body_ += "<p>" + out + "</p>\n";
  return *this;
}

HtmlReport& HtmlReport::preformatted(const std::string& text) {
  std::string e;
  for (char c : html_escape(text)) e += c == '`' ? std::string("&#96;") : std::string(1, c);
  body_ += "<pre>" + e + "</pre>\n";
  return *this;
}

HtmlReport& HtmlReport::table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  FF_CHECK(!header.empty() || !rows.empty(), "HtmlReport::table: no header and no rows");
  const size_t cols = header.empty() ? rows[0].size() : header.size();
  FF_CHECK(cols > 0, "HtmlReport::table: rows without cells");
  for (size_t r = 0; r < rows.size(); ++r)
    FF_CHECK(rows[r].size() == cols, "HtmlReport::table: row ", r, " has ", rows[r].size(), " cells, expected ", cols);
  std::string t = "<table>\n";
  if (!header.empty()) {
    t += "<thead><tr>";
    for (const auto& h : header) t += "<th>" + inline_markup(h) + "</th>";
    t += "</tr></thead>\n";
  }
  t += "<tbody>\n";
  for (const auto& row : rows) {
    t += "<tr>";
    for (const auto& c : row) t += (numeric(c) ? "<td class=\"num\">" : "<td>") + inline_markup(c) + "</td>";
    t += "</tr>\n";
  }
  t += "</tbody>\n</table>\n";
  body_ += t;
  return *this;
}

HtmlReport& HtmlReport::image(const std::string& relative_path, const std::string& caption, int width) {
  FF_CHECK(!relative_path.empty(), "HtmlReport::image: empty path");
  FF_CHECK(relative_path[0] != '/' && relative_path[0] != '\\' && relative_path.find(':') == std::string::npos,
           "HtmlReport::image: \"", relative_path,
           "\" is not a relative path (the report refers to files beside it, so its folder can move)");
  FF_CHECK(width >= 0, "HtmlReport::image: width ", width, " is negative");
  std::string alt = caption.empty() ? relative_path : caption;
  body_ += "<figure><img src=\"" + html_escape(url_path(relative_path)) + "\" alt=\"" + plain(alt) + "\"";
  if (width > 0) body_ += " width=\"" + std::to_string(width) + "\"";
  body_ += ">";
  if (!caption.empty()) body_ += "<figcaption>" + inline_markup(caption) + "</figcaption>";
  body_ += "</figure>\n";
  return *this;
}

std::string HtmlReport::html() const {
  std::string doc = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  doc += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  doc += "<title>" + plain(title_) + "</title>\n<style>\n" + kStyle + "</style>\n</head>\n<body>\n";
  doc += "<h1>" + inline_markup(title_) + "</h1>\n" + body_;
  if (in_section_) doc += "</section>\n";
  doc += "</body>\n</html>\n";
  return doc;
}

void HtmlReport::write(const std::string& path) const { write_file_atomic(path, html()); }

}  // namespace ff
