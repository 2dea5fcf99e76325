// tests/test_cuda_context.cpp — the CUDA context and allocator beyond the op cases: the version
// report (printed before the first test when a CUDA device exists, so every GPU log says which
// cudart, driver, cuBLAS and cuDNN ran), the scoped TF32/deterministic switches, and the caching
// allocator's refusal of unknown pointers and double frees.
#include <gtest/gtest.h>

#include <cstdio>
#include <stdexcept>
#include <string>

#include "engine/config.h"
#include "tests/test_util.h"

#ifdef FF_HAS_CUDA
#include "engine/cuda_runtime.h"
#include "kernels/cuda_context.cuh"
#endif

namespace ff::test {
namespace {

#ifdef FF_HAS_CUDA
// Prints the library versions before the first test, only where a CUDA device exists.
class CudaVersionsEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (cuda_available()) std::printf("%s", cuda::describe_runtime().c_str());
  }
};
::testing::Environment* const g_versions = ::testing::AddGlobalTestEnvironment(new CudaVersionsEnvironment);
#endif

// The message of the ff::Error f throws, or "" (and a failure) when it throws none.
template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an ff::Error";
  return "";
}

TEST(Config, ScopesRestoreTheSwitchesOnEveryExit) {
  const bool tf32_before = allow_tf32(), det_before = deterministic();
  for (bool outer : {false, true}) {
    set_allow_tf32(outer);
    set_deterministic(outer);
    {
      Tf32Scope tf32(!outer);
      DeterministicScope det(!outer);
      EXPECT_EQ(allow_tf32(), !outer);
      EXPECT_EQ(deterministic(), !outer);
    }
    EXPECT_EQ(allow_tf32(), outer);
    EXPECT_EQ(deterministic(), outer);
    try {  // an exception out of the scope restores them too
      Tf32Scope tf32(!outer);
      DeterministicScope det(!outer);
      throw std::runtime_error("leaving the scope");
    } catch (const std::runtime_error&) {
    }
    EXPECT_EQ(allow_tf32(), outer);
    EXPECT_EQ(deterministic(), outer);
  }
  set_allow_tf32(tf32_before);
  set_deterministic(det_before);
}

TEST(CudaContext, DescribeRuntimeNamesEveryLibrary) {
#ifndef FF_HAS_CUDA
  GTEST_SKIP() << "not applicable: built without the CUDA backend";
#else
  const std::string d = cuda::describe_runtime();
  for (const char* line : {"CUDA runtime: built ", "cuBLAS: built ", "cuDNN: built "})
    EXPECT_NE(d.find(line), std::string::npos) << "missing '" << line << "' in:\n" << d;
#if defined(CUDNN_MAJOR) && !defined(FF_CUDA_EMU)
  EXPECT_NE(d.find("cuDNN: built " + std::to_string(CUDNN_MAJOR) + "."), std::string::npos) << d;
#endif
  if (cuda_available()) {
    // On a GPU machine both handles must be created: a failure here says which library and why.
    EXPECT_EQ(d.find("FAILED"), std::string::npos) << d;
    EXPECT_NE(d.find("; handle ok\ncuDNN"), std::string::npos) << "cuBLAS handle:\n" << d;
    EXPECT_NE(d.rfind("; handle ok\n"), d.find("; handle ok\n")) << "cuDNN handle:\n" << d;
  } else {
    EXPECT_NE(d.find("no CUDA device"), std::string::npos) << d;
  }
#endif
}

TEST(CudaAllocator, RejectsUnknownPointersAndDoubleFrees) {
  FF_SKIP_WITHOUT_CUDA("caching allocator free checks");
#ifdef FF_HAS_CUDA
  void* p = cudart::alloc(1000);
  const cudart::AllocatorStats live = cudart::allocator_stats();
  cudart::free(p);
  const cudart::AllocatorStats cached = cudart::allocator_stats();
  // 1000 rounds up to 1024; a cached block of up to twice that may be handed out instead.
  const size_t size = live.bytes_in_use - cached.bytes_in_use;
  EXPECT_GE(size, 1024u);
  EXPECT_LE(size, 2048u);
  const std::string twice = error_of([&] { cudart::free(p); });
  EXPECT_NE(twice.find("freed twice"), std::string::npos) << twice;
  EXPECT_EQ(cudart::allocator_stats().bytes_in_use, cached.bytes_in_use);
  EXPECT_EQ(cudart::allocator_stats().bytes_cached, cached.bytes_cached);
  // Had the second free been taken, the block would be cached twice and handed out twice.
  void* a = cudart::alloc(1000);
  void* b = cudart::alloc(1000);
  EXPECT_NE(a, b);
  int host = 0;
  const std::string unknown = error_of([&] { cudart::free(&host); });
  EXPECT_NE(unknown.find("did not hand out"), std::string::npos) << unknown;
  cudart::free(a);
  cudart::free(b);
  cudart::empty_cache();
  EXPECT_EQ(cudart::allocator_stats().bytes_cached, 0u);
  // A block returned to the driver is unknown again.
  const std::string gone = error_of([&] { cudart::free(a); });
  EXPECT_NE(gone.find("did not hand out"), std::string::npos) << gone;
#endif
}

}  // namespace
}  // namespace ff::test
