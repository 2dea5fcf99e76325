// engine/dispatch.h — how a public op reaches its CPU or CUDA function.
//
// Each op's public function (engine/ops_*.cpp) checks its arguments, then calls the cpu:: or
// cuda:: twin from kernels/ with raw pointers. FF_CUDA_CALL(expr) is the only place where a build
// without CUDA differs: there it throws instead of calling the (absent) CUDA function.
// Internal to engine/: code above the engine calls ops, never kernels.
#pragma once
#include "engine/checks.h"  // the macro checks the tensor it dispatches on
#include "engine/error.h"
#include "engine/tensor.h"

namespace ff::detail {
[[noreturn]] void no_cuda(const char* op);
}

#ifdef FF_HAS_CUDA
#define FF_CUDA_CALL(op, ...) __VA_ARGS__
#else
#define FF_CUDA_CALL(op, ...) ::ff::detail::no_cuda(op)
#endif

// FF_DISPATCH_FLOAT(op, t, call): runs `call` with `T` the element type and `BK` the backend
// namespace (ff::cpu or ff::cuda) chosen from tensor t: CUDA float32, CPU float32, CPU float64.
//   FF_DISPATCH_FLOAT("relu", x, BK::relu_forward(x.data<T>(), y.data<T>(), n));
#define FF_DISPATCH_FLOAT(op, t, ...)                              \
  do {                                                             \
    ::ff::check_float(op, t, "input");                             \
    if ((t).device().is_cuda()) {                                  \
      ::ff::check_cuda_f32(op, t);                                 \
      using T [[maybe_unused]] = float;                            \
      namespace BK = ::ff::cuda;                                   \
      FF_CUDA_CALL(op, __VA_ARGS__);                               \
    } else if ((t).dtype() == ::ff::DType::F32) {                  \
      using T [[maybe_unused]] = float;                            \
      namespace BK = ::ff::cpu;                                    \
      __VA_ARGS__;                                                 \
    } else {                                                       \
      using T = double;                                            \
      namespace BK = ::ff::cpu;                                    \
      __VA_ARGS__;                                                 \
    }                                                              \
  } while (0)
