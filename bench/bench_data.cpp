// bench/bench_data.cpp — benchmarks of the data path (Google Benchmark; main() is in bench_cpu.cpp):
//
//   BM_WarpAffine/<faces>/<out>     the CPU affine warp (ff::warp_affine), uint8 HWC RGB faces of
//                                   250 x 250 to out x out under random similarities; GB/s counts
//                                   the source and destination bytes once each. Compared with
//                                   cv2.warpAffine by bench/opencv_warp_bench.py.
//   BM_Loader/<size>/<workers>      the batch loader (train/loader.h) making landmark-training
//                                   samples from JPEGs: decode, one warp for crop + augmentation,
//                                   colour jitter, normalisation to float CHW; images/s.
//   BM_HourglassSmallTrainStep      one training step (forward, backward, Adam) of the small
//                                   hourglass (input 128) at batch 8, as images/s, to compare the
//                                   loader's rate with what CPU training consumes.
//
//   ./build/ff_bench --benchmark_filter='WarpAffine|Loader|Hourglass'
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstring>
#include <memory>

#include "bench/data_faces.h"
#include "engine/ops.h"
#include "engine/ops_geometry.h"
#include "models/hourglass.h"
#include "data/augment.h"
#include "data/image.h"
#include "train/loader.h"
#include "train/optim.h"

