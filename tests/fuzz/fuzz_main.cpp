// tests/fuzz/fuzz_main.cpp — libFuzzer's entry point for one target of targets.h, chosen at compile
// time (-DFF_FUZZ_TARGET=safetensors, ...; tests/fuzz/CMakeLists.txt builds one binary per target).
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ff::fuzz::FF_FUZZ_TARGET(data, size);
  return 0;
}
