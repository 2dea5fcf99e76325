// tests/param_grads.h — a module's parameter gradients against a golden file's, per parameter
// scale (tests/test_models.cpp, tests/test_train_tiny.cpp).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "engine/safetensors.h"
#include "layers/module.h"
#include "tests/test_util.h"

namespace ff::test {

inline double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector<double>()) m = std::max(m, std::fabs(v));
  return m;
}

// Tolerances of one gradient comparison: |ours - ref| <= rtol * max|ref| of that parameter; a
// parameter whose exact gradient is 0 (a convolution's bias followed by training-mode batch norm:
// its reference, below 1e-9 of the network's largest gradient, holds only float64 noise) passes
// with |ours| <= zero_atol * the network's largest gradient.
struct GradTol {
  double rtol, zero_atol;
};

// Every parameter gradient of m against g's "<prefix>g/<name>"; prints the worst errors.
inline void expect_grads(Module& m, const SafeTensors& g, const std::string& prefix, GradTol tol, const std::string& what) {
  double global = 0;
  for (auto& [name, p] : m.named_parameters()) {
    ASSERT_TRUE(g.has(prefix + "g/" + name)) << what << ": golden lacks gradient of " << name;
    global = std::max(global, max_abs(g.at(prefix + "g/" + name)));
  }
  double worst = 0, worst_zero = 0;
  std::string worst_name;
  int checked = 0, zero = 0;
  for (auto& [name, p] : m.named_parameters()) {
    ASSERT_TRUE(p->grad().defined()) << what << ": no gradient reached " << name;
    Tensor ref = g.at(prefix + "g/" + name);
    double scale = max_abs(ref);
    std::vector<double> a = p->grad().to_vector<double>(), r = ref.to_vector<double>();
    if (scale <= 1e-9 * global) {
      ++zero;
      for (double v : a) worst_zero = std::max(worst_zero, std::fabs(v) / global);
      expect_close(p->grad(), Tensor::zeros(ref.shape(), ref.dtype()), 0, tol.zero_atol * global, what + ": zero gradient of " + name);
    } else {
      double e = 0;
      for (size_t i = 0; i < a.size(); ++i) e = std::max(e, std::fabs(a[i] - r[i]) / scale);
      if (!(e <= worst)) worst = e, worst_name = name;
      expect_close(p->grad(), ref, 0, tol.rtol * scale, what + ": gradient of " + name);
    }
    ++checked;
  }
  std::printf("%s: %d parameter gradients, worst |error| / max|ref| %.3g (%s, tolerance %.3g); %d exactly-zero "
              "gradients within %.3g of the largest gradient (tolerance %.3g)\n",
              what.c_str(), checked, worst, worst_name.c_str(), tol.rtol, zero, worst_zero, tol.zero_atol);
  EXPECT_GT(checked, 0);
}

}  // namespace ff::test
