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

// Class labels: int64 labels [N] must lie in [0, k); `x` (the logits or cosines) names the op's
// input in the message, which gives the first bad label, its index and how many are bad.
// CPU labels are checked on the host, always. CUDA labels are NOT checked by default: a check
// would read the result back, a host synchronisation in every training step, so the caller
// guarantees the range (the training tasks check their labels on the host where they are made:
// LoaderOptions::num_classes). An out-of-range CUDA label that slips through reads and writes
// nothing outside the op's buffers: the kernels make that row's loss NaN (and gather_label's
// value; its gradient stays finite, as if the row had no target), which the training loop's NaN
// guard reports at the next loss read, before any later checkpoint is written.
// set_check_device_labels(true), or FF_CHECK_DEVICE_LABELS=1 in the environment, turns the CUDA
// check on (one small kernel and a 24-byte read per op): for debugging. Defined in
// engine/ops_loss.cpp.
void check_labels(const char* op, const Tensor& labels, int64_t k, const Tensor& x);
void set_check_device_labels(bool on);
bool check_device_labels();
}  // namespace ff
