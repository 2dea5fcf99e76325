// bench/cuda/bench_cuda.cpp — GPU benchmarks of the engine, timed with CUDA events.
//
//   ./build/ff_bench_cuda [--tf32] [--csv out.csv] [--filter substring]
//   ./build/ff_bench_cuda --list       # every case and its sizes; touches no GPU
//   ./build/ff_bench_cuda --dry-run    # every case at tiny sizes on the CPU, once: checks the code
//                                      # paths on a machine without a GPU (numbers meaningless)
//
// The cases come from bench/shapes.json (written by bench/make_shapes.py), in four sections:
//   gpu          single ops: warm up, then repeat until ~0.2 s of work (at least 5 runs),
//                flushing the L2 cache before every run (a 256 MiB memset queued on the same
//                stream, outside the timed region); median time, TFLOP/s or GB/s and the fraction
//                of the device's limit (peak FP32 / TF32 FLOP/s and memory bandwidth from the
//                table below, by name).
//   gpu_nets     whole networks (bench/net_steps.h): images/s of the forward pass (eval) and of a
//                training step (forward, loss, backward, SGD step), one warm-up step (algorithm
//                search), then at least 3 steps and 0.3 s; no flush (the working set dwarfs L2).
//   gpu_arcface  the ArcFace head, normalise + product + loss + backward, fused and unfused:
//                time, nominal GB/s (see make_shapes.py), and the device memory peak of one
//                step above what was allocated before it (the caching allocator's count).
//   gpu_warp     the batched affine warp (float32 CHW and uint8 HWC): GB/s, % of bandwidth.
//                Not timed again under --tf32 (no matrix products in it).
// A case that fails (out of memory, say) is reported and skipped; the exit status is then 1.
// bench/torch_gpu_bench.py times the same cases in PyTorch; scripts/gpu_check.sh prints both.
//
// The protocol is the same on both sides (review S9), Triton's do_bench: per timed run, queue
// the flush (if any), record the start event, queue the work, record the end event, wait for
// the end event; no host synchronisation between the flush and the start event, so the host's
// issue of the first op overlaps the flush instead of being timed on an idle GPU. The inputs
// are the same values on both sides (pattern() here, bench_common.pattern there), made in
// O(1) per element (review I4: host Philox took ~25 s per run); labels are (j * 7919) mod C.
// What differs, and is said so in the comparison table: the memory peak counts our caching
// allocator's blocks (512 B granules below 1 MiB, 2 MiB above) against PyTorch's
// max_memory_allocated (512 B blocks); PyTorch chooses conv algorithms by measuring
// (cudnn.benchmark), we by our own rule (kernels/conv.cu); our ops may synchronise with the
// host inside a step where PyTorch's do not (review S1), and that time is ours to pay.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/net_steps.h"
#include "engine/autograd.h"
#include "engine/config.h"
#include "engine/cuda_runtime.h"
#include "engine/ops.h"
#include "engine/ops_geometry.h"
#include "kernels/cuda_context.cuh"

