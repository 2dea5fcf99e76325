// bench/bench_data.cpp — benchmarks of the data path (Google Benchmark; main() is in bench_cpu.cpp):
//
//   BM_WarpAffine/<faces>/<out>     the CPU affine warp (ff::warp_affine), uint8 HWC RGB faces of
//                                   250 x 250 to out x out under random similarities; GB/s counts
//                                   the source and destination bytes once each. Compared with
//                                   cv2.warpAffine by bench/opencv_warp_bench.py.
//   BM_FaceSample/<task>/<size>     one training sample of a decoded photo, exactly as training
//                                   makes it (data/face_sample.h warp_face_sample: one uint8 warp
//                                   of crop or alignment + augmentation, float, colour jitter,
//                                   ImageNet normalisation); task 0 the landmark network's
//                                   (face/landmarks.h make_landmark_sample), 1 the embedding's
//                                   (face/embed.h make_train_face); samples/s.
//   BM_Loader/<size>/<workers>      the batch loader (train/loader.h) making landmark-training
//                                   samples from JPEGs: decode, then make_landmark_sample; images/s.
//   BM_EmbedLoader/<workers>/<cache>  the embedding network's training batches at 112x112 as
//                                   train-embed makes them, photo cache cold (0) or warm (1).
//   BM_HourglassSmallTrainStep      one training step (forward, backward, Adam) of the small
//                                   hourglass (input 128) at batch 8, as images/s, to compare the
//                                   loader's rate with what CPU training consumes.
//
// Faces: the CelebA subset (shared/data/celeba_subset beside the source tree) when present, else a
// synthetic set (data/synth.h, 200 images of 250 x 250) written once into the temp directory.
//
//   ./build/ff_bench --benchmark_filter='WarpAffine|FaceSample|Loader|Hourglass'
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>

#include "data/augment.h"
#include "data/celeba.h"
#include "data/image.h"
#include "data/photo_cache.h"
#include "data/synth.h"
#include "engine/ops.h"
#include "engine/ops_geometry.h"
#include "face/embed.h"
#include "face/landmarks.h"
#include "models/hourglass.h"
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

const ff::FaceSet& faces() {
  static const ff::FaceSet set = [] {
    namespace fs = std::filesystem;
    fs::path root = fs::path(FF_BENCH_DIR) / ".." / ".." / "shared" / "data" / "celeba_subset";
    if (!fs::exists(root / "identity_CelebA.txt")) {
      root = fs::temp_directory_path() / "ff_bench_synth_faces";
      if (!fs::exists(root / "list_landmarks_celeba.txt")) {
        ff::SynthConfig cfg;
        cfg.identities = 20;
        cfg.per_identity = 10;
        cfg.size = 250;  // like the CelebA subset's longer side
        cfg.seed = 1;
        ff::write_synth_dataset(root.string(), cfg);
      }
    }
    return ff::load_faces(root.lexically_normal().string(), ff::FaceFilter::BoxAndLandmarks);
  }();
  return set;
}

void BM_FaceSample(benchmark::State& st) {
  const bool embed = st.range(0) == 1;
  const int64_t size = st.range(1);
  const ff::FaceSet& fs = faces();
  std::vector<ff::Image> photos;  // decoded once: this times the sample alone
  for (size_t i = 0; i < fs.size() && photos.size() < 64; ++i) photos.push_back(ff::load_image(fs.faces[i].path, 3));
  ff::LandmarkFraming framing;
  framing.input_size = size;
  const ff::AugmentConfig lmk_aug = ff::landmark_augment();
  const ff::EmbedAugment emb_aug;
  int64_t i = 0;
  for (auto _ : st) {
    const size_t k = static_cast<size_t>(i % static_cast<int64_t>(photos.size()));
    ff::Rng rng(static_cast<uint64_t>(i++));
    ff::Tensor x = embed ? ff::make_train_face(photos[k], *fs.faces[k].landmarks, size, emb_aug, rng)
                         : ff::make_landmark_sample(photos[k], fs.faces[k], framing, &lmk_aug, rng).image;
    benchmark::DoNotOptimize(x.raw());
  }
  st.SetLabel(embed ? "embedding (make_train_face)" : "landmarks (make_landmark_sample)");
  st.counters["samples/s"] = benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_FaceSample)->Args({0, 128})->Args({0, 256})->Args({1, 64})->Args({1, 112})
    ->Unit(benchmark::kMicrosecond)->UseRealTime()->MinTime(2.0);

