// tests/test_ops.cpp — runs every registered OpCase (tests/op_cases.h) in its three modes.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>

#include "engine/autograd.h"
#include "engine/safetensors.h"
#include "tests/cuda_check.h"
#include "tests/op_cases.h"
#include "tests/test_util.h"

namespace ff::test {

std::vector<OpCase>& op_cases() {
  static std::vector<OpCase> cases;
  return cases;
}

Tensor rand_tensor(Rng& rng, const Shape& shape, DType dt, double lo, double hi) {
  Tensor t = Tensor::empty(shape, dt);
  uniform_(t, lo, hi, rng);
  return t;
}
Tensor rand_labels(Rng& rng, int64_t n, int64_t classes) {
  std::vector<int64_t> v(n);
  for (auto& x : v) x = rng.randint(classes);
  return Tensor::from_vector(v, {n});
}

namespace {

// f = sum(op(inputs) * R), the scalar whose gradient the checks compare.
double weighted_sum(const Tensor& out, const Tensor& r) {
  std::vector<double> o = out.to_vector<double>(), w = r.to_vector<double>();
  double s = 0;
  for (size_t i = 0; i < o.size(); ++i) s += o[i] * w[i];
  return s;
}

std::vector<Tensor> leaves(const std::vector<Tensor>& in, const std::vector<int>& grad_inputs) {
  std::vector<Tensor> x;
  for (const Tensor& t : in) x.push_back(t.clone());
  for (int i : grad_inputs) x[i].requires_grad_(true);
  return x;
}

class OpCaseTest : public ::testing::TestWithParam<OpCase> {};

// Elements of an input of n elements the gradient check probes: all, or kMaxProbes evenly spaced
// (first and last included).
constexpr int64_t kMaxProbes = 512;
std::vector<int64_t> probes(int64_t n) {
  std::vector<int64_t> e;
  if (n <= kMaxProbes) {
    for (int64_t i = 0; i < n; ++i) e.push_back(i);
  } else {
    for (int64_t j = 0; j < kMaxProbes; ++j) e.push_back(j * (n - 1) / (kMaxProbes - 1));
  }
  return e;
}

TEST_P(OpCaseTest, GradCheckF64) {
  const OpCase& c = GetParam();
  if (c.grad_inputs.empty()) GTEST_SKIP() << "not applicable: " << c.name << " has no differentiable input";
  if (!c.no_grad_check.empty()) GTEST_SKIP() << "not applicable: " << c.name << ": " << c.no_grad_check;
  PoisonGuard poison;
  OmpThreads threads(2);
  for (int k = 0; k < c.shape_sets; ++k) {
    Rng rng(1000 + k);
    std::vector<Tensor> base = c.make(rng, DType::F64, k);
    std::vector<Tensor> x = leaves(base, c.grad_inputs);
    Tensor out = c.fn(x);
    ASSERT_EQ(out.dtype(), DType::F64) << c.name;
    Tensor r = rand_tensor(rng, out.shape(), DType::F64);
    out.backward(r);
    for (int i : c.grad_inputs) {
      ASSERT_TRUE(x[i].grad().defined()) << c.name << ": no gradient reached input " << i;
      std::vector<double> analytic = x[i].grad().to_vector<double>();
      Tensor probe = base[i].clone();
      double* p = probe.data<double>();
      std::vector<Tensor> in = base;
      in[i] = probe;
      int failures = 0;
      for (int64_t e : probes(probe.numel())) {
        double keep = p[e];
        p[e] = keep + c.grad_eps;
        double fp = weighted_sum(c.fn(in), r);
        p[e] = keep - c.grad_eps;
        double fm = weighted_sum(c.fn(in), r);
        p[e] = keep;
        double numeric = (fp - fm) / (2 * c.grad_eps);
        double tol = c.grad_atol + c.grad_rtol * std::fabs(numeric);
        if (!(std::fabs(analytic[e] - numeric) <= tol) && failures++ < 5)
          ADD_FAILURE() << c.name << " set " << k << " input " << i << " element " << e
                        << ": analytic " << analytic[e] << " numeric " << numeric;
      }
      EXPECT_EQ(failures, 0) << c.name << " set " << k << " input " << i << " of " << probe.numel();
    }
  }
}

TEST_P(OpCaseTest, CudaVsCpu) {
  const OpCase& c = GetParam();
  FF_SKIP_WITHOUT_CUDA(c.name << " CUDA-vs-CPU check");
  if (c.stand_in_only) FF_SKIP_STAND_IN(c.stand_in);
  PoisonGuard poison;
  for (int k = 0; k < c.shape_sets; ++k) {
    Rng rng(2000 + k);
    std::vector<Tensor> base = c.make(rng, DType::F32, k);
    expect_cuda_matches_cpu(c.fn, base, c.grad_inputs, rng, c.cuda_rtol, c.cuda_atol, c.name + " set " + std::to_string(k));
  }
}

// The non-finite variants of CudaVsCpu (review W1: the fused ArcFace CUDA merge skipped a NaN
// cosine where the CPU gave NaN, and no CUDA case had a NaN or an infinity).
enum class NonFinite { NaN, PosInf, NegInf, Mixed };
const char* nonfinite_name(NonFinite v) {
  switch (v) {
    case NonFinite::NaN: return "NaN";
    case NonFinite::PosInf: return "+inf";
    case NonFinite::NegInf: return "-inf";
    case NonFinite::Mixed: return "NaN, +inf and -inf";
  }
  return "?";
}
// A copy of float32 CPU tensor t (input `input` of a case) with the variant's values written at
// elements that depend on the input's index: two elements for one kind, three for Mixed (NaN,
// +inf, -inf), so each input of a case is hit at other places.
Tensor inject_nonfinite(const Tensor& t, int input, NonFinite v) {
  Tensor out = t.clone();
  const int64_t n = out.numel();
  if (n == 0) return out;
  float* p = out.data<float>();
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const int64_t p0 = (7 * input + 3) % n, p1 = (p0 + n / 2) % n, p2 = (p0 + n / 3 + 1) % n;
  switch (v) {
    case NonFinite::NaN: p[p0] = p[p1] = nan; break;
    case NonFinite::PosInf: p[p0] = p[p1] = inf; break;
    case NonFinite::NegInf: p[p0] = p[p1] = -inf; break;
    case NonFinite::Mixed:
      p[p0] = nan;
      p[p1] = inf;
      p[p2] = -inf;
      break;
  }
  return out;
}

// Injects variant v into case c's float32 inputs (those of c.nonfinite_inputs, or all); returns
// how many inputs it changed.
int inject_case(const OpCase& c, std::vector<Tensor>& in, NonFinite v) {
  int injected = 0;
  for (int i = 0; i < static_cast<int>(in.size()); ++i) {
    const auto& only = c.nonfinite_inputs;
    if (!only.empty() && std::find(only.begin(), only.end(), i) == only.end()) continue;
    if (in[i].dtype() != DType::F32) continue;
    in[i] = inject_nonfinite(in[i], i, v);
    ++injected;
  }
  return injected;
}

TEST_P(OpCaseTest, CudaVsCpuNonFinite) {
  const OpCase& c = GetParam();
  if (!c.no_nonfinite_check.empty()) GTEST_SKIP() << "not applicable: " << c.name << ": " << c.no_nonfinite_check;
  FF_SKIP_WITHOUT_CUDA(c.name << " CUDA-vs-CPU check on NaN and infinite inputs");
  PoisonGuard poison;
  for (int k = 0; k < c.shape_sets; ++k) {
    for (NonFinite v : {NonFinite::NaN, NonFinite::PosInf, NonFinite::NegInf, NonFinite::Mixed}) {
      Rng rng(2000 + k);
      std::vector<Tensor> base = c.make(rng, DType::F32, k);
      ASSERT_GT(inject_case(c, base, v), 0) << c.name << ": no float32 input to write non-finite values into";
      const std::string what = c.name + " set " + std::to_string(k) + " with " + nonfinite_name(v);
      expect_cuda_matches_cpu(c.fn, base, c.grad_inputs, rng, c.cuda_rtol, c.cuda_atol, what, true);
    }
  }
}

TEST_P(OpCaseTest, MatchesPyTorch) {
  const OpCase& c = GetParam();
  std::string path = std::string(FF_SOURCE_DIR) + "/tests/data/ops/" + c.name + ".safetensors";
  std::ifstream probe(path);
  ASSERT_TRUE(probe.good()) << "no PyTorch reference for op case '" << c.name << "': expected " << path
                            << " (run tools/make_goldens.py)";
  SafeTensors g = read_safetensors(path);
  int sets = std::stoi(g.metadata.at("sets"));
  ASSERT_GE(sets, 1);
  ASSERT_EQ(sets, c.shape_sets) << path << " and the C++ case " << c.name << " have different shape sets";
  PoisonGuard poison;
  for (int nt : {1, 2}) {
    OmpThreads threads(nt);
    for (int k = 0; k < sets; ++k) {
      std::string pre = std::to_string(k) + "/";
      std::string what = c.name + " set " + std::to_string(k) + " at " + std::to_string(nt) + " thread(s)";
      std::vector<Tensor> base;
      for (int i = 0; g.has(pre + "in" + std::to_string(i)); ++i) base.push_back(g.at(pre + "in" + std::to_string(i)));
      std::vector<Tensor> x = leaves(base, c.grad_inputs);
      Tensor out = c.fn(x);
      expect_close(out, g.at(pre + "out"), c.rtol, c.atol, what + ": output vs PyTorch");
      if (c.grad_inputs.empty()) continue;
      out.backward(g.at(pre + "gout"));
      for (int i : c.grad_inputs) {
        std::string gname = pre + "grad" + std::to_string(i);
        ASSERT_TRUE(g.has(gname)) << path << " lacks " << gname;
        expect_close(x[i].grad(), g.at(gname), c.rtol, c.atol, what + ": grad of input " + std::to_string(i) + " vs PyTorch");
      }
    }
  }
}

// Under the CUDA emulation a case whose CUDA path passes through a cuDNN/cuBLAS stand-in says so
// in its name (op_cases.h).
std::string case_name(const ::testing::TestParamInfo<OpCase>& info) {
  const OpCase& c = info.param;
  return c.name + (kCudaEmulated && !c.stand_in.empty() && !c.stand_in_only ? "_StandIn" : "");
}

// The harness itself: under PoisonGuard an element no kernel writes reads NaN, in both float
// dtypes, and expect_close fails on it; OmpThreads sets and restores the thread count.
TEST(OpHarness, PoisonedElementLeftUnwrittenFails) {
  PoisonGuard poison;
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor t = Tensor::empty({4}, dt);
    Tensor ref = Tensor::zeros({4}, dt);
    for (int i = 0; i < 3; ++i) {
      if (dt == DType::F32)
        t.data<float>()[i] = 0.f;
      else
        t.data<double>()[i] = 0.0;
    }
    EXPECT_TRUE(std::isnan(t.to_vector<double>()[3]));
    ::testing::TestPartResultArray failures;
    {
      ::testing::ScopedFakeTestPartResultReporter catcher(
          ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
      expect_close(t, ref, 1e-5, 1e-6, "unwritten");
    }
    ASSERT_GE(failures.size(), 1);
    EXPECT_NE(std::string(failures.GetTestPartResult(0).message()).find("unwritten: element 3 is"), std::string::npos)
        << failures.GetTestPartResult(0).message();
  }
}

// The non-finite comparison: NaN matches only NaN and an infinity only the same infinity, so a
// backend that skips a NaN (a finite value where the other has NaN) or flips an infinity fails.
TEST(OpHarness, SameNonFiniteComparisonFailsOnEachMismatch) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  Tensor ref = Tensor::from_vector<float>({nan, inf, -inf, 1.f}, {4});
  expect_close(ref.clone(), ref, 1e-5, 1e-6, "identical", true);  // passes
  const std::vector<std::vector<float>> wrong = {
      {1.f, inf, -inf, 1.f}, {nan, -inf, -inf, 1.f}, {nan, inf, nan, 1.f}, {nan, inf, -inf, nan}, {nan, inf, -inf, inf}};
  for (const auto& w : wrong) {
    ::testing::TestPartResultArray failures;
    {
      ::testing::ScopedFakeTestPartResultReporter catcher(
          ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
      expect_close(Tensor::from_vector<float>(w, {4}), ref, 1e-5, 1e-6, "mismatch", true);
    }
    EXPECT_GE(failures.size(), 1) << "a non-finite mismatch passed";
  }
  // Without the flag NaN never passes (the finite-input checks); an infinity is still matched
  // only by itself there (it used to be matched by anything but NaN: its tolerance is infinite).
  for (const auto& w : std::vector<std::vector<float>>{{nan}, {-inf}, {1e30f}}) {
    ::testing::TestPartResultArray failures;
    {
      ::testing::ScopedFakeTestPartResultReporter catcher(
          ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
      expect_close(Tensor::from_vector<float>(w, {1}), Tensor::from_vector<float>({w[0] == w[0] ? inf : nan}, {1}),
                   1e-5, 1e-6, "strict");
    }
    EXPECT_GE(failures.size(), 1) << "strict comparison passed " << w[0];
  }
  expect_close(Tensor::from_vector<float>({inf}, {1}), Tensor::from_vector<float>({inf}, {1}), 1e-5, 1e-6, "inf");
}

// Every case's non-finite variants reach its inputs: each injects into at least one float32 input
// (a case whose inputs are all integer or whose check is excluded must say why), and the CPU
// output of the NaN variant of the cases that are not masks or fills is NaN somewhere.
TEST(OpHarness, NonFiniteVariantsReachEveryCase) {
  PoisonGuard poison;
  int excluded = 0, checked = 0, nan_out = 0;
  for (const OpCase& c : op_cases()) {
    if (!c.no_nonfinite_check.empty()) {
      ++excluded;
      continue;
    }
    Rng rng(2000);
    std::vector<Tensor> base = c.make(rng, DType::F32, 0);
    EXPECT_GT(inject_case(c, base, NonFinite::NaN), 0) << c.name << ": no float32 input for the non-finite variants";
    for (double v : c.fn(base).to_vector<double>())
      if (std::isnan(v)) {
        ++nan_out;
        break;
      }
    ++checked;
  }
  EXPECT_GT(checked, 40);
  EXPECT_GT(nan_out, checked * 3 / 4) << "NaN inputs reached the output of only " << nan_out << " of " << checked
                                      << " cases";
  EXPECT_LT(excluded, 15);
}

TEST(OpHarness, OmpThreadsPinsAndRestores) {
  int before = omp_get_max_threads();
  {
    OmpThreads one(1);
    EXPECT_EQ(omp_get_max_threads(), 1);
    OmpThreads two(2);
    EXPECT_EQ(omp_get_max_threads(), 2);
  }
  EXPECT_EQ(omp_get_max_threads(), before);
}

INSTANTIATE_TEST_SUITE_P(Ops, OpCaseTest, ::testing::ValuesIn(op_cases()), case_name);

}  // namespace
}  // namespace ff::test
