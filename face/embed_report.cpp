// face/embed_report.cpp — see embed_report.h.
#include "face/embed_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "data/face_sample.h"
#include "report/chart.h"
#include "report/glossary.h"
#include "report/html.h"

namespace ff {

namespace {

// A CSV file of numbers with a header line, as columns by name ("nan" reads as NaN).
std::map<std::string, std::vector<double>> read_csv_columns(const std::string& path) {
  std::map<std::string, std::vector<double>> cols;
  std::ifstream in(path);
  if (!in) return cols;
  std::string line, cell;
  std::getline(in, line);
  std::vector<std::string> names;
  std::stringstream hs(line);
  while (std::getline(hs, cell, ',')) names.push_back(cell);
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    for (size_t i = 0; i < names.size() && std::getline(ss, cell, ','); ++i) {
      char* end = nullptr;
      double v = std::strtod(cell.c_str(), &end);
      cols[names[i]].push_back(end == cell.c_str() ? std::nan("") : v);
    }
  }
  return cols;
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

}  // namespace

void write_face_sheets(const std::string& report_dir, const FaceSet& set, const EmbedSplit& split, int64_t size,
                       const EmbedAugment& aug, uint64_t seed, int64_t count) {
  if (count <= 0 || split.val.empty()) return;
  // One validation image per identity first, then more, up to `count`.
  std::vector<size_t> pick;
  std::set<int> seen;
  for (size_t r : split.val)
    if (static_cast<int64_t>(pick.size()) < count && seen.insert(set.faces[r].identity).second) pick.push_back(r);
  for (size_t r : split.val)
    if (static_cast<int64_t>(pick.size()) < count && std::find(pick.begin(), pick.end(), r) == pick.end())
      pick.push_back(r);
  std::vector<Image> aligned, flipped, augmented;
  std::vector<std::string> captions;
  const auto tmpl = embed_template(size);
  for (size_t i = 0; i < pick.size(); ++i) {
    const FaceRecord& rec = set.faces[pick[i]];
    Image img = load_image(rec.path, 3);
    Image a = denormalize_to_image(make_eval_face(img, *rec.landmarks, size, false));
    {
      Canvas canvas(a);
      for (const auto& p : tmpl) canvas.marker(p[0], p[1], Color{0, 255, 0}, Marker::Cross, 1.5, 1.0);
    }
    aligned.push_back(a);
    flipped.push_back(denormalize_to_image(make_eval_face(img, *rec.landmarks, size, true)));
    Rng rng(seed + i);
    augmented.push_back(denormalize_to_image(make_train_face(img, *rec.landmarks, size, aug, rng)));
  }
  std::vector<Image> all = aligned;
  all.insert(all.end(), flipped.begin(), flipped.end());
  all.insert(all.end(), augmented.begin(), augmented.end());
  for (size_t i = 0; i < all.size(); ++i)
    captions.push_back(i < pick.size() ? "id " + std::to_string(set.faces[pick[i]].identity)
                                       : i < 2 * pick.size() ? "flip" : "augmented");
  save_png(montage(all, captions, static_cast<int>(pick.size()), 4, {255, 255, 255}, 10),
           report_dir + "/aligned_faces.png");
}

void write_train_report(const std::string& run_dir) {
  auto log = read_csv_columns(run_dir + "/log.csv");
  auto ep = read_csv_columns(run_dir + "/epochs.csv");
  const std::string rep = run_dir + "/report";
  if (!log["step"].empty()) {
    // The loss of every step, and its mean over the last `w` steps (about a tenth of an epoch's
    // worth at least), which shows the trend through the noise of single batches.
    const std::vector<double>& x = log["step"];
    const std::vector<double>& y = log["loss"];
    const size_t w = std::max<size_t>(1, std::min<size_t>(50, x.size() / 20));
    Series raw{"loss (step)", x, y};
    raw.color = Color{180, 200, 230};
    raw.width = 1.0;
    Series avg{"mean of " + std::to_string(w) + " steps", {}, {}};
    avg.color = Color{31, 119, 180};
    double acc = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      acc += y[i];
      if (i >= w) acc -= y[i - w];
      if (i + 1 >= w) {
        avg.x.push_back(x[i]);
        avg.y.push_back(acc / static_cast<double>(w));
      }
    }
    ChartOptions o;
    o.title = "training loss";
    o.x_label = "step";
    o.y_label = "loss";
    save_line_chart(rep + "/loss.svg", {raw, avg}, o);
  }
  if (!ep["epoch"].empty()) {
    ChartOptions o;
    o.title = "closed-set validation accuracy";
    o.x_label = "epoch";
    o.y_label = "accuracy";
    o.y_min = 0;
    o.y_max = 1;
    Series a{"accuracy", ep["epoch"], ep["val_acc"]};
    a.markers = true;
    Series f{"accuracy, flip TTA", ep["epoch"], ep["val_acc_flip"]};
    f.markers = true;
    save_line_chart(rep + "/accuracy.svg", {a, f}, o);
  }
  HtmlReport html("train-embed: " + run_dir);
  html.section("Curves");
  if (!log["step"].empty()) html.image("loss.svg", "training loss of every step");
  if (!ep["epoch"].empty()) html.image("accuracy.svg", "validation accuracy after each epoch");
  html.section("Epochs");
  html.paragraph(std::string("val acc: closed-set top-1 without and with flip TTA. ") + glossary::kClosedSet);
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < ep["epoch"].size(); ++i)
    rows.push_back({fmt("%.0f", ep["epoch"][i]), fmt("%.0f", ep["step"][i]), fmt("%.4f", ep["train_loss"][i]),
                    fmt("%.4g", ep["lr"][i]), fmt("%.2f%%", 100 * ep["val_acc"][i]),
                    fmt("%.2f%%", 100 * ep["val_acc_flip"][i]), fmt("%.1f", ep["images_per_s"][i]),
                    fmt("%.1f", ep["seconds"][i])});
  html.table({"epoch", "step", "train loss", "lr", "val acc", "val acc (flip)", "images/s", "seconds"}, rows);
  if (std::ifstream(rep + "/aligned_faces.png").good()) {
    html.section("Aligned validation faces");
    html.paragraph("Top: aligned to the 5-point template (green crosses); middle: the exact flip; bottom: one "
                   "augmented training view.");
    html.image("aligned_faces.png");
  }
  html.write(rep + "/index.html");
}

void write_roc_chart(const std::string& path, const std::vector<RocPoint>& roc, double auc, const std::string& title) {
  Series s{"ROC (AUC " + fmt("%.4f", auc) + ")", {}, {}};
  for (const RocPoint& p : roc) {
    s.x.push_back(p.far);
    s.y.push_back(p.tar);
  }
  ChartOptions o;
  o.title = title;
  o.x_label = "false accept rate";
  o.y_label = "true accept rate";
  o.log_x = true;
  o.y_min = 0;
  o.y_max = 1;
  double smallest = 1;
  for (const RocPoint& p : roc)
    if (p.far > 0) smallest = std::min(smallest, p.far);
  // At least one decade, also when every score ties (the ROC is then the point (1, 1)).
  o.x_min = std::min(0.1, std::pow(10.0, std::floor(std::log10(smallest))));
  o.x_max = 1;
  save_line_chart(path, {s}, o);
}

}  // namespace ff