// The timed loop of the loader benchmarks: one batch per iteration, a new epoch when one ends
// (the loader's epoch `epoch` already started); images/s from the batch size.
void time_batches(benchmark::State& st, ff::Loader& loader, int64_t epoch, int64_t batch_size) {
  ff::Batch batch;
  for (auto _ : st) {
    if (!loader.next(&batch)) {
      loader.start_epoch(++epoch);
      loader.next(&batch);
    }
    benchmark::DoNotOptimize(batch.images.raw());
  }
  st.counters["images/s"] = benchmark::Counter(static_cast<double>(batch_size), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Loader(benchmark::State& st) {
  const ff::FaceSet& fs = faces();
  ff::LandmarkFraming framing;
  framing.input_size = st.range(0);
  const ff::AugmentConfig cfg = ff::landmark_augment();
  ff::LoaderOptions o;
  o.batch_size = 16;
  o.workers = static_cast<int>(st.range(1));
  o.seed = 1;
  ff::Loader loader(static_cast<int64_t>(fs.size()), [&](int64_t i, ff::Rng& rng) {  // as train_landmarks does
    const ff::FaceRecord& f = fs.faces[static_cast<size_t>(i)];
    return ff::make_landmark_sample(ff::load_image(f.path, 3), f, framing, &cfg, rng);
  }, o);
  int64_t epoch = 0;
  loader.start_epoch(epoch);
  time_batches(st, loader, epoch, o.batch_size);
}
BENCHMARK(BM_Loader)
    ->Args({256, 2})->Args({128, 2})->Args({256, 0})->Args({128, 0})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);

// The embedding network's training data at the CPU configuration's 112x112, exactly as
// train-embed makes it (face/embed_train.cpp: aligned_photo from the photo cache at the DCT
// reduction the alignment affords, make_train_face), batches of 64, through the loader's
// workers. cache 0: every photo decoded for each sample (the first epoch); 1: the cache warm (the
// epochs after it). Compared with PyTorch's DataLoader doing the same work by
// bench/torch_loader_bench.py; workers 0 runs on the calling thread, i.e. one core.
void BM_EmbedLoader(benchmark::State& st) {
  const ff::FaceSet& fs = faces();
  const int64_t size = 112;
  const bool cached = st.range(1) == 1;
  ff::PhotoCache cache(cached ? int64_t{1} << 32 : 0);
  const ff::EmbedAugment aug;
  ff::LoaderOptions o;
  o.batch_size = 64;
  o.workers = static_cast<int>(st.range(0));
  o.seed = 1;
  o.drop_last = true;
  ff::Loader loader(static_cast<int64_t>(fs.size()), [&](int64_t i, ff::Rng& rng) {
    const ff::FaceRecord& r = fs.faces[static_cast<size_t>(i)];
    ff::Landmarks5 l;
    auto photo = ff::aligned_photo(r, size, aug.config.max_scale, &cache, &l);
    ff::Sample s;
    s.image = ff::make_train_face(photo->image, l, size, aug, rng);
    s.label = r.label;
    return s;
  }, o);
  int64_t epoch = 0;
  ff::Batch batch;
  if (cached) {  // warm: one epoch fills the cache
    loader.start_epoch(epoch++);
    while (loader.next(&batch)) {
    }
  }
  loader.start_epoch(epoch);
  time_batches(st, loader, epoch, o.batch_size);
  st.SetLabel(std::string("workers=") + std::to_string(o.workers) + ";cache=" + (cached ? "1" : "0") +
              ";size=112;batch=64");
}
BENCHMARK(BM_EmbedLoader)
    ->Args({0, 0})->Args({0, 1})->Args({2, 0})->Args({2, 1})
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
