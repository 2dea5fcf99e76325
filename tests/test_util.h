// tests/test_util.h — comparison helpers shared by the tests.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "engine/ops.h"

namespace ff::test {

// Expects |actual - expected| <= atol + rtol * |expected| element-wise (after moving both to the
// CPU in float64). NaN never passes. Prints the first mismatches and the worst error.
inline void expect_close(const Tensor& actual, const Tensor& expected, double rtol, double atol,
                         const std::string& what) {
  ASSERT_TRUE(actual.defined()) << what << ": actual is undefined";
  ASSERT_TRUE(expected.defined()) << what << ": expected is undefined";
  ASSERT_EQ(actual.shape(), expected.shape()) << what << ": shape " << shape_str(actual.shape())
                                              << " vs " << shape_str(expected.shape());
  std::vector<double> a = actual.to_vector<double>(), e = expected.to_vector<double>();
  int64_t bad = 0;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double err = std::fabs(a[i] - e[i]);
    bool ok = err <= atol + rtol * std::fabs(e[i]);  // false for NaN
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

// Poisons every allocation for its scope (see set_poison_allocations).
struct PoisonGuard {
  PoisonGuard() { set_poison_allocations(true); }
  ~PoisonGuard() { set_poison_allocations(false); }
};

}  // namespace ff::test
