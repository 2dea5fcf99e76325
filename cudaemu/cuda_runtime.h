// cudaemu/cuda_runtime.h — stand-in for CUDA's <cuda_runtime.h> under -DFF_CUDA_EMU=ON: the subset
// of the CUDA runtime API that faceforge calls, implemented over host memory by cudaemu/runtime.cpp,
// plus what nvcc provides to device code (the __global__ family of qualifiers, dim3/uint3,
// threadIdx/blockIdx/blockDim/gridDim/warpSize, the intrinsics, atomics).
//
// The model, in one paragraph: device memory is host memory that the emulator hands out and
// records, so it can check every copy's range and every pointer a kernel receives. Streams and
// events exist as handles but everything runs synchronously, in issue order, on the calling thread.
// A kernel is an ordinary C++ function; a launch (FF_LAUNCH, kernels/cuda_common.cuh) calls
// cudaemu::launch (cudaemu/cudaemu.h), which runs the blocks one after another and the threads of
// a block as fibers (cudaemu/fiber.h) that switch only at __syncthreads and warp collectives.
// Errors are reported as CUDA reports them: a cudaError_t from the call or from cudaGetLastError,
// and cudaGetErrorString gives the detailed message (kernel, launch site, block, thread, line).
//
// This header is found before any real CUDA header because cudaemu/ is first on the include path
// of every target that links ff_cudaemu. Nothing here needs a GPU, a driver or nvcc.
#pragma once
#include <math.h>  // CUDA device code sees sqrtf, expf, isnan... in the global namespace

#include <cstddef>
#include <cstdint>
#include <cstring>

#define CUDART_VERSION 12000  // the API level these declarations follow
#define CUDAEMU 1

// ---------------------------------------------------------------- qualifiers
// A kernel or device function is an ordinary host function; shared memory is per OS thread
// storage (blocks of a launch never overlap on one thread, so one copy serves each block in turn).
#define __global__
#define __device__
#define __host__
#define __constant__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __shared__ static thread_local

// ---------------------------------------------------------------- vector types
struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};

// The built-in variables of the running CUDA thread: set by the scheduler before it resumes a fiber.
// (__thread, not thread_local: plain TLS loads, no wrapper call. blockDim and gridDim are uint3
// here; a dim3 converts from one.)
extern __thread uint3 threadIdx;
extern __thread uint3 blockIdx;
extern __thread uint3 blockDim;
extern __thread uint3 gridDim;
constexpr int warpSize = 32;

// ---------------------------------------------------------------- errors
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInitializationError = 3,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorNotReady = 600,
  cudaErrorIllegalAddress = 700,
  cudaErrorLaunchFailure = 719,
  cudaErrorInvalidDevice = 101,
  cudaErrorNoDevice = 100,
  cudaErrorHostMemoryAlreadyRegistered = 712,
  cudaErrorHostMemoryNotRegistered = 713,
  cudaErrorUnknown = 999,
};
typedef cudaError_t cudaError;

cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
// The detailed message of the most recent error of this code on this thread, else the error's name.
const char* cudaGetErrorString(cudaError_t err);
const char* cudaGetErrorName(cudaError_t err);

// ---------------------------------------------------------------- devices
struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  int regsPerBlock;
  int warpSize;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int major, minor;
  int multiProcessorCount;
  int maxThreadsPerMultiProcessor;
  size_t l2CacheSize;
  int clockRate;
};
enum cudaDeviceAttr { cudaDevAttrMaxThreadsPerBlock = 1, cudaDevAttrWarpSize = 10, cudaDevAttrMultiProcessorCount = 16,
                      cudaDevAttrComputeCapabilityMajor = 75, cudaDevAttrComputeCapabilityMinor = 76 };
cudaError_t cudaGetDeviceCount(int* count);  // always 1: the emulated device
cudaError_t cudaSetDevice(int device);       // 0 only
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaDeviceReset();
cudaError_t cudaRuntimeGetVersion(int* version);
cudaError_t cudaDriverGetVersion(int* version);
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);

// ---------------------------------------------------------------- memory
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};
enum cudaMemoryType { cudaMemoryTypeUnregistered = 0, cudaMemoryTypeHost = 1, cudaMemoryTypeDevice = 2,
                      cudaMemoryTypeManaged = 3 };
struct cudaPointerAttributes {
  cudaMemoryType type;
  int device;
  void* devicePointer;
  void* hostPointer;
};
#define cudaHostRegisterDefault 0x00
#define cudaHostRegisterPortable 0x01
#define cudaHostRegisterMapped 0x02
#define cudaHostAllocDefault 0x00

struct CUstream_st;
struct CUevent_st;
typedef CUstream_st* cudaStream_t;
typedef CUevent_st* cudaEvent_t;

cudaError_t cudaMalloc(void** p, size_t nbytes);
template <typename T>
inline cudaError_t cudaMalloc(T** p, size_t nbytes) { return cudaMalloc(reinterpret_cast<void**>(p), nbytes); }
cudaError_t cudaFree(void* p);
cudaError_t cudaMallocHost(void** p, size_t nbytes);
cudaError_t cudaHostAlloc(void** p, size_t nbytes, unsigned flags);
cudaError_t cudaFreeHost(void* p);
cudaError_t cudaHostRegister(void* p, size_t nbytes, unsigned flags);
cudaError_t cudaHostUnregister(void* p);
cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* attr, const void* p);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t n, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind kind, cudaStream_t s = nullptr);
cudaError_t cudaMemset(void* dst, int value, size_t n);
cudaError_t cudaMemsetAsync(void* dst, int value, size_t n, cudaStream_t s = nullptr);

// ---------------------------------------------------------------- streams and events
#define cudaStreamDefault 0x00
#define cudaStreamNonBlocking 0x01
#define cudaEventDefault 0x00
#define cudaEventBlockingSync 0x01
#define cudaEventDisableTiming 0x02
cudaError_t cudaStreamCreate(cudaStream_t* s);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaStreamQuery(cudaStream_t s);
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags = 0);
cudaError_t cudaEventCreate(cudaEvent_t* e);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned flags);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventQuery(cudaEvent_t e);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);

// The device side (intrinsics, barriers, warp collectives, atomics) and the launch.
#include "cudaemu.h"
