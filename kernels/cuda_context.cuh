// kernels/cuda_context.cuh — what every CUDA kernel runs on: the one stream, the cuBLAS and cuDNN
// handles bound to it, the scratch workspace of the library calls, the TF32 and deterministic
// switches, and a report of the library versions built against and loaded.
// Defined in kernels/cuda_context.cu; the engine reaches them through it too (its copies go on
// stream(); engine/config.h forwards the switches), so nothing in kernels/ calls back up.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>
#include <string>

namespace ff::cuda {

// The one stream faceforge issues work on, made on first use. Making it loads neither cuBLAS nor
// cuDNN: a plain tensor copy works even where those libraries cannot be loaded.
cudaStream_t stream();
// Each handle is created on its first use and bound to stream(). When creating it fails, the
// ff::Error says which library, the version faceforge was built against, the versions the
// process loaded (library, CUDA runtime, driver) and what to set (LD_LIBRARY_PATH).
cublasHandle_t cublas();
cudnnHandle_t cudnn();

// One line each for the CUDA runtime and driver, cuBLAS and cuDNN: the version built against
// (CUDART_VERSION, CUBLAS_VERSION, CUDNN_VERSION) and the one loaded (cudaRuntimeGetVersion,
// cudaDriverGetVersion, cublasGetVersion, cudnnGetVersion), whether each handle can be created,
// and a "MISMATCH" note where the loaded major version differs or is older than the built one.
// With a CUDA device this creates the handles; without one it reports that and creates none.
// Never throws: a failure becomes part of the text.
std::string describe_runtime();

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

// Deterministic library algorithms: cuDNN convolutions use only CUDNN_DETERMINISTIC algorithms,
// chosen from the heuristics without timing runs (kernels/conv.cu); off by default. Set through
// ff::set_deterministic (engine/config.h).
void set_deterministic(bool on);
bool deterministic();

}  // namespace ff::cuda
