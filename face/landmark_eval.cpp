// face/landmark_eval.cpp — evaluating a landmark checkpoint on one partition of a CelebA-format
// folder (eval_landmarks, see face/landmarks.h): NME, failure rate, AUC, per-point errors, CSV
// files and the CED curve.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/safetensors.h"
#include "train/run.h"
#include "models/factory.h"
#include "data/celeba.h"
#include "face/landmarks.h"
#include "face/landmark_report.h"

namespace ff {

LandmarkEvalResult eval_landmarks(const LandmarkEvalOptions& o) {
  FF_CHECK(o.batch >= 1, "eval-landmarks: --batch must be positive, got ", o.batch);
  FF_CHECK(o.partition >= 0 && o.partition <= 2, "eval-landmarks: --partition must be 0, 1 or 2, got ", o.partition);
  const Device dev = Device::parse(o.device);
  FF_CHECK(dev.is_cpu() || cuda_available(), "eval-landmarks: --device ", o.device,
           (cuda_compiled() ? ": no CUDA device is present" : ": this build has no CUDA backend"));
  FF_CHECK(std::filesystem::is_regular_file(o.model), "eval-landmarks: model file ", o.model, " does not exist");
  LoadedModel lm;
  try {
    lm = load_model(o.model);
  } catch (const Error& e) {
    FF_FAIL("eval-landmarks: ", o.model, " is not a model file faceforge can read (", e.what(), ")");
  }
  FF_CHECK(lm.kind == "hourglass", "eval-landmarks: ", o.model, " holds a network of kind '", lm.kind,
           "', not a landmark network (hourglass)");
  StackedHourglass& net = lm.hourglass();
  FF_CHECK(net.config().landmarks == 5, "eval-landmarks: ", o.model, " predicts ", net.config().landmarks,
           " landmarks; CelebA has 5");
  const LandmarkFraming framing = framing_from_metadata(lm.meta);
  LandmarkEvalResult r;
  r.decode = decode_from_metadata(lm.meta);

  const FaceSet data = load_faces(o.data, FaceFilter::BoxAndLandmarks);
  const std::vector<size_t> idx = data.partition(o.partition, o.max_images);
  FF_CHECK(!idx.empty(), "eval-landmarks: ", o.data, " has no faces in partition ", o.partition);
  lm.to(dev);
  DatasetPredictions p = predict_dataset(net, data, idx, framing, dev, o.batch, o.workers);
  r.predictions = p.of(r.decode);
  std::vector<double> pred, truth;
  for (size_t i = 0; i < idx.size(); ++i) {
    const FaceRecord& f = data.faces[idx[i]];
    r.files.push_back(f.file);
    r.truth.push_back(*f.landmarks);
    for (int k = 0; k < 5; ++k) {
      const Point2 q = r.predictions[i][k], t = (*f.landmarks)[k];
      FF_CHECK(std::isfinite(q.x) && std::isfinite(q.y), "eval-landmarks: the network's prediction for ", f.file,
               " is not finite (a diverged checkpoint?)");
      pred.insert(pred.end(), {q.x, q.y});
      truth.insert(truth.end(), {t.x, t.y});
    }
  }
  r.metrics = landmark_metrics(pred, truth, 5, 0.10, r.files);
  if (o.out.empty()) return r;

  std::error_code ec;
  std::filesystem::create_directories(o.out, ec);
  FF_CHECK(!ec, "eval-landmarks: cannot create ", o.out, " (", ec.message(), ")");
  // Each file is built in memory and written atomically (engine/safetensors.h): never half a table.
  auto save = [&](const std::string& name, const std::ostringstream& text) {
    const std::string path = o.out + "/" + name;
    write_file_atomic(path, text.str(), "eval-landmarks");
    r.written.push_back(path);
  };
  char buf[256];
  {
    std::ostringstream f;
    f << "metric,value\n";
    f << "model," << csv_field(o.model) << "\ndata," << csv_field(o.data) << "\npartition," << o.partition << "\n";
    f << "images," << r.metrics.n_images << "\ndecode," << decode_name(r.decode) << "\n";
    std::snprintf(buf, sizeof buf, "nme,%.9g\nfailure_rate_0.1,%.9g\nauc_0.1,%.9g\n", r.metrics.mean_nme,
                  r.metrics.failure_rate, r.metrics.auc);
    f << buf;
    save("summary.csv", f);
  }
  {
    std::ostringstream f;
    f << "point,name,nme,error_px\n";
    for (int k = 0; k < 5; ++k) {
      std::snprintf(buf, sizeof buf, "%d,%s,%.9g,%.9g\n", k, landmark_name(k), r.metrics.point_nme[k],
                    r.metrics.point_error[k]);
      f << buf;
    }
    save("points.csv", f);
  }
  {
    std::ostringstream f;
    f << "file,nme";
    for (const char* w : {"pred", "true"})
      for (int k = 0; k < 5; ++k) f << "," << w << k << "_x," << w << k << "_y";
    f << "\n";
    for (size_t i = 0; i < idx.size(); ++i) {
      std::snprintf(buf, sizeof buf, "%.9g", r.metrics.nme[i]);
      f << csv_field(r.files[i]) << "," << buf;
      for (const Landmarks5* pts : {&r.predictions[i], &r.truth[i]})
        for (const Point2& q : *pts) {
          std::snprintf(buf, sizeof buf, ",%.7g,%.7g", q.x, q.y);
          f << buf;
        }
      f << "\n";
    }
    save("images.csv", f);
  }
  Curve ced = ced_curve(r.metrics.nme, 0.10);
  const std::string ced_chart = o.out + "/ced.svg";
  write_ced_chart(ced, ced_chart, r.metrics.auc);
  r.written.push_back(ced_chart);
  return r;
}

}  // namespace ff
