// face/embed_report.h — the pictures of an embedding run (face/embed.h): aligned faces (PNG), loss
// and accuracy curves and the verification ROC (SVG charts), and the run's index.html.
#pragma once
#include <string>
#include <vector>

#include "face/embed.h"
#include "train/metrics.h"

namespace ff {

// report_dir/aligned_faces.png: up to `count` validation faces (one per identity first), in three
// rows: aligned (with the template points marked), the exact flip, and an augmented training view.
void write_face_sheets(const std::string& report_dir, const FaceSet& set, const EmbedSplit& split, int64_t size,
                       const EmbedAugment& aug, uint64_t seed, int64_t count);

// run_dir/report/loss.svg (the loss of every step, and its running mean), accuracy.svg
// (validation accuracy with and without flip TTA per epoch) and index.html, drawn from
// run_dir/log.csv and run_dir/epochs.csv, so a resumed run's report covers the whole run.
void write_train_report(const std::string& run_dir);

// The ROC (TAR against FAR, log-scaled FAR axis) as a line chart; SVG or PNG by the path's
// extension (report/chart.h save_line_chart).
void write_roc_chart(const std::string& path, const std::vector<RocPoint>& roc, double auc,
                     const std::string& title = "open-set verification on held-out identities");

}  // namespace ff
