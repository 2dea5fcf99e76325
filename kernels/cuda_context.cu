// kernels/cuda_context.cu — the stream, library handles, workspace and TF32 switch of
// kernels/cuda_context.cuh.
#include <atomic>

#include "kernels/cuda_common.cuh"

namespace ff::cuda {

namespace {
void* cuda_malloc(size_t nbytes) {
  void* p = nullptr;
  CUDA_CHECK(cudaMalloc(&p, nbytes));
  return p;
}
void cuda_free(void* p) { CUDA_CHECK(cudaFree(p)); }

DeviceMemory g_memory{cuda_malloc, cuda_free};  // constant-initialised: valid before any constructor runs
std::atomic<bool> g_tf32{false};

struct Context {
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  cudnnHandle_t cudnn = nullptr;
  void* ws = nullptr;
  size_t ws_size = 0;
  void (*ws_free)(void*) = nullptr;  // returns ws to where it came from
  Context() {
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    CUBLAS_CHECK(cublasCreate(&cublas));
    CUBLAS_CHECK(cublasSetStream(cublas, stream));
    CUDNN_CHECK(cudnnCreate(&cudnn));
    CUDNN_CHECK(cudnnSetStream(cudnn, stream));
  }
};
Context& context() {
  static Context* c = new Context();  // leaked on purpose: outlives static tensors
  return *c;
}
}  // namespace

cudaStream_t stream() { return context().stream; }
cublasHandle_t cublas() { return context().cublas; }
cudnnHandle_t cudnn() { return context().cudnn; }

void set_device_memory(DeviceMemory memory) { g_memory = memory; }

void* workspace(size_t nbytes) {
  Context& c = context();
  if (nbytes > c.ws_size) {
    if (c.ws) {
      CUDA_CHECK(cudaStreamSynchronize(c.stream));  // work queued on the old block must finish
      c.ws_free(c.ws);
      c.ws = nullptr;
      c.ws_size = 0;
    }
    c.ws = g_memory.alloc(nbytes);
    c.ws_size = nbytes;
    c.ws_free = g_memory.free;
  }
  return c.ws;
}

void set_allow_tf32(bool on) { g_tf32 = on; }
bool allow_tf32() { return g_tf32; }

}  // namespace ff::cuda
