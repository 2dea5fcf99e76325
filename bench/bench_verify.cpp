// bench/bench_verify.cpp — end-to-end latency of `faceforge verify` on the CPU (Google Benchmark;
// main() is in bench/bench_cpu.cpp): for one pair of decoded 250x250 photos, the landmark network
// on both crops, the two similarity alignments and warps, and the embedding network on both
// aligned faces and their mirrors (face/pipeline.h verify_faces, exactly what the command runs
// after decoding the files). The models are the small configurations with freshly initialised
// weights written to and loaded from model files as the command loads them: the work does not
// depend on the weight values.
//
// BM_DetectPhoto is the detection `faceforge verify` adds per photo: our small detector
// (models/detector.h, fresh weights: the same work) on a 640-px synthetic scene, shown at its
// default input side (twice the training crop: 320 px), forward and decoding. The command's
// latency after start-up is BM_VerifyPair + 2 x BM_DetectPhoto.
//
//   ./build/ff_bench --benchmark_filter='Verify|Detect'
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>

#include "engine/random.h"
#include "models/factory.h"
#include "face/detect.h"
#include "face/pipeline.h"
#include "models/detector.h"
#include "data/synth.h"

namespace {

namespace fs = std::filesystem;

struct VerifyModels {
  ff::LandmarkModel lmk;
  ff::EmbeddingModel emb;
  ff::Image a, b;
  VerifyModels() {
    const fs::path dir = fs::temp_directory_path() / ("ff_bench_verify_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    ff::Rng rng(1);
    ff::StackedHourglass hg(ff::HourglassConfig::small(), rng);
    ff::EmbeddingNet en(ff::EmbeddingConfig::small(), rng);
    ff::save_model((dir / "lmk.safetensors").string(), hg);
    ff::save_model((dir / "emb.safetensors").string(), en);
    lmk = ff::load_landmark_model((dir / "lmk.safetensors").string());
    emb = ff::load_embedding_model((dir / "emb.safetensors").string());
    ff::SynthConfig sc;
    sc.identities = 2;
    sc.per_identity = 2;
    sc.size = 250;
    ff::write_synth_dataset((dir / "data").string(), sc);
    a = ff::load_image((dir / "data/img_celeba/000001.jpg").string(), 3);
    b = ff::load_image((dir / "data/img_celeba/000002.jpg").string(), 3);
    fs::remove_all(dir);
  }
};

// The face box of the synthetic 250 px photos (what the face-centred guess gave before the detector).
const ff::FaceBox kBox{72.5f, 90.0f, 105.0f, 105.0f};

void BM_VerifyPair(benchmark::State& st) {
  static VerifyModels m;  // built once, outside the timing
  ff::verify_faces(nullptr, m.lmk, m.emb, m.a, m.b, "a", "b", kBox, kBox, 0.6);  // warm-up
  for (auto _ : st) {
    ff::VerifyResult r = ff::verify_faces(nullptr, m.lmk, m.emb, m.a, m.b, "a", "b", kBox, kBox, 0.6);
    benchmark::DoNotOptimize(r.cosine);
  }
  st.counters["pairs/s"] = benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
  st.SetLabel("small landmark + small embedding models, 250x250 photos, flip TTA");
}
BENCHMARK(BM_VerifyPair)->Unit(benchmark::kMillisecond)->UseRealTime();

struct DetectModel {
  std::unique_ptr<ff::FaceDetector> det;
  ff::Image photo;
  DetectModel() {
    const fs::path dir = fs::temp_directory_path() / ("ff_bench_detect_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    ff::Rng rng(1);
    const ff::DetectorConfig cfg = ff::DetectorConfig::named("small");
    ff::FaceDetectorNet net(cfg, rng);
    ff::save_model((dir / "det.safetensors").string(), net, "detector", cfg.str());
    det = ff::load_detector((dir / "det.safetensors").string());
    ff::SceneConfig sc;
    sc.min_width = sc.max_width = 640;
    photo = ff::synth_scene(1, 0, sc).image;
    fs::remove_all(dir);
  }
};

void BM_DetectPhoto(benchmark::State& st) {
  static DetectModel m;
  m.det->detect(m.photo);  // warm-up
  for (auto _ : st) {
    auto faces = m.det->detect(m.photo);
    benchmark::DoNotOptimize(faces.data());
  }
  st.SetLabel("small detector, " + std::to_string(m.photo.width) + "x" + std::to_string(m.photo.height) +
              " photo shown at 320 px");
}
BENCHMARK(BM_DetectPhoto)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
