// bench/bench_cpu.cpp — CPU benchmarks of the engine's ops (Google Benchmark).
//
//   ./build/ff_bench                                   # all cases
//   ./build/ff_bench --benchmark_filter=conv           # a subset
//   bash bench/run_cpu_bench.sh                        # ours and PyTorch CPU, same shapes, same threads, ratio table
//
// Each case reports GFLOP/s (matrix products, convolutions) or GB/s (element-wise ops) as a
// counter; the shapes are listed in bench/shapes.json so bench/torch_cpu_bench.py times the very
// same work in PyTorch.
#include <benchmark/benchmark.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace {

using ff::Tensor;

nlohmann::json load_shapes() {
  std::ifstream f(std::string(FF_BENCH_DIR) + "/shapes.json");
  return nlohmann::json::parse(f);
}

Tensor rnd(const ff::Shape& s, ff::Rng& rng) {
  Tensor t = Tensor::empty(s);
  ff::uniform_(t, -1, 1, rng);
  return t;
}

ff::Shape shape_of(const nlohmann::json& j) { return j.get<std::vector<int64_t>>(); }

// Registers one benchmark per entry of shapes.json: kind picks the op, fwd or fwd+bwd.
void register_all() {
  static nlohmann::json shapes = load_shapes();
  for (const auto& c : shapes["cpu"]) {
    std::string name = c["name"];
    std::string kind = c["kind"];
    bool backward = c.value("backward", false);
    benchmark::RegisterBenchmark(name.c_str(), [c, kind, backward](benchmark::State& st) {
      ff::Rng rng(1);
      std::vector<Tensor> in;
      for (const auto& s : c["inputs"]) in.push_back(rnd(shape_of(s), rng));
      if (backward)
        for (auto& t : in) t.requires_grad_();
      double flops = c.value("flops", 0.0), bytes = c.value("bytes", 0.0);
      auto run = [&]() -> Tensor {
        if (kind == "conv2d") return ff::conv2d(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), c["stride"], c["pad"]);
        if (kind == "linear") return ff::linear(in[0], in[1], in.size() > 2 ? in[2] : Tensor());
        if (kind == "relu") return ff::relu(in[0]);
        if (kind == "add") return ff::add(in[0], in[1]);
        if (kind == "batch_norm2d") {
          static Tensor rm, rv;
          rm = Tensor::zeros({in[0].size(1)});
          rv = Tensor::ones({in[0].size(1)});
          return ff::batch_norm2d(in[0], in[1], in[2], rm, rv, true);
        }
        if (kind == "max_pool2d") return ff::max_pool2d(in[0], c["kernel"], c["stride"], c["pad"]);
        if (kind == "upsample2x") return ff::upsample_bilinear2d(in[0], in[0].size(2) * 2, in[0].size(3) * 2, true);
        throw ff::Error("bench: unknown kind " + kind);
      };
      for (auto _ : st) {
        Tensor y = run();
        if (backward) {
          ff::sum(y).backward();
          for (auto& t : in) t.zero_grad();
        }
        benchmark::DoNotOptimize(y.raw());
      }
      if (flops > 0) st.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
      if (bytes > 0) st.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    })->Unit(benchmark::kMillisecond)->UseRealTime();
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
