// kernels/cuda_context.cuh — what every CUDA kernel runs on: the one stream, the cuBLAS and cuDNN
// handles bound to it, the scratch workspace of the library calls, and the TF32 switch.
// Defined in kernels/cuda_context.cu; the engine reaches them through it too (its copies go on
// stream(); engine/config.h forwards the TF32 switch), so nothing in kernels/ calls back up.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>

namespace ff::cuda {

cudaStream_t stream();    // the one stream faceforge issues work on (made on first use)
cublasHandle_t cublas();  // bound to stream()
cudnnHandle_t cudnn();    // bound to stream()

// Scratch memory for library workspaces, at least nbytes, grown on demand (after the stream has
// finished with the old block) and reused, never freed in a step.
void* workspace(size_t nbytes);

// Where workspace() takes device memory from: cudaMalloc/cudaFree until the engine installs its
// caching allocator (engine/cuda_runtime.cu does, before it hands out its first block), so the
// workspace counts in the engine's memory statistics and an allocation failure first returns the
// engine's cached blocks. A block is returned through the free function it came with.
struct DeviceMemory {
  void* (*alloc)(size_t nbytes);
  void (*free)(void* p);
};
void set_device_memory(DeviceMemory memory);

// TF32 tensor-core math for float32 convolutions and matrix products (cuDNN
// CUDNN_DEFAULT_MATH, cuBLAS CUBLAS_TF32_TENSOR_OP_MATH); off by default. Set through
// ff::set_allow_tf32 (engine/config.h).
void set_allow_tf32(bool on);
bool allow_tf32();

}  // namespace ff::cuda
