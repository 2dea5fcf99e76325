// face/landmark_report.cpp — see landmark_report.h.
#include "face/landmark_report.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "data/face_sample.h"
#include "data/geometry.h"
#include "report/chart.h"
#include "report/glossary.h"
#include "report/html.h"

namespace ff {

namespace {

constexpr Color kTruth{0, 220, 0}, kPred{255, 40, 40};

// Columns of a CSV file written by CsvLog (a header, then numbers), by name; absent file -> empty.
std::map<std::string, std::vector<double>> read_csv(const std::string& path) {
  std::map<std::string, std::vector<double>> cols;
  std::ifstream f(path);
  std::string line, cell;
  if (!std::getline(f, line)) return cols;
  std::vector<std::string> names;
  std::stringstream hs(line);
  while (std::getline(hs, cell, ',')) names.push_back(cell);
  for (int64_t row = 2; std::getline(f, line); ++row) {
    std::stringstream ls(line);
    for (size_t i = 0; i < names.size() && std::getline(ls, cell, ','); ++i) {
      // The whole cell (nan allowed: CsvLog writes it for a metric not measured that epoch).
      const char* b = cell.c_str();
      char* end = nullptr;
      const double v = cell.empty() ? 0 : std::strtod(b, &end);
      FF_CHECK(!cell.empty() && end == b + cell.size(), path, ":", row, ": column '", names[i], "' = '", cell,
               "' is not a number");
      cols[names[i]].push_back(v);
    }
  }
  return cols;
}

}  // namespace

Image draw_landmark_samples(const std::vector<ReportFace>& faces, const LandmarkFraming& framing, int cols) {
  LandmarkFraming view = framing;
  view.input_size = std::max<int64_t>(framing.input_size, 160);  // big enough to see the crosses
  const int64_t D = view.input_size;
  std::vector<Image> tiles;
  for (const ReportFace& f : faces) {
    Image photo = load_image(f.path, 3);
    const Affine2 a = face_crop_matrix(f.box, view, f.path);
    Image tile = warp_image(photo, a, D, D);
    {
      Canvas canvas(tile);
      for (int k = 0; k < 5; ++k) {
        Point2 t = apply_affine(a, f.truth[k]);
        Point2 p = apply_affine(a, f.pred[k]);
        canvas.marker(t.x, t.y, kTruth, Marker::Plus, 4);
        canvas.marker(p.x, p.y, kPred, Marker::Cross, 4);
      }
    }
    tiles.push_back(std::move(tile));
  }
  if (tiles.empty()) return Image(static_cast<int>(D), static_cast<int>(D), 3, 32);
  return montage(tiles, {}, std::min<int>(cols, static_cast<int>(tiles.size())), 4, {32, 32, 32});
}

void write_ced_chart(const Curve& ced, const std::string& path, double auc) {
  ChartOptions c;
  char title[96];
  std::snprintf(title, sizeof title, "Cumulative error distribution (AUC to 0.1: %.4f)", auc);
  c.title = title;
  c.x_label = "NME (inter-ocular)";
  c.y_label = "fraction of faces";
  c.x_min = 0;
  c.x_max = 0.1;
  c.y_min = 0;
  c.y_max = 1;
  c.legend = LegendPlace::None;
  save_line_chart(path, {Series{"CED", ced.x, ced.y}}, c);
}

std::vector<std::string> write_landmark_report(const std::string& run_dir, const LandmarkFraming& framing,
                                               const std::vector<ReportFace>& faces) {
  const std::string dir = run_dir + "/report";
  std::map<std::string, std::vector<double>> log = read_csv(run_dir + "/log.csv");
  std::map<std::string, std::vector<double>> val = read_csv(run_dir + "/val.csv");
  std::vector<std::string> written;

  // Loss per step, and its moving average over ~1/20 of the run so the trend shows through the noise.
  const std::vector<double>& steps = log["step"];
  const std::vector<double>& loss = log["loss"];
  std::vector<double> smooth(loss.size());
  const size_t w = std::max<size_t>(1, loss.size() / 20);
  double acc = 0;
  for (size_t i = 0; i < loss.size(); ++i) {
    acc += loss[i];
    if (i >= w) acc -= loss[i - w];
    smooth[i] = acc / static_cast<double>(std::min(i + 1, w));
  }
  ChartOptions lc;
  lc.title = "Training loss (weighted heatmap MSE)";
  lc.x_label = "step";
  lc.y_label = "loss";
  lc.log_y = true;
  Series raw{"per step", steps, loss};
  raw.width = 1.0;
  raw.color = Color{170, 190, 220};
  Series avg{"moving average", steps, smooth};
  avg.color = Color{31, 119, 180};
  save_line_chart(dir + "/loss.svg", {raw, avg}, lc);
  written.push_back(dir + "/loss.svg");

  ChartOptions vc;
  vc.title = "Validation NME (inter-ocular)";
  vc.x_label = "epoch";
  vc.y_label = "NME";
  Series vs{"soft-argmax", val["epoch"], val["val_nme_soft_argmax"]};
  Series vq{"quarter-pixel", val["epoch"], val["val_nme_quarter_pixel"]};
  vs.markers = vq.markers = true;
  save_line_chart(dir + "/val_nme.svg", {vs, vq}, vc);
  written.push_back(dir + "/val_nme.svg");

  save_png(draw_landmark_samples(faces, framing), dir + "/samples.png");
  written.push_back(dir + "/samples.png");

  HtmlReport html("Landmark training run: " + run_dir);
  html.section("Progress");
  char buf[256];
  if (!val["epoch"].empty()) {
    const size_t n = val["epoch"].size();
    const auto& nme = val["val_nme"];
    const size_t best = static_cast<size_t>(std::min_element(nme.begin(), nme.end()) - nme.begin());
    std::snprintf(buf, sizeof buf, "%zu epochs, %.0f steps. Validation NME after the last epoch %.4f; best %.4f "
                  "(epoch %.0f).", n, val["step"].back(), nme.back(), nme[best], val["epoch"][best]);
    html.paragraph(buf);
  }
  html.paragraph(glossary::kNme);
  html.image("loss.svg", "Training loss per step");
  html.image("val_nme.svg", "Validation NME per epoch, both heatmap decoders");
  html.section("Sample predictions");
  html.paragraph("The first validation faces, cropped as the network sees them: ground truth green (+), "
                 "prediction red (x).");
  html.image("samples.png");
  html.write(dir + "/index.html");
  written.push_back(dir + "/index.html");
  return written;
}

}  // namespace ff