namespace {

using ff::Tensor;
using nlohmann::json;

#define BENCH_CUDA(call)                                                                  \
  do {                                                                                   \
    cudaError_t e = (call);                                                              \
    if (e != cudaSuccess) throw ff::Error(std::string(#call) + ": " + cudaGetErrorString(e)); \
  } while (0)

struct Limits {
  double fp32_tflops = 0, tf32_tflops = 0, bandwidth_gbs = 0;
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

struct Options {
  bool tf32 = false, list = false, dry = false;
  std::string csv, filter;
};

// How often a case runs: untimed warm-ups, then timed runs until both min_reps and min_ms are
// reached (at most max_reps); the median is reported.
struct Repeats {
  int warmup, min_reps, max_reps;
  float min_ms;
  bool flush_l2;
};
const Repeats kOps{3, 5, 1000, 200.f, true};
const Repeats kNets{1, 3, 20, 300.f, false};
const Repeats kArcFace{2, 5, 100, 200.f, true};
const Repeats kWarp{2, 5, 200, 100.f, true};

class Runner {
 public:
  Runner(const Options& o, const Limits& lim) : o_(o), lim_(lim), dev_(o.dry ? ff::Device::cpu() : ff::Device::cuda()) {
    if (!o.dry) {
      flush_ = ff::cudart::alloc(kFlushBytes);
      BENCH_CUDA(cudaEventCreate(&e0_));
      BENCH_CUDA(cudaEventCreate(&e1_));
    }
    if (!o.csv.empty()) {
      csv_.open(o.csv);
      csv_ << "case,math,ms,rate,unit,percent_of_limit,peak_mib\n";
    }
  }
  ~Runner() {
    if (flush_) ff::cudart::free(flush_);
  }
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  ff::Device device() const { return dev_; }
  bool dry() const { return o_.dry; }
  bool tf32() const { return o_.tf32; }
  const Limits& limits() const { return lim_; }
  bool selected(const std::string& name) const { return o_.filter.empty() || name.find(o_.filter) != std::string::npos; }
  int failures() const { return failures_; }

  void sync() const {
    if (!o_.dry) ff::cudart::synchronize();
  }

  // Median milliseconds of fn (a dry run: one untimed-warm-up-free run, wall clock).
  double time_ms(const std::function<void()>& fn, const Repeats& r) {
    if (o_.dry) {
      auto t0 = std::chrono::steady_clock::now();
      fn();
      return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    }
    for (int w = 0; w < r.warmup; ++w) fn();
    sync();
    std::vector<float> times;
    float total = 0;
    while ((total < r.min_ms || static_cast<int>(times.size()) < r.min_reps) && static_cast<int>(times.size()) < r.max_reps) {
      // Queued on our stream, not waited for: the same protocol as torch_gpu_bench.py (S9).
      if (r.flush_l2) ff::cudart::memset_zero(flush_, kFlushBytes);
      cudaStream_t stream = ff::cuda::stream();  // every op of ours runs on this one stream
      BENCH_CUDA(cudaEventRecord(e0_, stream));
      fn();
      BENCH_CUDA(cudaEventRecord(e1_, stream));
      BENCH_CUDA(cudaEventSynchronize(e1_));
      float ms = 0;
      BENCH_CUDA(cudaEventElapsedTime(&ms, e0_, e1_));
      times.push_back(ms);
      total += ms;
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
  }

  // Memory reached during one run of fn above what was allocated before it, in MiB: the
  // device's caching allocator on the GPU, live host storage in a dry run.
  double peak_mib(const std::function<void()>& fn) {
    double before = 0, peak = 0;
    sync();
    if (o_.dry) {
      ff::reset_host_peak();
      before = static_cast<double>(ff::host_bytes_in_use());
      fn();
      peak = static_cast<double>(ff::host_peak_bytes());
    } else {
      ff::cudart::reset_peak_in_use();
      before = static_cast<double>(ff::cudart::allocator_stats().bytes_in_use);
      fn();
      sync();
      peak = static_cast<double>(ff::cudart::allocator_stats().peak_in_use);
    }
    return (peak - before) / (1 << 20);
  }

  // One result line (and CSV row). pct < 0 or peak < 0: not applicable.
  void emit(const std::string& name, double ms, double rate, const char* unit, double pct, double peak) {
    char p[32] = "     -", m[32] = "";
    if (pct >= 0) std::snprintf(p, sizeof(p), "%6.1f%%", pct);
    if (peak >= 0) std::snprintf(m, sizeof(m), "  peak %.1f MiB", peak);
    std::printf("%-40s %10.4f %10.2f %-7s %s%s\n", name.c_str(), ms, rate, unit, p, m);
    std::fflush(stdout);
    if (csv_) {
      csv_ << name << "," << (o_.tf32 ? "tf32" : "fp32") << "," << ms << "," << rate << "," << unit << ",";
      if (pct >= 0) csv_ << pct;
      csv_ << ",";
      if (peak >= 0) csv_ << peak;
      csv_ << "\n" << std::flush;  // rows survive a run cut short (scripts/gpu_check.sh's budget)
    }
  }
  void fail(const std::string& name, const std::exception& e) {
    std::printf("%-40s FAILED: %s\n", name.c_str(), e.what());
    std::fflush(stdout);
    ++failures_;
    if (!o_.dry) ff::cudart::empty_cache();
  }
  void release() {
    if (!o_.dry) ff::cudart::empty_cache();
  }

 private:
  static constexpr size_t kFlushBytes = 256u << 20;
  Options o_;
  Limits lim_;
  ff::Device dev_;
  void* flush_ = nullptr;
  cudaEvent_t e0_ = nullptr, e1_ = nullptr;
  std::ofstream csv_;
  int failures_ = 0;
};

// Percent of a limit; -1 (not shown) where the limit is unknown (dry run).
double pct(double rate, double limit) { return limit > 0 ? 100 * rate / limit : -1; }

// Benchmark input number `salt`: element i is float(h) * 2^-31 - 1 with h the low 32 bits of
// (i + salt * 1000003) * 2654435761 (Knuth's multiplicative hash), in [-1, 1] with all mantissa
// bits in use. bench_common.pattern() makes the same values, bit for bit, on the GPU. One
// multiply per element on all cores instead of host Philox (55 ns per element, review I4).
Tensor pattern(const ff::Shape& s, int64_t salt, ff::Device dev) {
  Tensor t = Tensor::empty(s);
  float* p = static_cast<float*>(t.raw());
  const int64_t n = t.numel();
  const uint64_t offset = static_cast<uint64_t>(salt) * 1000003u;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    uint32_t h = static_cast<uint32_t>((static_cast<uint64_t>(i) + offset) * 2654435761u);
    p[i] = static_cast<float>(h) * 4.656612873077393e-10f - 1.0f;  // 2^-31 exactly
  }
  return t.to(dev);
}

// Labels of the ArcFace cases, as in torch_gpu_bench.py: (j * 7919) mod classes.
Tensor pattern_labels(int64_t n, int64_t classes, ff::Device dev) {
  std::vector<int64_t> lv(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) lv[static_cast<size_t>(j)] = (j * 7919) % classes;
  return Tensor::from_vector(lv, {n}, dev);
}

// ---------------------------------------------------------------- single ops ("gpu")

// Dry run: batch dimension and element-wise lengths cut down (rates then mean nothing).
std::vector<ff::Shape> op_shapes(const json& c, const json& dry, bool is_dry) {
  std::vector<ff::Shape> shapes;
  for (const auto& s : c["inputs"]) shapes.push_back(s.get<std::vector<int64_t>>());
  if (is_dry) {
    if (shapes[0].size() == 4) shapes[0][0] = std::min<int64_t>(shapes[0][0], dry["ops_batch"].get<int64_t>());
    if (shapes[0].size() == 2) shapes[0][0] = std::min<int64_t>(shapes[0][0], dry["ops_batch"].get<int64_t>());
    for (auto& s : shapes)
      if (s.size() == 1 && c["kind"] != "conv2d" && c["kind"] != "linear" && c["kind"] != "batch_norm2d")
        s[0] = std::min<int64_t>(s[0], dry["ops_elems"].get<int64_t>());
  }
  return shapes;
}

void bench_ops(Runner& r, const json& shapes) {
  for (const auto& c : shapes["gpu"]) {
    std::string name = c["name"], kind = c["kind"];
    if (!r.selected(name)) continue;
    try {
      bool backward = c.value("backward", false);
      std::vector<Tensor> in;
      for (const auto& s : op_shapes(c, shapes["dry_run"], r.dry()))
        in.push_back(pattern(s, static_cast<int64_t>(in.size()), r.device()));
      if (backward)
        for (auto& t : in) t.requires_grad_();
      Tensor rm, rv;  // batch norm's running statistics (the other kinds have no channel dimension)
      if (kind == "batch_norm2d") {
        rm = Tensor::zeros({in[0].size(1)}, ff::DType::F32, r.device());
        rv = Tensor::ones({in[0].size(1)}, ff::DType::F32, r.device());
      }
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
      double ms = r.time_ms(run, kOps);
      const Limits& lim = r.limits();
      if (c.value("flops", 0.0) > 0) {
        double rate = c["flops"].get<double>() / (ms * 1e-3) / 1e12;
        r.emit(name, ms, rate, "TFLOP/s", pct(rate, r.tf32() ? lim.tf32_tflops : lim.fp32_tflops), -1);
      } else {
        double rate = c.value("bytes", 0.0) / (ms * 1e-3) / 1e9;
        r.emit(name, ms, rate, "GB/s", pct(rate, lim.bandwidth_gbs), -1);
      }
    } catch (const std::exception& e) {
      r.fail(name, e);
    }
  }
}

// ---------------------------------------------------------------- whole networks ("gpu_nets")

void bench_nets(Runner& r, const json& shapes) {
  const json& dry = shapes["dry_run"]["nets"];
  for (const auto& c : shapes["gpu_nets"]) {
    std::string base = c["name"], net = c["net"];
    std::string config = r.dry() ? dry[net].get<std::string>() : c["config"].get<std::string>();
    int64_t batch = r.dry() ? dry["batch"].get<int64_t>() : c["batch"].get<int64_t>();
    int64_t classes = r.dry() ? dry["classes"].get<int64_t>() : c["classes"].get<int64_t>();
    std::string fwd = base + "_forward", train = base + "_train";
    if (!r.selected(fwd) && !r.selected(train)) continue;
    std::string current = base;
    try {
      ff::bench::NetSteps steps(net, config, batch, classes, r.device());
      for (bool training : {false, true}) {
        current = training ? train : fwd;
        if (!r.selected(current)) continue;
        double ms = r.time_ms([&] { training ? steps.train_step() : steps.forward(); }, kNets);
        r.emit(current, ms, static_cast<double>(batch) / (ms * 1e-3), "img/s", -1, -1);
      }
    } catch (const std::exception& e) {
      r.fail(current, e);
    }
    r.release();
  }
}

// ---------------------------------------------------------------- ArcFace head ("gpu_arcface")

void bench_arcface(Runner& r, const json& shapes) {
  const json& dry = shapes["dry_run"]["arcface"];
  for (const auto& c : shapes["gpu_arcface"]) {
    std::string name = c["name"];
    if (!r.selected(name)) continue;
    try {
      int64_t n = (r.dry() ? dry : c)["n"].get<int64_t>(), classes = (r.dry() ? dry : c)["classes"].get<int64_t>();
      int64_t d = (r.dry() ? dry : c)["dim"].get<int64_t>();
      bool fused = c["fused"];
      double s = c["s"], m = c["m"];
      Tensor e = pattern({n, d}, 0, r.device()).requires_grad_();
      Tensor w = pattern({classes, d}, 1, r.device()).requires_grad_();
      Tensor labels = pattern_labels(n, classes, r.device());
      auto step = [&] {
        Tensor cos = ff::linear(ff::l2_normalize(e), ff::l2_normalize(w), Tensor());
        Tensor loss = fused ? ff::arcface_loss(cos, labels, s, m) : ff::arcface_loss_unfused(cos, labels, s, m);
        loss.backward();
        e.zero_grad();
        w.zero_grad();
      };
      step();  // warm-up before measuring memory: cuBLAS workspace and the like are allocated once
      double peak = r.peak_mib(step);
      double ms = r.time_ms(step, kArcFace);
      double rate = c["bytes"].get<double>() / (ms * 1e-3) / 1e9;
      r.emit(name, ms, rate, "GB/s", pct(rate, r.limits().bandwidth_gbs), peak);
    } catch (const std::exception& e) {
      r.fail(name, e);
    }
    r.release();
  }
}

// ---------------------------------------------------------------- affine warp ("gpu_warp")

// One similarity per image mapping the whole source square onto the output square, rotated by an
// angle that differs per image (-10..10 degrees) about the centres. torch_gpu_bench.py builds the
// same matrices.
Tensor warp_matrices(int64_t batch, int64_t src, int64_t out) {
  std::vector<float> mv;
  double sc = static_cast<double>(out) / static_cast<double>(src);
  double cs = (static_cast<double>(src) - 1) / 2, cd = (static_cast<double>(out) - 1) / 2;
  for (int64_t b = 0; b < batch; ++b) {
    double a = (-10.0 + 20.0 * static_cast<double>(b) / static_cast<double>(std::max<int64_t>(batch - 1, 1))) * std::acos(-1.0) / 180;
    double c = sc * std::cos(a), s = sc * std::sin(a);
    double tx = cd - (c * cs - s * cs), ty = cd - (s * cs + c * cs);
    for (double v : {c, -s, tx, s, c, ty}) mv.push_back(static_cast<float>(v));
  }
  return Tensor::from_vector(mv, {batch, 2, 3});
}

void bench_warp(Runner& r, const json& shapes) {
  if (r.tf32()) return;  // no matrix products: TF32 changes nothing
  for (const auto& c : shapes["gpu_warp"]) {
    std::string name = c["name"];
    if (!r.selected(name)) continue;
    try {
      int64_t batch = r.dry() ? shapes["dry_run"]["warp"]["batch"].get<int64_t>() : c["batch"].get<int64_t>();
      int64_t ch = c["channels"], src = c["src"], out = c["out"];
      bool f32 = c["dtype"] == "float32", chw = c["layout"] == "chw";
      ff::Shape shape = chw ? ff::Shape{batch, ch, src, src} : ff::Shape{batch, src, src, ch};
      // Constant images: bilinear sampling does the same work whatever the values, and a host
      // random fill of 768 MB would dominate the benchmark's run time.
      Tensor images = Tensor::empty(shape, f32 ? ff::DType::F32 : ff::DType::U8);
      if (f32) images.fill_(0.5);
      else std::memset(images.raw(), 128, images.nbytes());
      images = images.to(r.device());
      Tensor mats = warp_matrices(batch, src, out).to(r.device());
      ff::ImageLayout layout = chw ? ff::ImageLayout::CHW : ff::ImageLayout::HWC;
      double ms = r.time_ms([&] { ff::warp_affine(images, mats, out, out, layout, ff::BorderMode::Replicate); }, kWarp);
      double bytes = c["bytes"].get<double>() * static_cast<double>(batch) / c["batch"].get<double>();
      double rate = bytes / (ms * 1e-3) / 1e9;
      r.emit(name, ms, rate, "GB/s", pct(rate, r.limits().bandwidth_gbs), -1);
    } catch (const std::exception& e) {
      r.fail(name, e);
    }
    r.release();
  }
}

// ---------------------------------------------------------------- --list

void list_cases(const json& shapes) {
  std::printf("gpu (single ops; L2 flushed, median of >= 5 runs and 0.2 s):\n");
  for (const auto& c : shapes["gpu"]) {
    std::printf("  %-40s %s", c["name"].get<std::string>().c_str(), c["kind"].get<std::string>().c_str());
    for (const auto& s : c["inputs"]) std::printf(" %s", ff::shape_str(s.get<std::vector<int64_t>>()).c_str());
    std::printf("%s\n", c.value("backward", false) ? " fwd+bwd" : "");
  }
  std::printf("gpu_nets (forward and training step; median of >= 3 steps and 0.3 s):\n");
  for (const auto& c : shapes["gpu_nets"])
    for (const char* mode : {"_forward", "_train"})
      std::printf("  %-40s %s batch %lld, %s%s\n", (c["name"].get<std::string>() + mode).c_str(),
                  c["net"].get<std::string>().c_str(), static_cast<long long>(c["batch"].get<int64_t>()),
                  c["config"].get<std::string>().c_str(),
                  c["net"] == "embedding" ? (", ArcFace over " + std::to_string(c["classes"].get<int64_t>()) + " classes").c_str() : "");
  std::printf("gpu_arcface (normalise, product, loss, backward; time, nominal GB/s, memory peak):\n");
  for (const auto& c : shapes["gpu_arcface"])
    std::printf("  %-40s N %lld, C %lld, D %lld, %s, s %g, m %g\n", c["name"].get<std::string>().c_str(),
                static_cast<long long>(c["n"].get<int64_t>()), static_cast<long long>(c["classes"].get<int64_t>()),
                static_cast<long long>(c["dim"].get<int64_t>()), c["fused"].get<bool>() ? "fused" : "unfused",
                c["s"].get<double>(), c["m"].get<double>());
  std::printf("gpu_warp (FP32 run only; GB/s):\n");
  for (const auto& c : shapes["gpu_warp"])
    std::printf("  %-40s %lld x %s %lldx%lld -> %lldx%lld, %s\n", c["name"].get<std::string>().c_str(),
                static_cast<long long>(c["batch"].get<int64_t>()), c["dtype"].get<std::string>().c_str(),
                static_cast<long long>(c["src"].get<int64_t>()), static_cast<long long>(c["src"].get<int64_t>()),
                static_cast<long long>(c["out"].get<int64_t>()), static_cast<long long>(c["out"].get<int64_t>()),
                c["layout"].get<std::string>().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--tf32") o.tf32 = true;
    else if (a == "--list") o.list = true;
    else if (a == "--dry-run") o.dry = true;
    else if (a == "--csv" && i + 1 < argc) o.csv = argv[++i];
    else if (a == "--filter" && i + 1 < argc) o.filter = argv[++i];
    else {
      std::cerr << "usage: ff_bench_cuda [--tf32] [--csv FILE] [--filter SUBSTRING] [--list] [--dry-run]\n";
      return 2;
    }
  }
  try {
    std::ifstream f(std::string(FF_BENCH_DIR) + "/shapes.json");
    json shapes = json::parse(f);
    if (o.list) {
      list_cases(shapes);
      return 0;
    }
    Limits lim;
    std::string device_name = "CPU (dry run: code paths only, tiny sizes, numbers meaningless)";
    if (!o.dry) {
      if (!ff::cuda_available()) {
        std::cerr << "ff_bench_cuda: no CUDA device (--dry-run runs the cases on the CPU)\n";
        return 1;
      }
      cudaDeviceProp prop;
      BENCH_CUDA(cudaGetDeviceProperties(&prop, 0));
      lim = device_limits(prop);
      device_name = prop.name;
      // The libraries actually loaded against those built against (a wheel on LD_LIBRARY_PATH may differ).
      std::printf("%s", ff::cuda::describe_runtime().c_str());
    }
    ff::Tf32Scope tf32(o.tf32);
    std::printf("device: %s  (limits used: FP32 %.1f TFLOP/s, TF32 %.1f TFLOP/s, %.0f GB/s)  math: %s\n",
                device_name.c_str(), lim.fp32_tflops, lim.tf32_tflops, lim.bandwidth_gbs, o.tf32 ? "TF32" : "FP32");
    std::printf("%-40s %10s %18s %7s\n", "case", "ms", "rate", "% limit");
    Runner r(o, lim);
    bench_ops(r, shapes);
    bench_nets(r, shapes);
    bench_arcface(r, shapes);
    bench_warp(r, shapes);
    if (r.failures()) {
      std::printf("%d case(s) failed\n", r.failures());
      return 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "ff_bench_cuda: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
