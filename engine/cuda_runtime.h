// engine/cuda_runtime.h — the host-side face of the CUDA backend: memory, copies, synchronisation
// (all on the one stream of kernels/cuda_context.cuh).
//
// Compiled only with the CUDA backend (engine/cuda_runtime.cu). Code outside kernels/ and engine/
// never calls these directly; Storage and Tensor::to/copy_from do.
//
// Caching allocator: device blocks are rounded up (512 B granules below 1 MiB, 2 MiB above) and
// kept in size-keyed free lists when released, so a steady training step does no cudaMalloc or
// cudaFree. empty_cache() returns the cached blocks to the driver.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ff::cudart {

int device_count();  // 0 when no device or no driver
void* alloc(size_t nbytes);
void free(void* p);
void memcpy_h2d(void* dst, const void* src, size_t nbytes);
void memcpy_d2h(void* dst, const void* src, size_t nbytes);
void memcpy_d2d(void* dst, const void* src, size_t nbytes);
void memset_zero(void* dst, size_t nbytes);
void memset_bytes(void* dst, int value, size_t nbytes);
void synchronize();

// Page-locks an existing host block (cudaHostRegister) so copies from it run at full bus speed;
// the batch loader pins its reusable batch buffers. Returns false, without throwing, when the
// driver refuses: pinning is only an optimisation. Call host_unregister before freeing the block.
bool host_register(void* p, size_t nbytes);
void host_unregister(void* p);

struct AllocatorStats {
  size_t bytes_in_use = 0;    // handed out to tensors now
  size_t bytes_cached = 0;    // held in free lists
  size_t peak_in_use = 0;
  int64_t driver_allocs = 0;  // cudaMalloc calls so far
};
AllocatorStats allocator_stats();
void reset_peak_in_use();  // peak_in_use = bytes_in_use now (a benchmark measures one step's peak)
void empty_cache();

}  // namespace ff::cudart
