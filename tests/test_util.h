// tests/test_util.h — comparison helpers shared by the tests.
#pragma once
#include <gtest/gtest.h>

#include <omp.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include "engine/ops.h"

namespace ff::test {

// Expects |actual - expected| <= atol + rtol * |expected| element-wise (after moving both to the
// CPU in float64). NaN never passes; an expected infinity is matched only by the same infinity.
// Prints the first mismatches and the worst error. same_nonfinite: NaN matches NaN too: the check
// of non-finite inputs, where two backends must agree on which elements are NaN or infinite.
inline void expect_close(const Tensor& actual, const Tensor& expected, double rtol, double atol,
                         const std::string& what, bool same_nonfinite = false) {
  ASSERT_TRUE(actual.defined()) << what << ": actual is undefined";
  ASSERT_TRUE(expected.defined()) << what << ": expected is undefined";
  ASSERT_EQ(actual.shape(), expected.shape()) << what << ": shape " << shape_str(actual.shape())
                                              << " vs " << shape_str(expected.shape());
  std::vector<double> a = actual.to_vector<double>(), e = expected.to_vector<double>();
  int64_t bad = 0;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (same_nonfinite && std::isnan(a[i]) && std::isnan(e[i])) continue;
    // False for NaN. An expected infinity needs the same infinity: its tolerance is infinite, so
    // err <= tol alone would accept any non-NaN value, -inf included.
    const bool same_inf = std::isinf(e[i]) && a[i] == e[i];
    double err = same_inf ? 0.0 : std::fabs(a[i] - e[i]);
    bool ok = same_inf || (!std::isinf(e[i]) && err <= atol + rtol * std::fabs(e[i]));
    if (!ok) {
      if (bad < 5)
        ADD_FAILURE() << what << ": element " << i << " is " << a[i] << ", expected " << e[i]
                      << " (tol " << atol + rtol * std::fabs(e[i]) << ")";
      ++bad;
    }
    if (!(err <= worst)) worst = err;
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << a.size() << " elements out of tolerance; worst |err| " << worst;
}

// Expects f() to throw ff::Error whose message contains every one of `parts` (the op's name and
// the words of the check meant to fire), so a throw from somewhere else — a tensor the test
// itself could not make, another check — fails instead of passing for the wrong reason.
inline void expect_throw_with(const std::function<void()>& f, std::initializer_list<std::string> parts) {
  try {
    f();
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const std::string& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
    return;
  }
  ADD_FAILURE() << "no ff::Error thrown (expected one mentioning '" << *parts.begin() << "')";
}

// Poisons every allocation for its scope (see set_poison_allocations): host and device memory
// start as 0xFF bytes (NaN in float), so an output element a kernel leaves unwritten fails.
struct PoisonGuard {
  PoisonGuard() { set_poison_allocations(true); }
  ~PoisonGuard() { set_poison_allocations(false); }
};

// Runs its scope with n OpenMP threads, whatever the machine has: the CPU kernels split work
// (batch chunks, gemm blocks) by omp_get_max_threads(), so a check pinned to 1 and 2 threads
// reaches the same kernel paths on every machine.
struct OmpThreads {
  int saved;
  explicit OmpThreads(int n) : saved(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~OmpThreads() { omp_set_num_threads(saved); }
  OmpThreads(const OmpThreads&) = delete;
  OmpThreads& operator=(const OmpThreads&) = delete;
};

// Every skip starts with its reason in one of three forms, which scripts/test.sh counts:
//   "needs a CUDA device: <what is not checked>"   (FF_SKIP_WITHOUT_CUDA)
//   "needs <path>: <what is not checked>"          (data outside the repository)
//   "not applicable: <why>"                        (a check that has nothing to check here)
#define FF_SKIP_WITHOUT_CUDA(what)                                                   \
  do {                                                                               \
    if (!::ff::cuda_available()) GTEST_SKIP() << "needs a CUDA device: " << what;    \
  } while (0)

// Under the CPU emulation of CUDA (-DFF_CUDA_EMU=ON, cudaemu/) cuDNN and cuBLAS are stand-ins that
// run the CPU twins. A test that only compares such an op with its CPU twin checks nothing there
// and skips, "needs a real GPU: <op> is <cuDNN|cuBLAS>" (FF_SKIP_STAND_IN); a test that runs our
// kernels with a stand-in on the way runs, and is named through FF_STAND_IN_NAME(Name), which
// appends "StandIn" there, so it is never counted as checked on a GPU.
#ifdef FF_CUDA_EMU
constexpr bool kCudaEmulated = true;
#define FF_SKIP_STAND_IN(what) GTEST_SKIP() << "needs a real GPU: " << what
#define FF_STAND_IN_NAME(name) name##StandIn
#else
constexpr bool kCudaEmulated = false;
#define FF_SKIP_STAND_IN(what) \
  do {                         \
  } while (0)
#define FF_STAND_IN_NAME(name) name
#endif

// A fresh folder under the system temp directory, removed with everything in it at scope exit.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& tag = "ff_test") {
    static std::atomic<int> counter{0};
    path = std::filesystem::temp_directory_path() /
           (tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // The path of `name` inside the folder (the folder itself for an empty name).
  std::string file(const std::string& name) const { return name.empty() ? path.string() : (path / name).string(); }
  std::string str(const std::string& sub = "") const { return file(sub); }
  // Writes `text` to `name` and returns its path.
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream f(file(name), std::ios::binary);
    f << text;
    return file(name);
  }
};

// Rewrites field `field` (0 = the file name) of line `line` (1-based) of a whitespace-separated
// list file; returns that line's file name.
inline std::string patch_list_field(const std::string& path, size_t line, size_t field, const std::string& value) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  std::istringstream fields(lines.at(line - 1));
  std::vector<std::string> f;
  for (std::string x; fields >> x;) f.push_back(x);
  f.at(field) = value;
  std::string joined;
  for (const std::string& x : f) joined += (joined.empty() ? "" : " ") + x;
  lines[line - 1] = joined;
  std::ofstream out(path, std::ios::trunc);
  for (const std::string& l : lines) out << l << '\n';
  return f[0];
}

}  // namespace ff::test
