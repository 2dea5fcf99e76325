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

// A point in the stream's work (a cudaEvent_t, created without timing): record() marks "everything
// enqueued so far", ready() asks without blocking whether the device got there, wait() blocks the
// calling thread until it has (a host synchronisation only when it is not ready yet). Move-only.
class Event {
 public:
  Event();
  ~Event();
  Event(Event&& o) noexcept;
  Event& operator=(Event&& o) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  void record();
  bool ready() const;
  void wait() const;

 private:
  void* event_ = nullptr;  // cudaEvent_t (kept opaque so this header needs no CUDA header)
};

// Copies, all ordered on the one stream.
//
// Host to device. memcpy_h2d_async is for page-locked sources only (host_register'ed, e.g. the
// loader's batch buffers): it enqueues the copy and returns at once, with an Event recorded after
// the copy. THE GUARD: the source must not be overwritten or freed before that event is ready
// (Event::wait); Tensor::copy_from keeps it with the host block (Storage::readers) and the loader
// waits on it before it refills a batch slot. memcpy_h2d, for pageable sources, is synchronous: it
// returns once the device has the data, because its caller may reuse or free the source at once
// and nothing would tell it when the copy had read it. A training step uploads only pinned
// batches, so it never takes this path.
Event memcpy_h2d_async(void* dst, const void* src, size_t nbytes);
void memcpy_h2d(void* dst, const void* src, size_t nbytes);
// Device to host: waits for the stream (the host is about to read dst). A host synchronisation.
void memcpy_d2h(void* dst, const void* src, size_t nbytes);
void memcpy_d2d(void* dst, const void* src, size_t nbytes);
void memset_zero(void* dst, size_t nbytes);
void memset_bytes(void* dst, int value, size_t nbytes);
void synchronize();  // waits for every op enqueued so far (a host synchronisation)

// Host synchronisations this process's engine has performed: every synchronize(), memcpy_h2d,
// memcpy_d2h, and every Event::wait that had to block. Monotonic, thread-safe; a test reads it
// before and after a training step (tests/test_step_syncs.cpp). Not counted here: the
// synchronisation of Allocator's cache release (on OOM and empty_cache) and of kernels/ (the
// workspace growth), which happen outside a steady step; the emulator's own count
// (cudaemu::stats().host_syncs) sees those too.
int64_t host_syncs();

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
