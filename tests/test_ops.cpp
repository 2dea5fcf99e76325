// tests/test_ops.cpp — runs every registered OpCase (tests/op_cases.h) in its three modes.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "engine/autograd.h"
#include "engine/safetensors.h"
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
    std::vector<Tensor> xc = leaves(base, c.grad_inputs);
    std::vector<Tensor> xg;
    for (const Tensor& t : base) xg.push_back(t.to(Device::cuda()));
    for (int i : c.grad_inputs) xg[i].requires_grad_(true);
    Tensor oc = c.fn(xc), og = c.fn(xg);
    ASSERT_TRUE(og.device().is_cuda()) << c.name << " returned its output on " << og.device().str();
    expect_close(og, oc, c.cuda_rtol, c.cuda_atol, c.name + " output (cuda vs cpu)");
    if (c.grad_inputs.empty()) continue;
    Tensor r = rand_tensor(rng, oc.shape(), DType::F32);
    oc.backward(r);
    og.backward(r.to(Device::cuda()));
    for (int i : c.grad_inputs)
      expect_close(xg[i].grad(), xc[i].grad(), c.cuda_rtol, c.cuda_atol,
                   c.name + " grad of input " + std::to_string(i) + " (cuda vs cpu)");
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
