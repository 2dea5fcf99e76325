// engine/device.cpp — dtype and device names, device discovery.
#include <string>

#include "engine/cuda_runtime.h"
#include "engine/dispatch.h"
#include "engine/dtype.h"

namespace ff {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F64: return 8;
    case DType::I32: return 4;
    case DType::I64: return 8;
    case DType::U8: return 1;
  }
  return 0;
}
const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "float32";
    case DType::F64: return "float64";
    case DType::I32: return "int32";
    case DType::I64: return "int64";
    case DType::U8: return "uint8";
  }
  return "?";
}

std::string Device::str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }

namespace {
int device_count() {
#ifdef FF_HAS_CUDA
  return cudart::device_count();
#else
  return 0;
#endif
}
}  // namespace

Device Device::parse(const std::string& s) {
  if (s == "cpu") return cpu();
  std::string digits;
  if (s == "cuda")
    digits = "0";
  else if (s.rfind("cuda:", 0) == 0 && s.size() > 5 && s.find_first_not_of("0123456789", 5) == std::string::npos)
    digits = s.substr(5);
  else
    FF_FAIL("unknown device '", s, "' (expected cpu, cuda or cuda:N)");
  // Compared as text: "cuda:99999999999" is rejected like "cuda:1", not by std::stoi's overflow.
  // cuda:0 needs a device too (index 0 >= a count of 0).
  if (digits.find_first_not_of('0') != std::string::npos || device_count() == 0)
    detail::bad_cuda_index(digits.find_first_not_of('0') == std::string::npos ? "0" : digits, "Device::parse");
  return cuda(0);
}

namespace detail {
void bad_cuda_index(const std::string& index, const char* where) {
  const int count = device_count();
  FF_FAIL(where, ": device cuda:", index, " rejected: index ", index, " but this machine has ", count,
          " CUDA device(s)", cuda_compiled() ? "" : " (this build of faceforge has no CUDA backend)",
          index == "0" ? "" : ", and faceforge runs on cuda:0 only (no multi-device support; every kernel "
                              "would run on device 0)");
}
}  // namespace detail

bool cuda_compiled() {
#ifdef FF_HAS_CUDA
  return true;
#else
  return false;
#endif
}

bool cuda_available() {
#ifdef FF_HAS_CUDA
  static const bool ok = cudart::device_count() > 0;
  return ok;
#else
  return false;
#endif
}

namespace detail {
void no_cuda(const char* op) {
  FF_FAIL(op, ": this build of faceforge has no CUDA backend (rebuild with nvcc, cuBLAS and cuDNN present)");
}
}  // namespace detail

}  // namespace ff
