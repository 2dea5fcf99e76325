// kernels/cuda_common.cuh — what every CUDA file of faceforge shares: checked calls, the context
// (stream, cuBLAS and cuDNN handles, workspace: kernels/cuda_context.cuh), launch helpers.
// Included only by .cu files.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstdint>

#include "engine/error.h"
#include "kernels/cuda_context.cuh"

// Every CUDA, cuBLAS and cuDNN call goes through one of these: a failure throws ff::Error naming
// the file, the line, the call and the library's own message.
#define CUDA_CHECK(call)                                                                       \
  do {                                                                                         \
    cudaError_t err_ = (call);                                                                 \
    if (err_ != cudaSuccess)                                                                   \
      FF_FAIL("CUDA error at ", __FILE__, ":", __LINE__, ": ", #call, ": ", cudaGetErrorString(err_)); \
  } while (0)
#define CUBLAS_CHECK(call)                                                                     \
  do {                                                                                         \
    cublasStatus_t st_ = (call);                                                               \
    if (st_ != CUBLAS_STATUS_SUCCESS)                                                          \
      FF_FAIL("cuBLAS error at ", __FILE__, ":", __LINE__, ": ", #call, ": ", cublasGetStatusString(st_)); \
  } while (0)
#define CUDNN_CHECK(call)                                                                      \
  do {                                                                                         \
    cudnnStatus_t st_ = (call);                                                                \
    if (st_ != CUDNN_STATUS_SUCCESS)                                                           \
      FF_FAIL("cuDNN error at ", __FILE__, ":", __LINE__, ": ", #call, ": ", cudnnGetErrorString(st_)); \
  } while (0)
// After a kernel launch: catches bad launch configurations at once (no device synchronisation).
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())

namespace ff::cuda {
constexpr int kBlock = 256;
inline int blocks_for(int64_t n, int block = kBlock) {
  int64_t b = (n + block - 1) / block;
  return static_cast<int>(b > 65535 * 8 ? 65535 * 8 : (b < 1 ? 1 : b));
}
}  // namespace ff::cuda

// One kernel launch on the engine's stream: FF_LAUNCH(kernel, grid, block, shared_bytes)(args...).
// nvcc expands it to kernel<<<grid, block, shared_bytes, stream()>>>(args...). The CPU emulation of
// the CUDA execution model (cudaemu/, -DFF_CUDA_EMU=ON) runs the same source: there it expands to
// a call of cudaemu::launch, which runs every block's threads as fibers on the host and checks the
// configuration and every pointer argument. Follow each launch with CUDA_CHECK_LAUNCH().
#ifdef FF_CUDA_EMU
#define FF_LAUNCH(kernel, grid, block, shared_bytes) \
  ::cudaemu::launch(#kernel, __FILE__, __LINE__, kernel, grid, block, shared_bytes, ::ff::cuda::stream())
// Under the emulation __shared__ is block-local storage of the host; naming each variable after
// its declaration lets the emulator fill it with garbage (poison) at every block start, as a GPU's
// shared memory holds garbage, so a read before the write fails a test.
#define FF_EMU_SHARED(...) CUDAEMU_SHARED(__VA_ARGS__)
// Dynamic shared memory (the launch's shared_bytes): FF_DYNAMIC_SHARED(float, buf); declares
// `float buf[]` (nvcc: extern __shared__); the emulation poisons it at every block start too.
#define FF_DYNAMIC_SHARED(type, name) CUDAEMU_DYNAMIC_SHARED(type, name)
#else
#define FF_LAUNCH(kernel, grid, block, shared_bytes) kernel<<<grid, block, shared_bytes, ::ff::cuda::stream()>>>
#define FF_EMU_SHARED(...)
#define FF_DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#endif

// Grid-stride loop over [0, n).
#define FF_KERNEL_LOOP(i, n) \
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)blockDim.x * gridDim.x)
