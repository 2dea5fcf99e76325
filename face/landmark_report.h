// face/landmark_report.h — the report of a landmark training run, RUN/report/: the loss and
// validation-NME curves (SVG, from RUN/log.csv and RUN/val.csv, so a resumed run's report covers
// the whole run), sample predictions drawn on validation faces (PNG: ground truth green,
// prediction red) and an index.html showing them.
#pragma once
#include <array>
#include <string>
#include <vector>

#include "face/landmarks.h"

namespace ff {

struct ReportFace {
  std::string path;          // the photo
  FaceBox box;               // its face box
  Landmarks5 truth, pred;    // photo pixels
};

// Writes run_dir/report/{loss.svg, val_nme.svg, samples.png, index.html}; returns the paths.
std::vector<std::string> write_landmark_report(const std::string& run_dir, const LandmarkFraming& framing,
                                               const std::vector<ReportFace>& faces);

// The faces cropped as the network sees them (enlarged to at least 160 px for visibility), ground
// truth as green crosses and predictions as red ones, tiled `cols` per row.
Image draw_landmark_samples(const std::vector<ReportFace>& faces, const LandmarkFraming& framing, int cols = 6);

// The CED curve (train/metrics.h ced_curve) as a line chart, its AUC in the title; SVG or PNG by
// the path's extension (report/chart.h save_line_chart).
void write_ced_chart(const Curve& ced, const std::string& path, double auc);

}  // namespace ff
