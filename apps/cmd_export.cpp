// apps/cmd_export.cpp — `faceforge export --model FILE --out FILE.onnx`: a network as ONNX
// (models/onnx_export.h; docs/onnx.md).
//   faceforge export --model runs/emb/best.safetensors --out emb.onnx
//   faceforge export --model runs/emb/best.safetensors --out emb.onnx \
//       --reference emb_ref.safetensors --reference-data ~/celeba   (inputs + our outputs, for
//       tools/check_onnx.py to compare ONNX Runtime with)
// The reference inputs are real faces of a CelebA-format folder, prepared as the pipeline
// prepares them for that network: aligned by the data's landmarks (embedding, resnet), the
// landmark crop of the data's box (hourglass), the photo fitted into the input (detector).
#include <cstdio>

#include "apps/commands.h"
#include "data/celeba.h"
#include "data/face_sample.h"
#include "data/geometry.h"
#include "data/image.h"
#include "engine/error.h"
#include "engine/safetensors.h"
#include "face/detector.h"
#include "face/embed.h"
#include "face/landmarks.h"
#include "models/factory.h"
#include "models/onnx_export.h"

namespace {

struct Opts {
  std::string model, out, reference, reference_data;
  int64_t input_size = 0, reference_count = 8;
};

// Inputs [n, 3, H, W] of real faces from a CelebA-format folder, as the pipeline feeds `m`.
ff::Tensor reference_inputs(const ff::LoadedModel& m, const ff::Shape& input, const std::string& dir, int64_t n) {
  const int64_t H = input[2], W = input[3];
  const bool needs_box = m.kind == "hourglass";
  ff::FaceSet set = ff::load_faces(dir, needs_box ? ff::FaceFilter::BoxAndLandmarks : ff::FaceFilter::Landmarks);
  FF_CHECK(!set.faces.empty(), dir, ": no faces with ", needs_box ? "boxes and landmarks" : "landmarks");
  n = std::min<int64_t>(n, static_cast<int64_t>(set.faces.size()));
  ff::Tensor x = ff::Tensor::empty({n, 3, H, W});
  ff::LandmarkFraming framing;
  if (needs_box) {
    framing = ff::framing_from_metadata(m.meta);
    framing.input_size = H;
  }
  ff::Rng unused;
  for (int64_t i = 0; i < n; ++i) {
    const ff::FaceRecord& f = set.faces[static_cast<size_t>(i)];
    ff::Image photo = ff::load_image(f.path, 3);
    ff::Tensor t;
    if (m.kind == "embedding" || m.kind == "resnet") {
      t = ff::make_eval_face(photo, *f.landmarks, H, false);
    } else if (needs_box) {
      t = ff::make_landmark_sample(photo, f, framing, nullptr, unused).image;
    } else {  // detector: the photo scaled to fit H x W, then the detector's own preparation
      const double s = std::min(static_cast<double>(W) / photo.width, static_cast<double>(H) / photo.height);
      ff::Image fitted = ff::warp_image(photo, ff::Affine2::scaling(s, s), W, H);
      double scale = 1;
      t = ff::detector_input(fitted, static_cast<int>(std::max(H, W)), &scale);
      FF_CHECK(t.size(2) == H && t.size(3) == W, "export: the detector's input is ", t.str(), ", expected ", H, "x", W);
    }
    std::memcpy(x.data<float>() + i * 3 * H * W, t.data<float>(), sizeof(float) * 3 * H * W);
  }
  return x;
}

ff::app::Command reg(
    "export", "Export a network (embedding, landmark hourglass, detector, resnet) as ONNX", [](CLI::App& sub) {
      auto o = std::make_shared<Opts>();
      sub.add_option("--model", o->model, "a faceforge model file (RUN/best.safetensors, a converted model)")
          ->required()
          ->check(CLI::ExistingFile);
      sub.add_option("--out", o->out, "the ONNX file to write (opset 17; input 'data', symbolic batch)")->required();
      sub.add_option("--input-size", o->input_size,
                     "the input side (default: the model's; the detector's must be a multiple of 32)")
          ->check(ff::app::positive());
      sub.add_option("--reference", o->reference,
                     "also write inputs ('data') and faceforge's outputs on them here (safetensors), for "
                     "tools/check_onnx.py; needs --reference-data");
      sub.add_option("--reference-data", o->reference_data, "a CelebA-format folder whose real faces are the inputs")
          ->check(CLI::ExistingDirectory);
      sub.add_option("--reference-count", o->reference_count, "faces in the reference batch (default 8)")
          ->check(ff::app::positive());
      sub.footer(
          "Conventions: embedding -> output 'embedding' (N x D, not normalized); hourglass -> 'heatmaps' "
          "(the last stack's); detector -> 'heatmap' (logits), 'size', 'offset', 'landmarks'; resnet -> "
          "'output'. Inputs are float32 N x 3 x H x W, normalized as the pipeline does (ImageNet mean/std). "
          "An op the exporter cannot map is refused and nothing is written. docs/onnx.md.");
      return [o] {
        FF_CHECK(o->reference.empty() == o->reference_data.empty(),
                 "export: --reference and --reference-data go together (the inputs are real faces from that folder)");
        ff::LoadedModel m = ff::load_model(o->model);
        ff::OnnxExportOptions eo;
        eo.input_size = o->input_size;
        ff::OnnxExportResult r = ff::export_onnx(m, o->out, eo);
        std::printf("export: %s model %s -> %s (%.2f MB, %lld nodes, %lld initializers)\n", r.kind.c_str(),
                    o->model.c_str(), o->out.c_str(), r.bytes / 1e6, static_cast<long long>(r.nodes),
                    static_cast<long long>(r.initializers));
        std::printf("  input  data %s (batch N)\n", ff::shape_str(r.input_shape).c_str());
        for (const auto& [name, s] : r.outputs) std::printf("  output %s %s\n", name.c_str(), ff::shape_str(s).c_str());
        std::string ops;
        for (const auto& [op, n] : r.op_counts) ops += (ops.empty() ? "" : ", ") + op + " " + std::to_string(n);
        std::printf("  ops: %s\n", ops.c_str());
        if (!o->reference.empty()) {
          ff::Tensor x = reference_inputs(m, r.input_shape, o->reference_data, o->reference_count);
          std::vector<std::pair<std::string, ff::Tensor>> t{{"data", x}};
          for (auto& [name, y] : ff::onnx_outputs(m, x)) t.emplace_back(name, y.cpu().to(ff::DType::F32));
          ff::write_safetensors(o->reference, t, {{"model", o->model}, {"onnx", o->out}, {"data", o->reference_data}});
          std::printf("  reference: %lld real faces of %s and faceforge's outputs -> %s\n",
                      static_cast<long long>(x.size(0)), o->reference_data.c_str(), o->reference.c_str());
        }
        return 0;
      };
    });

}  // namespace
