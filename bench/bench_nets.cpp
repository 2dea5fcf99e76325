// bench/bench_nets.cpp — CPU benchmarks of whole networks (Google Benchmark; main() is in
// bench/bench_cpu.cpp): forward (eval, no autograd) and training step (forward + loss + backward +
// SGD step, bench/net_steps.h) of the stacked hourglass and the ResNet50 embedding network with
// its ArcFace head, at the reference and the small configurations.
//
//   ./build/ff_bench --benchmark_filter=Net               # these cases only
//   bash bench/run_cpu_bench.sh                            # with PyTorch on the same work (bench/torch_nets_bench.py)
//
// Batches suit a 2-core machine; the reference sizes are slow there (seconds per step), so they
// run a fixed, small number of iterations after one untimed warm-up step. Each case reports
// img/s; its label ("kind=...;config=...;batch=...;mode=...;classes=...") tells
// bench/torch_nets_bench.py exactly what to build, so both sides time the same work.
#include <benchmark/benchmark.h>

#include "bench/net_steps.h"

namespace {

constexpr int64_t kClasses = 1000;  // ArcFace classes of the embedding training step

std::string config_of(const std::string& kind, const std::string& size) {
  return kind == "hourglass" ? ff::HourglassConfig::named(size).str() : ff::EmbeddingConfig::named(size).str();
}

void run(benchmark::State& st, const std::string& kind, const std::string& size, int64_t batch, bool train) {
  std::string config = config_of(kind, size);
  ff::bench::NetSteps net(kind, config, batch, kClasses, ff::Device::cpu());
  auto step = [&] { train ? net.train_step() : net.forward(); };
  step();  // warm-up: first-touch allocations, OpenBLAS thread start
  for (auto _ : st) step();
  st.counters["img/s"] = benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
  st.SetLabel("kind=" + kind + ";config=" + config + ";batch=" + std::to_string(batch) +
              ";mode=" + (train ? "train" : "forward") + ";classes=" + std::to_string(kClasses));
}

void BM_NetForward(benchmark::State& st, const char* kind, const char* size, int64_t batch) {
  run(st, kind, size, batch, false);
}
void BM_NetTrainStep(benchmark::State& st, const char* kind, const char* size, int64_t batch) {
  run(st, kind, size, batch, true);
}

}  // namespace

// Small configurations: fast enough for the minimum-time loop.
BENCHMARK_CAPTURE(BM_NetForward, hourglass_small_b8, "hourglass", "small", 8)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_NetTrainStep, hourglass_small_b8, "hourglass", "small", 8)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_NetForward, embedding_small_b32, "embedding", "small", 32)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_NetTrainStep, embedding_small_b32, "embedding", "small", 32)->Unit(benchmark::kMillisecond)->UseRealTime();
// Reference configurations (hourglass 256x256 input, ResNet50 at 112x112): few fixed iterations.
BENCHMARK_CAPTURE(BM_NetForward, hourglass_reference_b2, "hourglass", "reference", 2)
    ->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);
BENCHMARK_CAPTURE(BM_NetTrainStep, hourglass_reference_b2, "hourglass", "reference", 2)
    ->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);
BENCHMARK_CAPTURE(BM_NetForward, embedding_reference_b4, "embedding", "reference", 4)
    ->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK_CAPTURE(BM_NetTrainStep, embedding_reference_b4, "embedding", "reference", 4)
    ->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
