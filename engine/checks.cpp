// engine/checks.cpp — see checks.h.
#include "engine/checks.h"

namespace ff {

void check_defined(const char* op, const Tensor& t, const char* what) {
  FF_CHECK(t.defined(), op, ": ", what, " is undefined");
}
void check_float(const char* op, const Tensor& t, const char* what) {
  check_defined(op, t, what);
  FF_CHECK(is_floating(t.dtype()), op, ": ", what, " must be float32 or float64, got ", t.str());
}
void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  FF_CHECK(a.device() == b.device(), op, ": tensors on different devices: ", a.str(), " and ", b.str());
}
void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  FF_CHECK(a.dtype() == b.dtype(), op, ": dtypes differ: ", a.str(), " and ", b.str());
}
void check_same_shape(const char* op, const Tensor& a, const Tensor& b) {
  FF_CHECK(a.shape() == b.shape(), op, ": shapes differ: ", a.str(), " and ", b.str());
}
void check_dim(const char* op, const Tensor& t, int64_t dim, const char* what) {
  FF_CHECK(t.dim() == dim, op, ": ", what, " must have ", dim, " dims, got ", t.str());
}
void check_cuda_f32(const char* op, const Tensor& t) {
  FF_CHECK(!t.device().is_cuda() || t.dtype() == DType::F32, op,
           ": CUDA tensors must be float32 (float64 is for CPU gradient checks), got ", t.str());
}

}  // namespace ff
