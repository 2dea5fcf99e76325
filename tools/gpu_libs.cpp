// tools/gpu_libs.cpp — ff_gpu_libs: which CUDA runtime, cuBLAS and cuDNN a GPU-bundle program
// loads, against the headers it was built with, and whether every cuDNN sub-library and NVRTC load.
//
//   build-gpu/bundle/bin/ff_gpu_libs      # scripts/gpu_check.sh runs it first (review I2, C2)
//
// It is linked like ff_tests and ff_bench_cuda (CUDA runtime static, libcublas.so.13 and
// libcudnn.so.9 shared, RPATH $ORIGIN/../lib), so the libraries it loads are theirs. cuDNN loads
// its sub-libraries with dlopen on first use, which ldd does not show: each is dlopened here by
// soname, the way cuDNN asks for it. It needs no GPU: without a driver it says so and goes on.
// Exit status: 0 when everything loads and the loaded major versions are the headers' (a newer
// minor is compatible, an older one is reported), 1 otherwise.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <dlfcn.h>
#include <link.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace {

int print_loaded(struct dl_phdr_info* info, size_t, void*) {
  const char* n = info->dlpi_name;
  if (n && (std::strstr(n, "cublas") || std::strstr(n, "cudnn") || std::strstr(n, "cudart") ||
            std::strstr(n, "nvrtc") || std::strstr(n, "libcuda.")))
    std::printf("  loaded: %s\n", n);
  return 0;
}

// "major.minor.patch" of a cuDNN version number (9.x: major * 10000 + minor * 100 + patch).
std::string cudnn_str(size_t v) {
  return std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
}

}  // namespace

int main() {
  int bad = 0;
  std::printf("ff_gpu_libs: built against CUDA runtime %d.%d (static), cuBLAS %d.%d.%d, cuDNN %d.%d.%d\n",
              CUDART_VERSION / 1000, CUDART_VERSION % 1000 / 10, CUBLAS_VER_MAJOR, CUBLAS_VER_MINOR,
              CUBLAS_VER_PATCH, CUDNN_MAJOR, CUDNN_MINOR, CUDNN_PATCHLEVEL);

  int rt = 0, drv = 0;
  cudaRuntimeGetVersion(&rt);
  cudaError_t de = cudaDriverGetVersion(&drv);
  std::printf("  CUDA runtime %d.%d; driver supports CUDA %d.%d%s\n", rt / 1000, rt % 1000 / 10, drv / 1000,
              drv % 1000 / 10, drv == 0 || de != cudaSuccess ? " (no driver: libcuda.so.1 not loaded)" : "");
  if (drv != 0 && drv / 1000 < CUDART_VERSION / 1000) {
    std::printf("  MISMATCH: the driver supports CUDA %d, the runtime is CUDA %d\n", drv / 1000, CUDART_VERSION / 1000);
    bad = 1;
  }

  int bv[3] = {0, 0, 0};
  cublasGetProperty(MAJOR_VERSION, &bv[0]);
  cublasGetProperty(MINOR_VERSION, &bv[1]);
  cublasGetProperty(PATCH_LEVEL, &bv[2]);
  std::printf("  cuBLAS loaded %d.%d.%d\n", bv[0], bv[1], bv[2]);
  if (bv[0] != CUBLAS_VER_MAJOR) {
    std::printf("  MISMATCH: cuBLAS major %d loaded, %d expected\n", bv[0], CUBLAS_VER_MAJOR);
    bad = 1;
  } else if (bv[1] < CUBLAS_VER_MINOR) {
    std::printf("  note: cuBLAS %d.%d loaded is older than the headers' %d.%d\n", bv[0], bv[1], CUBLAS_VER_MAJOR, CUBLAS_VER_MINOR);
  }

  size_t cv = cudnnGetVersion();
  std::printf("  cuDNN loaded %s (its CUDA runtime %zu)\n", cudnn_str(cv).c_str(), cudnnGetCudartVersion());
  if (cv / 10000 != CUDNN_MAJOR) {
    std::printf("  MISMATCH: cuDNN major %zu loaded, %d expected (CUDNN_VERSION %d)\n", cv / 10000, CUDNN_MAJOR, CUDNN_VERSION);
    bad = 1;
  } else if (cv < static_cast<size_t>(CUDNN_VERSION)) {
    std::printf("  note: cuDNN %s loaded is older than the headers' %s\n", cudnn_str(cv).c_str(), cudnn_str(CUDNN_VERSION).c_str());
  }

  // cuDNN 9's sub-libraries and NVRTC (its runtime-compiled engines), loaded as cuDNN loads them.
  for (const char* so : {"libcudnn_graph.so.9", "libcudnn_ops.so.9", "libcudnn_cnn.so.9", "libcudnn_adv.so.9",
                         "libcudnn_heuristic.so.9", "libcudnn_engines_precompiled.so.9",
                         "libcudnn_engines_runtime_compiled.so.9", "libnvrtc.so.13"}) {
    void* h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    bool nvrtc = std::strstr(so, "nvrtc") != nullptr;  // only cuDNN's runtime-compiled engines need it
    if (!h) std::printf("  %s: %s: %s\n", nvrtc ? "not loadable (runtime-compiled cuDNN engines unavailable)" : "NOT LOADABLE", so, dlerror());
    if (!h && !nvrtc) bad = 1;
  }
  void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  std::printf("  driver libcuda.so.1: %s\n", driver ? "loads" : "absent (no GPU driver here)");
  dl_iterate_phdr(print_loaded, nullptr);
  std::printf("ff_gpu_libs: %s\n", bad ? "PROBLEMS above" : "every library loads, versions agree");
  return bad;
}
