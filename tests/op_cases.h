// tests/op_cases.h — the one table of op test cases (DESIGN.md §5, after ggml's test-backend-ops).
//
// Every op registers one or more OpCase (the in-place ops and the non-differentiable ones too,
// with an empty grad_inputs). tests/test_ops.cpp runs each case in three modes:
//   GradCheckF64  float64 on the CPU at 2 OpenMP threads: analytic gradient of f = sum(op(inputs)
//                 * R) against central differences, for every input listed in grad_inputs, on
//                 every shape set (at most 512 evenly spaced elements of a larger input). Skipped,
//                 "not applicable", for a case without differentiable inputs or with no_grad_check.
//   CudaVsCpu     float32 on both backends from the same inputs; skipped without a GPU.
//   CudaVsCpuNonFinite  the same with NaN, +inf, -inf, and all three, written into the inputs:
//                 both backends must give NaN at the same elements, the same infinities, and
//                 close finite values, in the output and every input gradient.
//   MatchesPyTorch inputs, output and input gradients written by tools/make_goldens.py with
//                 Debian's python3-torch into tests/data/ops/<name>.safetensors, compared in
//                 float32 at 1 and at 2 OpenMP threads. A case without a golden file fails: a new
//                 op is incomplete until its PyTorch reference exists.
// Every allocation is poisoned (NaN) in all three modes, so an output element a kernel leaves
// unwritten fails. The CPU kernels split work by thread count (tests/test_kernel_paths.cpp lists
// their paths); shape sets are chosen so that each path runs, with several images per thread
// where the kernel splits a batch. A new op without a case here is incomplete too.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "engine/ops.h"

namespace ff::test {

struct OpCase {
  std::string name;  // [A-Za-z0-9_]; also the golden file's name
  int shape_sets = 1;
  // Random inputs for shape set k (0 <= k < shape_sets), on the CPU, floats in dtype `dt`.
  std::function<std::vector<Tensor>(Rng& rng, DType dt, int k)> make;
  // The op under test. Must be deterministic (dropout: a fixed-seed Rng made inside).
  std::function<Tensor(const std::vector<Tensor>& in)> fn;
  std::vector<int> grad_inputs;  // which inputs are differentiable and checked
  // float32 against PyTorch: |ours - ref| <= atol + rtol * |ref|.
  double rtol = 1e-5, atol = 1e-6;
  // float32 CUDA against float32 CPU.
  double cuda_rtol = 1e-5, cuda_atol = 1e-5;
  // float64 gradient check: step and tolerance.
  double grad_eps = 1e-6, grad_rtol = 1e-5, grad_atol = 1e-7;
  // Non-empty: why central differences do not apply (inputs on a kink); GradCheckF64 skips.
  std::string no_grad_check;
  // CudaVsCpuNonFinite: the inputs that get NaN / +inf / -inf written into a few elements (empty:
  // every floating input); non-empty no_nonfinite_check: why the backends may legitimately differ
  // on non-finite inputs (the check then skips, "not applicable", with that reason).
  std::vector<int> nonfinite_inputs;
  std::string no_nonfinite_check;
  // The cuDNN or cuBLAS call on this case's CUDA path, as "<op> is <cuDNN|cuBLAS>". Under the CUDA
  // emulation (-DFF_CUDA_EMU=ON) it is a CPU stand-in (the CPU twin itself): with nothing
  // handwritten on the path (stand_in_only) CudaVsCpu would compare the twin with itself, so it
  // skips, "needs a real GPU: <stand_in>"; otherwise the case runs and its test names end in
  // "_StandIn" (case_name), so it is never counted as checked on a GPU.
  std::string stand_in;
  bool stand_in_only = false;
};

std::vector<OpCase>& op_cases();
struct Registrar {
  explicit Registrar(OpCase c) { op_cases().push_back(std::move(c)); }
};

// Random float tensor of `shape` in dtype dt with values uniform in [lo, hi).
Tensor rand_tensor(Rng& rng, const Shape& shape, DType dt, double lo = -1.0, double hi = 1.0);
// Random int64 labels in [0, classes).
Tensor rand_labels(Rng& rng, int64_t n, int64_t classes);

}  // namespace ff::test

// Registers a case built by the function body that follows:
//   FF_OP_CASE(relu) { OpCase c; c.name = "relu"; ...; return c; }
#define FF_OP_CASE(id)                                                   \
  static ::ff::test::OpCase ff_make_op_case_##id();                      \
  static ::ff::test::Registrar ff_op_case_reg_##id(ff_make_op_case_##id()); \
  static ::ff::test::OpCase ff_make_op_case_##id()
