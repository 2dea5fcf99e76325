// bench/cuda/bench_cuda.cpp — GPU benchmarks of the engine's ops, timed with CUDA events.
//
//   ./build/ff_bench_cuda [--tf32] [--csv out.csv] [--filter substring]
//
// For each case of bench/shapes.json ("gpu"): warm up, then repeat until ~0.2 s of work (at least
// 5 runs), flushing the L2 cache before every run (a 256 MiB memset, outside the timed region), and
// report the median time, the achieved TFLOP/s or GB/s and the fraction of the device's limit
// (peak FP32 / TF32 FLOP/s and memory bandwidth from the table below, by device name).
// bench/torch_gpu_bench.py times the same cases in PyTorch; scripts/gpu_check.sh prints both.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/config.h"
#include "engine/cuda_runtime.h"
#include "engine/ops.h"
#include "kernels/cuda_common.cuh"

namespace {

using ff::Tensor;

#define BENCH_CUDA(call)                                                                  \
  do {                                                                                   \
    cudaError_t e = (call);                                                              \
    if (e != cudaSuccess) throw ff::Error(std::string(#call) + ": " + cudaGetErrorString(e)); \
  } while (0)

struct Limits {
  double fp32_tflops, tf32_tflops, bandwidth_gbs;
};
// Dense peaks from the vendors' data sheets (SXM parts). Unknown devices: FP32 from the SM
// count and clock, bandwidth from the memory clock and bus width.
Limits device_limits(const cudaDeviceProp& p) {
  std::string n = p.name;
  if (n.find("H200") != std::string::npos) return {67.0, 494.7, 4800.0};
  if (n.find("H100") != std::string::npos) return {67.0, 494.7, 3350.0};
  if (n.find("A100") != std::string::npos) return {19.5, 156.0, 2039.0};
  int clock_khz = 0, mem_khz = 0;
  cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, 0);
  cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, 0);
  double fp32 = 2.0 * 128 * p.multiProcessorCount * clock_khz * 1e3 / 1e12;
  return {fp32, fp32 * 8, 2.0 * mem_khz * 1e3 * (p.memoryBusWidth / 8) / 1e9};
}

Tensor rnd(const ff::Shape& s, ff::Rng& rng) {
  Tensor t = Tensor::empty(s);
  ff::uniform_(t, -1, 1, rng);
  return t.to(ff::Device::cuda());
}

}  // namespace

int main(int argc, char** argv) {
  bool tf32 = false;
  std::string csv_path, filter;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--tf32") tf32 = true;
    else if (a == "--csv" && i + 1 < argc) csv_path = argv[++i];
    else if (a == "--filter" && i + 1 < argc) filter = argv[++i];
    else {
      std::cerr << "usage: ff_bench_cuda [--tf32] [--csv FILE] [--filter SUBSTRING]\n";
      return 2;
    }
  }
  try {
    if (!ff::cuda_available()) {
      std::cerr << "ff_bench_cuda: no CUDA device\n";
      return 1;
    }
    ff::set_allow_tf32(tf32);
    cudaDeviceProp prop;
    BENCH_CUDA(cudaGetDeviceProperties(&prop, 0));
    Limits lim = device_limits(prop);
    std::ifstream f(std::string(FF_BENCH_DIR) + "/shapes.json");
    nlohmann::json shapes = nlohmann::json::parse(f);
    void* flush = ff::cudart::alloc(256u << 20);
    cudaStream_t stream = ff::cudart::stream();  // every op of ours runs on this one stream
    cudaEvent_t e0, e1;
    BENCH_CUDA(cudaEventCreate(&e0));
    BENCH_CUDA(cudaEventCreate(&e1));
    std::ofstream csv;
    if (!csv_path.empty()) {
      csv.open(csv_path);
      csv << "case,math,ms,rate,unit,percent_of_limit\n";
    }
    std::printf("device: %s  (limits used: FP32 %.1f TFLOP/s, TF32 %.1f TFLOP/s, %.0f GB/s)  math: %s\n", prop.name,
                lim.fp32_tflops, lim.tf32_tflops, lim.bandwidth_gbs, tf32 ? "TF32" : "FP32");
    std::printf("%-36s %10s %14s %8s\n", "case", "ms", "rate", "% limit");
    for (const auto& c : shapes["gpu"]) {
      std::string name = c["name"], kind = c["kind"];
      if (!filter.empty() && name.find(filter) == std::string::npos) continue;
      bool backward = c.value("backward", false);
      ff::Rng rng(1);
      std::vector<Tensor> in;
      for (const auto& s : c["inputs"]) in.push_back(rnd(s.get<std::vector<int64_t>>(), rng));
      if (backward)
        for (auto& t : in) t.requires_grad_();
      Tensor rm = Tensor::zeros({in[0].size(1)}, ff::DType::F32, ff::Device::cuda());
      Tensor rv = Tensor::ones({in[0].size(1)}, ff::DType::F32, ff::Device::cuda());
      auto run = [&]() {
        Tensor y;
        if (kind == "conv2d") y = ff::conv2d(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), c["stride"], c["pad"]);
        else if (kind == "linear") y = ff::linear(in[0], in[1], in.size() > 2 ? in[2] : Tensor());
        else if (kind == "relu") y = ff::relu(in[0]);
        else if (kind == "add") y = ff::add(in[0], in[1]);
        else if (kind == "batch_norm2d") y = ff::batch_norm2d(in[0], in[1], in[2], rm, rv, true);
        else if (kind == "max_pool2d") y = ff::max_pool2d(in[0], c["kernel"], c["stride"], c["pad"]);
        else if (kind == "upsample2x") y = ff::upsample_bilinear2d(in[0], in[0].size(2) * 2, in[0].size(3) * 2, true);
        else throw ff::Error("unknown kind " + kind);
        if (backward) {
          ff::sum(y).backward();
          for (auto& t : in) t.zero_grad();
        }
      };
      for (int w = 0; w < 3; ++w) run();
      ff::cudart::synchronize();
      std::vector<float> times;
      float total = 0;
      while ((total < 200.f || times.size() < 5) && times.size() < 1000) {
        ff::cudart::memset_zero(flush, 256u << 20);
        ff::cudart::synchronize();
        BENCH_CUDA(cudaEventRecord(e0, stream));
        run();
        BENCH_CUDA(cudaEventRecord(e1, stream));
        BENCH_CUDA(cudaEventSynchronize(e1));
        float ms = 0;
        BENCH_CUDA(cudaEventElapsedTime(&ms, e0, e1));
        times.push_back(ms);
        total += ms;
      }
      std::sort(times.begin(), times.end());
      double ms = times[times.size() / 2];
      double rate = 0, pct = 0;
      const char* unit = "";
      if (c.value("flops", 0.0) > 0) {
        rate = c["flops"].get<double>() / (ms * 1e-3) / 1e12;
        unit = "TFLOP/s";
        pct = 100 * rate / (tf32 ? lim.tf32_tflops : lim.fp32_tflops);
      } else {
        rate = c.value("bytes", 0.0) / (ms * 1e-3) / 1e9;
        unit = "GB/s";
        pct = 100 * rate / lim.bandwidth_gbs;
      }
      std::printf("%-36s %10.4f %9.2f %-7s %6.1f%%\n", name.c_str(), ms, rate, unit, pct);
      if (csv) csv << name << "," << (tf32 ? "tf32" : "fp32") << "," << ms << "," << rate << "," << unit << "," << pct << "\n";
    }
    ff::cudart::free(flush);
  } catch (const std::exception& e) {
    std::cerr << "ff_bench_cuda: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
