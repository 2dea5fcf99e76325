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

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "bench/net_steps.h"
#include "kernels/conv_dnnl.h"

namespace {

// Resident memory in MB from /proc/self/status: "VmRSS" now or "VmHWM" (the peak since the last
// reset_peak_rss()). 0 where /proc is not there.
double status_mb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return std::stod(line.substr(line.find(':') + 1)) / 1024.0;  // kB
  return 0;
}
// Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0+).
void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

constexpr int64_t kClasses = 1000;  // ArcFace classes of the embedding training step

std::string config_of(const std::string& kind, const std::string& size) {
  return kind == "hourglass" ? ff::HourglassConfig::named(size).str() : ff::EmbeddingConfig::named(size).str();
}

void run(benchmark::State& st, const std::string& kind, const std::string& size, int64_t batch, bool train,
         int64_t classes = kClasses) {
  std::string config = config_of(kind, size);
  // Peak memory of the case: the resident peak while it runs above the resident size before its
  // network was made (bench/nets_compare.py runs each case in a process of its own, as the
  // allocator keeps what an earlier case freed; torch_nets_bench.py measures torch the same way).
  // (A fixed iteration count makes this the only call; were it called again, the baseline would
  // stay the first call's and the peak would never be reset.)
  static const double base_mb = [] {
    reset_peak_rss();
    return status_mb("VmRSS");
  }();
  ff::bench::NetSteps net(kind, config, batch, classes, ff::Device::cpu());
  auto step = [&] { train ? net.train_step() : net.forward(); };
  step();  // warm-up: first-touch allocations, OpenBLAS thread start
  // FF_BENCH_RSS=1: the resident size after the warm-up and after each timed step, to see where
  // the peak is reached (the allocator's layout settles over the first steps).
  if (std::getenv("FF_BENCH_RSS"))
    std::fprintf(stderr, "after warm-up: rss %.0f MB above base, peak %.0f, tensors' peak %.0f MB, conv scratch %.0f MB\n",
                 status_mb("VmRSS") - base_mb, status_mb("VmHWM") - base_mb, ff::host_peak_bytes() / 1048576.0,
                 ff::cpu::dnnl_conv_stats().largest_scratch_bytes / 1048576.0);
  for (auto _ : st) {
    step();
    if (std::getenv("FF_BENCH_RSS")) std::fprintf(stderr, " %.0f", status_mb("VmRSS") - base_mb);
  }
  st.counters["img/s"] = benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
  st.counters["peak_MB"] = status_mb("VmHWM") - base_mb;
  st.SetLabel("kind=" + kind + ";config=" + config + ";batch=" + std::to_string(batch) +
              ";mode=" + (train ? "train" : "forward") + ";classes=" + std::to_string(classes));
}

void BM_NetForward(benchmark::State& st, const char* kind, const char* size, int64_t batch) {
  run(st, kind, size, batch, false);
}
void BM_NetTrainStep(benchmark::State& st, const char* kind, const char* size, int64_t batch) {
  run(st, kind, size, batch, true);
}
// The CPU configuration of the mission's network at its training batch, ArcFace over celeba_subset's
// 187 training identities.
void BM_NetForwardCpu(benchmark::State& st, int64_t batch) { run(st, "embedding", "cpu", batch, false, 187); }
void BM_NetTrainStepCpu(benchmark::State& st, int64_t batch) { run(st, "embedding", "cpu", batch, true, 187); }

}  // namespace

// Every case runs a fixed number of iterations after its warm-up step, so Google Benchmark calls
// the function once and its peak memory is one network's (a trial call first would leave its
// freed memory in the allocator).
BENCHMARK_CAPTURE(BM_NetForward, hourglass_small_b8, "hourglass", "small", 8)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(40);
BENCHMARK_CAPTURE(BM_NetTrainStep, hourglass_small_b8, "hourglass", "small", 8)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(15);
BENCHMARK_CAPTURE(BM_NetForward, embedding_small_b32, "embedding", "small", 32)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(100);
BENCHMARK_CAPTURE(BM_NetTrainStep, embedding_small_b32, "embedding", "small", 32)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(40);
// Mid sizes: ResNet50 (3-4-6-3) at width 1/4, 112x112, batch 64 (`--config cpu` of train-embed);
// the hourglass at 64 channels throughout, 128x128, batch 8.
BENCHMARK_CAPTURE(BM_NetForwardCpu, embedding_cpu_b64, 64)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(15);
BENCHMARK_CAPTURE(BM_NetTrainStepCpu, embedding_cpu_b64, 64)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(8);
BENCHMARK_CAPTURE(BM_NetForward, hourglass_mid_b8, "hourglass", "mid", 8)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(20);
BENCHMARK_CAPTURE(BM_NetTrainStep, hourglass_mid_b8, "hourglass", "mid", 8)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(10);
// Reference configurations (hourglass 256x256 input, ResNet50 at 112x112): few fixed iterations.
BENCHMARK_CAPTURE(BM_NetForward, hourglass_reference_b2, "hourglass", "reference", 2)
    ->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);
BENCHMARK_CAPTURE(BM_NetTrainStep, hourglass_reference_b2, "hourglass", "reference", 2)
    ->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);
BENCHMARK_CAPTURE(BM_NetForward, embedding_reference_b4, "embedding", "reference", 4)
    ->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK_CAPTURE(BM_NetTrainStep, embedding_reference_b4, "embedding", "reference", 4)
    ->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
