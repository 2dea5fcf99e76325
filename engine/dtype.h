// engine/dtype.h — element types and devices.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace ff {

// float64 exists for gradient checks on the CPU; int32/int64 carry labels; uint8 carries images.
enum class DType : uint8_t { F32, F64, I32, I64, U8 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);  // "float32", "float64", "int32", "int64", "uint8"
inline bool is_floating(DType t) { return t == DType::F32 || t == DType::F64; }

// Maps a C++ type to its DType: dtype_of<float>() == DType::F32.
template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<double>() { return DType::F64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::I32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::I64; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::U8; }

enum class DeviceType : uint8_t { CPU, CUDA };

namespace detail {
[[noreturn]] void bad_cuda_index(const std::string& index, const char* where);  // engine/device.cpp
}

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const;  // "cpu" or "cuda:0"
  static Device cpu() { return {}; }
  // faceforge drives one GPU, cuda:0 (every kernel runs on the current device, device 0): any other
  // index throws, naming the index and how many devices this machine has, rather than running on
  // device 0 under another name.
  static Device cuda(int i = 0) {
    if (i != 0) detail::bad_cuda_index(std::to_string(i), "Device::cuda");
    return {DeviceType::CUDA, i};
  }
  // "cpu", "cuda", "cuda:0"; throws on anything else, and on an index without a device: cuda:1
  // (see cuda()), and cuda / cuda:0 where this machine has no CUDA device, naming the index and
  // the device count.
  static Device parse(const std::string& s);
};

// True when this build has the CUDA backend and a CUDA device is present.
bool cuda_available();
// True when this build was compiled with the CUDA backend (whether or not a device is present).
bool cuda_compiled();

}  // namespace ff
