// tests/cuda_check.h — the CUDA-against-CPU comparison shared by the op table's checks
// (tests/test_ops.cpp: CudaVsCpu, CudaVsCpuNonFinite) and the size checks (tests/test_cuda_sizes.cpp).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "tests/test_util.h"

namespace ff::test {

// Runs fn on the float32 CPU inputs `base` and on copies of them moved to cuda, the inputs listed
// in grad_inputs requiring gradients on both, and compares the outputs, then (backward from the
// same random gradient, drawn from rng) those inputs' gradients: |cuda - cpu| <= atol + rtol |cpu|,
// NaN and infinities matching only themselves when same_nonfinite (expect_close). Returns the
// CUDA output (on the CPU), for a caller's further checks.
inline Tensor expect_cuda_matches_cpu(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                                      const std::vector<Tensor>& base, const std::vector<int>& grad_inputs, Rng& rng,
                                      double rtol, double atol, const std::string& what, bool same_nonfinite = false) {
  std::vector<Tensor> xc, xg;
  for (const Tensor& t : base) {
    xc.push_back(t.clone());
    xg.push_back(t.to(Device::cuda()));
  }
  for (int i : grad_inputs) {
    xc[i].requires_grad_(true);
    xg[i].requires_grad_(true);
  }
  Tensor oc = fn(xc), og = fn(xg);
  EXPECT_TRUE(og.device().is_cuda()) << what << " returned its output on " << og.device().str();
  expect_close(og, oc, rtol, atol, what + ": output (cuda vs cpu)", same_nonfinite);
  if (!grad_inputs.empty()) {
    Tensor r = Tensor::empty(oc.shape(), DType::F32);
    uniform_(r, -1.0, 1.0, rng);
    oc.backward(r);
    og.backward(r.to(Device::cuda()));
    for (int i : grad_inputs)
      expect_close(xg[i].grad(), xc[i].grad(), rtol, atol,
                   what + ": grad of input " + std::to_string(i) + " (cuda vs cpu)", same_nonfinite);
  }
  return og.detach().to(Device::cpu());
}

}  // namespace ff::test
