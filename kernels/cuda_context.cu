// kernels/cuda_context.cu — the stream, library handles, workspace, switches and version report
// of kernels/cuda_context.cuh.
//
// The stream is made on the first call of anything here; each library handle only when a kernel
// first asks for it, so a process whose cuDNN sub-libraries cannot be loaded still copies tensors
// and runs every op that is not a convolution or a batch norm, and the error of the first one that
// is names the library, the versions and the fix. Only plain runtime and library calls are used,
// so the CPU emulation of the CUDA runtime (cudaemu/) compiles this file too.
#include <atomic>
#include <mutex>
#include <sstream>

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
std::atomic<bool> g_deterministic{false};

// ---- versions: "13.0", "9.19.0"; 0 means "not known" --------------------------------------------

// cudaRuntimeGetVersion / cudaDriverGetVersion / CUDART_VERSION: 1000 * major + 10 * minor.
std::string cuda_version_str(int v) {
  if (v <= 0) return "unknown";
  return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
}
// CUBLAS_VERSION and cublasGetVersion: 10000 * major + 100 * minor + patch since cuBLAS 12
// (1000 * major before).
std::string cublas_version_str(long v) {
  if (v <= 0) return "unknown";
  const long base = v >= 100000 ? 10000 : 1000;
  return std::to_string(v / base) + "." + std::to_string(v % base / 100) + "." + std::to_string(v % 100);
}
// CUDNN_VERSION and cudnnGetVersion: 10000 * major + 100 * minor + patch since cuDNN 9 (1000 *
// major before).
std::string cudnn_version_str(long v) {
  if (v <= 0) return "unknown";
  const long base = v >= 90000 ? 10000 : 1000;
  return std::to_string(v / base) + "." + std::to_string(v % base / 100) + "." + std::to_string(v % 100);
}
long major_of(long v, long new_base, long threshold) { return v / (v >= threshold ? new_base : 1000); }

// What the headers said at build time (0 where a header does not define it, as an emulation's may not).
#ifdef CUDART_VERSION
constexpr int kBuiltCudart = CUDART_VERSION;
#else
constexpr int kBuiltCudart = 0;
#endif
#ifdef CUBLAS_VERSION
constexpr long kBuiltCublas = CUBLAS_VERSION;
#else
constexpr long kBuiltCublas = 0;
#endif
#ifdef CUDNN_VERSION
constexpr long kBuiltCudnn = CUDNN_VERSION;
#else
constexpr long kBuiltCudnn = 0;
#endif

// A version query of the runtime (cudaRuntimeGetVersion, cudaDriverGetVersion); 0 when it fails
// (the driver reports 0 when none is installed).
int version_of(cudaError_t (*query)(int*)) {
  int v = 0;
  if (query(&v) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return v;
}
int loaded_runtime() { return version_of(cudaRuntimeGetVersion); }
int loaded_driver() { return version_of(cudaDriverGetVersion); }
std::string runtime_and_driver() {
  const int drv = loaded_driver();
  return "CUDA runtime " + cuda_version_str(loaded_runtime()) + " (built against " + cuda_version_str(kBuiltCudart) +
         "), driver " + (drv > 0 ? "for CUDA " + cuda_version_str(drv) : std::string("not found"));
}

// A loaded major version that differs from the built one, or a loaded version older than the built one.
std::string mismatch_note(long built, long loaded, long built_major, long loaded_major) {
  if (built <= 0 || loaded <= 0) return "";
  if (built_major != loaded_major) return " MISMATCH: another major version than built against";
  if (loaded < built) return " MISMATCH: older than built against";
  return "";
}

// The fix to print when a library cannot be initialised.
constexpr const char* kCudnnHint =
    "cuDNN 9 loads its sub-libraries (libcudnn_graph, libcudnn_ops, libcudnn_cnn, libcudnn_engines_*, "
    "libcudnn_heuristic) at run time through the loader's search path, which the binary's RUNPATH does not "
    "cover for a pip install: put the folder holding libcudnn*.so.9 on LD_LIBRARY_PATH, e.g. for the "
    "nvidia-cudnn-cu13 wheel LD_LIBRARY_PATH=<site-packages>/nvidia/cudnn/lib (find it with python3 -c "
    "\"import nvidia.cudnn; print(nvidia.cudnn.__path__[0])\"), or /usr/local/cuda/lib64 for a toolkit install";
constexpr const char* kCublasHint =
    "put the folder holding libcublas.so and libcublasLt.so of that version on LD_LIBRARY_PATH "
    "(/usr/local/cuda/lib64 for the toolkit, <site-packages>/nvidia/cublas/lib for the nvidia-cublas wheel); "
    "CUBLAS_STATUS_NOT_INITIALIZED usually means no usable device or a driver older than the runtime";

// ---- the context -----------------------------------------------------------------------------------

struct Context {
  cudaStream_t stream = nullptr;
  std::mutex mu;  // guards the lazy handles
  cublasHandle_t cublas = nullptr;
  cudnnHandle_t cudnn = nullptr;
  void* ws = nullptr;
  size_t ws_size = 0;
  void (*ws_free)(void*) = nullptr;  // returns ws to where it came from
  Context() {
    cudaError_t err = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      FF_FAIL("CUDA: cannot create the stream (cudaStreamCreateWithFlags: ", cudaGetErrorString(err), "); ",
              runtime_and_driver());
    }
  }
};
Context& context() {
  static Context* c = new Context();  // leaked on purpose: outlives static tensors
  return *c;
}

