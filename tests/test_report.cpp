// tests/test_report.cpp — report/html: the HTML report builder.
//
// Checks: html_escape of every special character; user text never becomes markup (titles,
// headings, paragraphs, cells, captions, paths); the document's structure (doctype, one h1, the
// sections closed in order, table header/rows/cells, numeric cells right-aligned, images with
// percent-encoded relative paths and captions, line breaks in paragraphs); absolute paths, URLs and
// ragged tables raise; `code spans` become <code> and no backtick is left in the document;
// write() puts exactly html() on disk and leaves no temporary file behind;
// writing into a missing folder raises naming the path.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/error.h"
#include "report/html.h"

namespace ff::test {
namespace {

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST(Report, Escape) {
  EXPECT_EQ(html_escape("a<b>&\"c'd"), "a&lt;b&gt;&amp;&quot;c&#39;d");
  EXPECT_EQ(html_escape("plain text é"), "plain text é");  // UTF-8 passes through
  EXPECT_EQ(html_escape("&amp;"), "&amp;amp;");           // escaping is not idempotent by design
}

TEST(Report, UserTextNeverBecomesMarkup) {
  const std::string evil = "<script>alert('x')</script>";
  HtmlReport r(evil);
  r.section(evil).paragraph(evil).preformatted(evil).table({evil}, {{evil}}).image("a.png", evil);
  std::string h = r.html();
  EXPECT_EQ(count(h, "<script>"), 0u);
  EXPECT_EQ(count(h, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"), 9u);  // title, h1, h2, p, pre, th, td, alt, caption
}

TEST(Report, Structure) {
  HtmlReport r("Run 42");
  r.paragraph("before any section")
      .section("Training")
      .paragraph("line one\nline two")
      .image("curves/loss plot.png", "Loss", 640)
      .section("Evaluation")
      .table({"metric", "value"}, {{"accuracy", "0.953"}, {"TAR @ FAR 1e-3", "87.5 %"}, {"note", "n/a"}})
      .preformatted("faceforge train --steps 100");
  std::string h = r.html();
  EXPECT_EQ(h.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(h.find("<meta charset=\"utf-8\">"), std::string::npos);
  EXPECT_EQ(count(h, "<h1>Run 42</h1>"), 1u);
  EXPECT_NE(h.find("<title>Run 42</title>"), std::string::npos);
  EXPECT_EQ(count(h, "<section>"), 2u);
  EXPECT_EQ(count(h, "</section>"), 2u);
  // In order: the loose paragraph, Training, its content, Evaluation, its table.
  size_t p0 = h.find("<p>before any section</p>"), s1 = h.find("<h2>Training</h2>"),
         br = h.find("line one<br>\nline two"), img = h.find("<img src=\"curves/loss%20plot.png\" alt=\"Loss\" width=\"640\">"),
         s2 = h.find("<h2>Evaluation</h2>"), tab = h.find("<table>"), pre = h.find("<pre>faceforge train --steps 100</pre>");
  for (size_t p : {p0, s1, br, img, s2, tab, pre}) ASSERT_NE(p, std::string::npos) << h;
  EXPECT_LT(p0, s1);
  EXPECT_LT(s1, br);
  EXPECT_LT(br, img);
  EXPECT_LT(img, s2);
  EXPECT_LT(s2, tab);
  EXPECT_LT(tab, pre);
  // the first section closes before the second opens
  EXPECT_LT(h.find("</section>"), s2);
  EXPECT_NE(h.find("<figcaption>Loss</figcaption>"), std::string::npos);
  EXPECT_NE(h.find("<thead><tr><th>metric</th><th>value</th></tr></thead>"), std::string::npos);
  EXPECT_NE(h.find("<td>accuracy</td><td class=\"num\">0.953</td>"), std::string::npos);
  EXPECT_NE(h.find("<td class=\"num\">87.5 %</td>"), std::string::npos);
  EXPECT_NE(h.find("<td>n/a</td>"), std::string::npos);
  EXPECT_EQ(count(h, "<tr>"), 4u);
  EXPECT_EQ(h.substr(h.size() - 16), "</body>\n</html>\n");
}

TEST(Report, CodeSpansAndNoBackticks) {
  HtmlReport r("`faceforge demo` report");
  r.section("Verification (`faceforge verify`)")
      .paragraph("run `faceforge verify a<b.jpg` now; a lone ` stays text")
      .table({"`cmd`"}, {{"`ls`"}})
      .image("roc.svg", "ROC from `eval-embed`")
      .preformatted("echo `date`");
  const std::string h = r.html();
  EXPECT_EQ(h.find('`'), std::string::npos) << h;
  EXPECT_NE(h.find("<title>faceforge demo report</title>"), std::string::npos);
  EXPECT_NE(h.find("<h1><code>faceforge demo</code> report</h1>"), std::string::npos);
  EXPECT_NE(h.find("<h2>Verification (<code>faceforge verify</code>)</h2>"), std::string::npos);
  EXPECT_NE(h.find("<p>run <code>faceforge verify a&lt;b.jpg</code> now; a lone &#96; stays text</p>"), std::string::npos);
  EXPECT_NE(h.find("<th><code>cmd</code></th>"), std::string::npos);
  EXPECT_NE(h.find("<td><code>ls</code></td>"), std::string::npos);
  EXPECT_NE(h.find("<img src=\"roc.svg\" alt=\"ROC from eval-embed\">"), std::string::npos);
  EXPECT_NE(h.find("<figcaption>ROC from <code>eval-embed</code></figcaption>"), std::string::npos);
  EXPECT_NE(h.find("<pre>echo &#96;date&#96;</pre>"), std::string::npos);
}

TEST(Report, BadInputRaises) {
  HtmlReport r("t");
  EXPECT_THROW(r.image("/abs/loss.png"), Error);
  EXPECT_THROW(r.image("http://example.com/x.png"), Error);
  EXPECT_THROW(r.image(""), Error);
  EXPECT_THROW(r.image("a.png", "", -1), Error);
  EXPECT_THROW(r.table({"a", "b"}, {{"1", "2"}, {"3"}}), Error);
  EXPECT_THROW(r.table({}, {}), Error);
  EXPECT_NO_THROW(r.table({}, {{"1", "2"}, {"3", "4"}}));  // no header: the first row sets the width
  EXPECT_NO_THROW(r.image("../other/run/loss.png"));         // relative, even upwards
}

TEST(Report, WritesAtomically) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(::testing::TempDir()) / "ff_report_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  HtmlReport r("written");
  r.section("s").paragraph("p");
  r.write((dir / "index.html").string());
  std::ifstream f(dir / "index.html", std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_EQ(ss.str(), r.html());
  int files = 0;
  for (auto& e : fs::directory_iterator(dir)) {
    ++files;
    EXPECT_EQ(e.path().filename(), "index.html");
  }
  EXPECT_EQ(files, 1);
  // Overwriting replaces the whole file.
  HtmlReport r2("second");
  r2.write((dir / "index.html").string());
  std::ifstream g(dir / "index.html", std::ios::binary);
  std::stringstream s2;
  s2 << g.rdbuf();
  EXPECT_EQ(s2.str(), r2.html());
  try {
    r.write((dir / "missing" / "index.html").string());
    ADD_FAILURE() << "no error for a missing folder";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ff::test
