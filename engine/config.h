// engine/config.h — process-wide switches of the engine, and scoped guards that set one and put
// the previous value back on every way out of the scope (exceptions included).
#pragma once

namespace ff {

// TF32 tensor-core math for float32 convolutions and matrix products on the GPU: cuDNN math type
// CUDNN_DEFAULT_MATH (accepting cuDNN's tensor-op algorithms, never those that down-convert to
// half precision, CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) and cuBLAS CUBLAS_TF32_TENSOR_OP_MATH.
// Off by default: cuDNN then gets CUDNN_FMA_MATH and cuBLAS CUBLAS_DEFAULT_MATH, and results match
// the CPU to float32 tolerances; on, expect ~3e-4 relative differences. The CPU ignores it.
void set_allow_tf32(bool on);
bool allow_tf32();

// Deterministic GPU library algorithms: cuDNN convolutions use only algorithms cuDNN marks
// CUDNN_DETERMINISTIC, picked from its heuristics without timing runs, so two runs of the same
// program give bitwise-equal convolutions. Off by default: each convolution geometry then gets the
// fastest algorithm cuDNN measures (as PyTorch's cudnn.benchmark), which may use atomics. Our own
// kernels are deterministic either way, except the upsample backward (atomics). The CPU ignores it.
void set_deterministic(bool on);
bool deterministic();

// A switch set for one scope and put back to its previous value on every way out of it.
template <bool (*Get)(), void (*Set)(bool)>
class SwitchScope {
 public:
  explicit SwitchScope(bool on) : previous_(Get()) { Set(on); }
  ~SwitchScope() { Set(previous_); }
  SwitchScope(const SwitchScope&) = delete;
  SwitchScope& operator=(const SwitchScope&) = delete;

 private:
  bool previous_;
};
// Tf32Scope tf32(true): TF32 on until the end of the scope, then back to what it was.
using Tf32Scope = SwitchScope<allow_tf32, set_allow_tf32>;
// DeterministicScope det(true): likewise for set_deterministic.
using DeterministicScope = SwitchScope<deterministic, set_deterministic>;

}  // namespace ff