cublasHandle_t create_cublas(cudaStream_t s) {
  cublasHandle_t h = nullptr;
  cublasStatus_t st = cublasCreate(&h);
  if (st != CUBLAS_STATUS_SUCCESS)
    FF_FAIL("cuBLAS: cannot create a handle (cublasCreate: ", cublasGetStatusString(st),
            "). faceforge was built against cuBLAS ", cublas_version_str(kBuiltCublas), " (CUBLAS_VERSION ",
            kBuiltCublas, "); this process has ", runtime_and_driver(), ". To fix: ", kCublasHint);
  st = cublasSetStream(h, s);
  if (st != CUBLAS_STATUS_SUCCESS) {
    (void)cublasDestroy(h);
    FF_FAIL("cuBLAS: cublasSetStream failed: ", cublasGetStatusString(st));
  }
  return h;
}

std::string cudnn_last_error() {
#ifndef FF_CUDA_EMU
  char msg[512] = {0};
  cudnnGetLastErrorString(msg, sizeof msg);
  if (msg[0]) return std::string(" (") + msg + ")";
#endif
  return "";
}

cudnnHandle_t create_cudnn(cudaStream_t s) {
  const long loaded = static_cast<long>(cudnnGetVersion());
  const std::string versions = "faceforge was built against cuDNN " + cudnn_version_str(kBuiltCudnn) +
                               " (CUDNN_VERSION " + std::to_string(kBuiltCudnn) + "); this process loaded cuDNN " +
                               cudnn_version_str(loaded) + " (cudnnGetVersion " + std::to_string(loaded) + "), " +
                               runtime_and_driver();
  if (kBuiltCudnn > 0 && loaded > 0 && major_of(loaded, 10000, 90000) != major_of(kBuiltCudnn, 10000, 90000))
    FF_FAIL("cuDNN: the loaded library is another major version than the one built against. ", versions,
            ". To fix: ", kCudnnHint);
  cudnnHandle_t h = nullptr;
  cudnnStatus_t st = cudnnCreate(&h);
  if (st != CUDNN_STATUS_SUCCESS)
    FF_FAIL("cuDNN: cannot create a handle (cudnnCreate: ", cudnnGetErrorString(st), cudnn_last_error(), "). ",
            versions, ". To fix: ", kCudnnHint);
  st = cudnnSetStream(h, s);
  if (st != CUDNN_STATUS_SUCCESS) {
    (void)cudnnDestroy(h);
    FF_FAIL("cuDNN: cudnnSetStream failed: ", cudnnGetErrorString(st), cudnn_last_error());
  }
  return h;
}
}  // namespace

cudaStream_t stream() { return context().stream; }

cublasHandle_t cublas() {
  Context& c = context();
  std::lock_guard<std::mutex> lock(c.mu);
  if (!c.cublas) c.cublas = create_cublas(c.stream);  // a failure leaves it null: the next call retries
  return c.cublas;
}

cudnnHandle_t cudnn() {
  Context& c = context();
  std::lock_guard<std::mutex> lock(c.mu);
  if (!c.cudnn) c.cudnn = create_cudnn(c.stream);
  return c.cudnn;
}

std::string describe_runtime() {
  std::ostringstream out;
  const int rt = loaded_runtime(), drv = loaded_driver();
  out << "CUDA runtime: built " << cuda_version_str(kBuiltCudart) << ", loaded " << cuda_version_str(rt)
      << mismatch_note(kBuiltCudart, rt, kBuiltCudart / 1000, rt / 1000) << "; driver "
      << (drv > 0 ? "for CUDA " + cuda_version_str(drv) : std::string("not found"))
      << (drv > 0 && rt > drv ? " MISMATCH: the driver is older than the runtime" : "") << "\n";

  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess) {
    (void)cudaGetLastError();
    devices = 0;
  }
  out << "cuBLAS: built " << cublas_version_str(kBuiltCublas) << ", loaded ";
  if (devices == 0) {
    out << "not queried (cublasGetVersion needs a handle, and there is no CUDA device)\n";
  } else {
    try {
      int v = 0;
      CUBLAS_CHECK(cublasGetVersion(cublas(), &v));
      out << cublas_version_str(v)
          << mismatch_note(kBuiltCublas, v, major_of(kBuiltCublas, 10000, 100000), major_of(v, 10000, 100000))
          << "; handle ok\n";
    } catch (const std::exception& e) {
      out << "unknown; handle FAILED: " << e.what() << "\n";
    }
  }

  const long dnn = static_cast<long>(cudnnGetVersion());
  out << "cuDNN: built " << cudnn_version_str(kBuiltCudnn) << ", loaded " << cudnn_version_str(dnn)
      << mismatch_note(kBuiltCudnn, dnn, major_of(kBuiltCudnn, 10000, 90000), major_of(dnn, 10000, 90000));
  if (devices == 0) {
    out << "; handle not created (no CUDA device)\n";
  } else {
    try {
      (void)cudnn();
      out << "; handle ok\n";
    } catch (const std::exception& e) {
      out << "; handle FAILED: " << e.what() << "\n";
    }
  }
  return out.str();
}

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
void set_deterministic(bool on) { g_deterministic = on; }
bool deterministic() { return g_deterministic; }

}  // namespace ff::cuda