namespace {

using ff::Tensor;

constexpr int64_t kSourceSize = 250;  // the CelebA subset's longer side

// A random similarity taking a src x src face to an out x out crop: the source centre goes to the
// output centre (shifted up to 5%), scale out/src times [0.8, 1.25], rotation up to 30 degrees.
ff::Affine2 random_similarity(int64_t src, int64_t out, ff::Rng& rng) {
  const double c_in = (src - 1) / 2.0, c_out = (out - 1) / 2.0;
  const double scale = static_cast<double>(out) / src * rng.uniform(0.8, 1.25);
  const double angle = rng.uniform(-30, 30) * M_PI / 180.0;
  const double sx = rng.uniform(-0.05, 0.05) * out, sy = rng.uniform(-0.05, 0.05) * out;
  ff::Affine2 about_origin = ff::Affine2::similarity(scale, angle, 0, 0);
  return ff::compose(ff::Affine2::translation(c_out + sx, c_out + sy),
                     ff::compose(about_origin, ff::Affine2::translation(-c_in, -c_in)));
}

void BM_WarpAffine(benchmark::State& st) {
  const int64_t faces = st.range(0), out = st.range(1);
  ff::Rng rng(1);
  Tensor src = Tensor::empty({faces, kSourceSize, kSourceSize, 3}, ff::DType::U8);
  uint8_t* p = src.data<uint8_t>();
  for (int64_t i = 0; i < src.numel(); ++i) p[i] = static_cast<uint8_t>(rng.next_u32());
  std::vector<ff::Affine2> m;
  for (int64_t b = 0; b < faces; ++b) m.push_back(random_similarity(kSourceSize, out, rng));
  Tensor matrices = ff::affine_tensor(m);
  const double bytes = static_cast<double>(src.nbytes()) + static_cast<double>(faces * out * out * 3);
  for (auto _ : st) {
    Tensor y = ff::warp_affine(src, matrices, out, out, ff::ImageLayout::HWC);
    benchmark::DoNotOptimize(y.raw());
  }
  st.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  st.counters["faces/s"] = benchmark::Counter(static_cast<double>(faces), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_WarpAffine)->Args({1024, 112})->Args({256, 256})->Unit(benchmark::kMillisecond)->UseRealTime();

// A landmark-training sample: decode the JPEG, crop around the face and augment in one warp (the
// crop puts the landmarks' centre at the output centre with the eye-to-mouth distance at a third of
// the output; the augmentation then flips, rotates, scales and shifts), colour jitter, and
// normalise to [-1, 1]. Landmarks follow the same matrix, flip pairs swapped.
ff::Sample make_landmark_sample(const ff::bench::FaceFile& f, int64_t size, const ff::AugmentConfig& cfg,
                                ff::Rng& rng) {
  ff::Image img = ff::load_image(f.path, 3);
  std::vector<ff::Point2> pts(5);
  double cx = 0, cy = 0;
  for (int k = 0; k < 5; ++k) {
    pts[k] = {f.points[k][0], f.points[k][1]};
    cx += pts[k].x / 5;
    cy += pts[k].y / 5;
  }
  const double eye_x = (pts[0].x + pts[1].x) / 2, eye_y = (pts[0].y + pts[1].y) / 2;
  const double mouth_x = (pts[3].x + pts[4].x) / 2, mouth_y = (pts[3].y + pts[4].y) / 2;
  const double face = std::max(std::hypot(mouth_x - eye_x, mouth_y - eye_y), 4.0);
  const double scale = size / (3.0 * face), c = (size - 1) / 2.0;
  ff::Affine2 crop = ff::compose(ff::Affine2::translation(c, c),
                                 ff::compose(ff::Affine2::scaling(scale, scale), ff::Affine2::translation(-cx, -cy)));
  ff::RandomAffine aug = ff::random_affine(cfg, size, size, size, size, rng);
  ff::Affine2 m = ff::compose(aug.matrix, crop);

  Tensor src = ff::image_to_tensor_hwc(img).reshape({1, img.height, img.width, 3});
  Tensor warped = ff::warp_affine(src, ff::affine_tensor({m}), size, size, ff::ImageLayout::HWC,
                                  ff::BorderMode::Constant, 0.0);  // uint8 [1, size, size, 3]
  Tensor chw = Tensor::empty({1, 3, size, size});
  const uint8_t* w = warped.data<uint8_t>();
  float* o = chw.data<float>();
  const int64_t plane = size * size;
  for (int64_t i = 0; i < plane; ++i)
    for (int64_t ch = 0; ch < 3; ++ch) o[ch * plane + i] = w[i * 3 + ch] * (1.0f / 255.0f);
  ff::color_jitter_(chw, ff::ImageLayout::CHW, {ff::random_color(cfg, rng)});
  for (int64_t i = 0; i < 3 * plane; ++i) o[i] = o[i] * 2.0f - 1.0f;

  std::vector<ff::Point2> moved = ff::apply_affine(m, pts);
  if (aug.flipped)
    for (auto [a, b] : cfg.flip_pairs) std::swap(moved[a], moved[b]);
  ff::Sample s;
  s.image = chw.reshape({3, size, size});
  s.points = Tensor::empty({5, 2});
  float* q = s.points.data<float>();
  for (int k = 0; k < 5; ++k) {
    q[2 * k] = static_cast<float>(moved[k].x);
    q[2 * k + 1] = static_cast<float>(moved[k].y);
  }
  return s;
}

const std::vector<ff::bench::FaceFile>& faces() {
  static std::string source;
  static std::vector<ff::bench::FaceFile> f = ff::bench::bench_faces(&source);
  return f;
}

void BM_Loader(benchmark::State& st) {
  const int64_t size = st.range(0);
  const std::vector<ff::bench::FaceFile>& fs = faces();
  if (fs.empty()) {
    st.SkipWithError("no faces with landmarks");
    return;
  }
  ff::AugmentConfig cfg;
  cfg.brightness = cfg.contrast = cfg.saturation = 0.2;
  ff::LoaderOptions o;
  o.batch_size = 16;
  o.workers = static_cast<int>(st.range(1));
  o.seed = 1;
  ff::Loader loader(static_cast<int64_t>(fs.size()),
                    [&fs, size, &cfg](int64_t i, ff::Rng& rng) { return make_landmark_sample(fs[i], size, cfg, rng); },
                    o);
  int64_t epoch = 0;
  loader.start_epoch(epoch);
  ff::Batch batch;
  for (auto _ : st) {
    if (!loader.next(&batch)) {
      loader.start_epoch(++epoch);
      loader.next(&batch);
    }
    benchmark::DoNotOptimize(batch.images.raw());
  }
  st.counters["images/s"] = benchmark::Counter(static_cast<double>(o.batch_size), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Loader)
    ->Args({256, 2})->Args({128, 2})->Args({256, 0})->Args({128, 0})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);

void BM_HourglassSmallTrainStep(benchmark::State& st) {
  const int64_t batch = 8;
  ff::HourglassConfig hc = ff::HourglassConfig::small();
  ff::Rng rng(1);
  ff::StackedHourglass net(hc, rng);
  net.train();
  ff::AdamOptions ao;
  ao.lr = 1e-3;
  ff::Adam opt(net.parameters(), ao);
  Tensor x = Tensor::empty({batch, 3, hc.input_size, hc.input_size});
  ff::uniform_(x, -1, 1, rng);
  const int64_t hm = hc.input_size / 4;
  Tensor target = Tensor::empty({batch, hc.landmarks, hm, hm});
  ff::uniform_(target, 0, 1, rng);
  auto step = [&] {  // heatmap loss on every stack's output, as the landmark training does
    std::vector<Tensor> outs = net.forward_all(x);
    Tensor loss = ff::mse_loss(outs[0], target);
    for (size_t k = 1; k < outs.size(); ++k) loss = ff::add(loss, ff::mse_loss(outs[k], target));
    loss.backward();
    opt.step();
    opt.zero_grad();
    return loss;
  };
  step();  // warm-up outside the timing: first-step allocations and the optimizer's state
  for (auto _ : st) {
    Tensor loss = step();
    benchmark::DoNotOptimize(loss.raw());
  }
  st.counters["images/s"] = benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_HourglassSmallTrainStep)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);

}  // namespace
