// engine/checks.h — argument checks shared by the op entry points (engine/ops_*.cpp) and by code
// above the engine that validates tensors the same way (data/augment.cpp). Each throws ff::Error
// naming `op` and the tensors involved.
#pragma once
#include <cstdint>

#include "engine/tensor.h"

namespace ff {
void check_defined(const char* op, const Tensor& t, const char* what);
void check_float(const char* op, const Tensor& t, const char* what);  // float32 or float64
void check_same_device(const char* op, const Tensor& a, const Tensor& b);
void check_same_dtype(const char* op, const Tensor& a, const Tensor& b);
void check_same_shape(const char* op, const Tensor& a, const Tensor& b);
void check_dim(const char* op, const Tensor& t, int64_t dim, const char* what);
// CUDA ops run in float32 only; float64 is the CPU gradient-check type.
void check_cuda_f32(const char* op, const Tensor& t);
}  // namespace ff
