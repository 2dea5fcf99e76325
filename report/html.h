// report/html.h — a small HTML report: a title, sections of paragraphs, tables, preformatted text
// and images (the SVG charts of report/chart.h and PNG figures, files beside the report, by
// relative path), in one self-contained file with an inline style sheet. Training and evaluation
// commands write RUN/report/index.html with it.
//
// All text is escaped (& < > " '), so names and messages from data never turn into markup; the one
// markup text may carry is `a code span` between backticks (a command, a file name), shown in
// <code>. No backtick is left in the document: an unpaired one is written as an entity. The file is
// written atomically (temporary file, fsync, rename), so a reader never sees half a report.
#pragma once
#include <string>
#include <vector>

namespace ff {

// Escapes & < > " ' as entities; valid in text and in attribute values.
std::string html_escape(const std::string& text);

class HtmlReport {
 public:
  explicit HtmlReport(std::string title);

  // Starts a section with a heading; what follows belongs to it. Content added before the first
  // section goes under the title.
  HtmlReport& section(const std::string& heading);
  // A paragraph; a '\n' in the text becomes a line break. Headings, paragraphs, table cells and
  // captions show `code spans`.
  HtmlReport& paragraph(const std::string& text);
  // A block of monospaced text kept as it is (a command line, a configuration, a log excerpt;
  // backticks too).
  HtmlReport& preformatted(const std::string& text);
  // A table: `header` may be empty; every row must have header.size() cells (or, without a header,
  // as many as the first row). Cells that read as numbers are right-aligned.
  HtmlReport& table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);
  // An image by a path relative to the report's folder (absolute paths and URLs are refused, so the
  // report folder can be moved as a whole), with an optional caption; width in CSS pixels, 0 keeps
  // the image's own size (shrunk to the page width when larger).
  HtmlReport& image(const std::string& relative_path, const std::string& caption = "", int width = 0);

  std::string html() const;                // the whole document
  void write(const std::string& path) const;  // atomically; throws ff::Error naming the path

 private:
  std::string title_;
  std::string body_;
  bool in_section_ = false;
};

}  // namespace ff
