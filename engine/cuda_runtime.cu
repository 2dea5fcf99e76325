// engine/cuda_runtime.cu — the caching device allocator, the copies, events and the count of host
// synchronisations. The stream they are ordered on, the library handles and the workspace belong
// to kernels/cuda_context.cu; the workspace draws its memory from this allocator (installed below).
#include <atomic>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "engine/cuda_runtime.h"
#include "kernels/cuda_common.cuh"

namespace ff::cudart {

namespace {
// Blocks are never split; a cached block at most twice the (rounded) request is reused, and the
// cache goes back to the driver only when cudaMalloc fails or on empty_cache() (docs/design.md,
// "CUDA review: libraries, algorithms, allocator", says why and what would replace it).
// Freeing a pointer this allocator did not hand out, or a block a second time, throws ff::Error
// (from a Storage destructor that ends the process with the message: better than two tensors
// sharing memory).
struct Allocator {
  struct Block {
    size_t size = 0;
    bool cached = false;  // in free_blocks (not handed out)
  };
  std::mutex mu;
  std::multimap<size_t, void*> free_blocks;        // size -> block
  std::unordered_map<void*, Block> blocks;         // every live or cached block
  AllocatorStats stats;

  static size_t round(size_t n) {
    if (n == 0) n = 1;
    const size_t small = 512, large = 2u << 20;
    return n < (1u << 20) ? (n + small - 1) / small * small : (n + large - 1) / large * large;
  }
  void* alloc(size_t n) {
    size_t r = round(n);
    std::lock_guard<std::mutex> lock(mu);
    // Best fit among cached blocks, but never hand out a block more than twice the request.
    auto it = free_blocks.lower_bound(r);
    if (it != free_blocks.end() && it->first <= 2 * r) {
      void* p = it->second;
      stats.bytes_cached -= it->first;
      stats.bytes_in_use += it->first;
      free_blocks.erase(it);
      blocks.at(p).cached = false;
      stats.peak_in_use = std::max(stats.peak_in_use, stats.bytes_in_use);
      return p;
    }
    void* p = nullptr;
    cudaError_t err = cudaMalloc(&p, r);
    if (err != cudaSuccess) {  // release the cache and try once more
      (void)cudaGetLastError();
      release_cache_locked();
      err = cudaMalloc(&p, r);
      if (err != cudaSuccess) {
        (void)cudaGetLastError();  // out of memory is not sticky: leave the runtime usable
        FF_FAIL("CUDA allocator: cudaMalloc of ", r, " bytes (", n, " requested) failed after returning the cache: ",
                cudaGetErrorString(err), " (", stats.bytes_in_use, " bytes in use by tensors and workspaces)");
      }
    }
    ++stats.driver_allocs;
    blocks[p] = Block{r, false};
    stats.bytes_in_use += r;
    stats.peak_in_use = std::max(stats.peak_in_use, stats.bytes_in_use);
    return p;
  }
  void free(void* p) {
    if (!p) return;
    std::lock_guard<std::mutex> lock(mu);
    auto it = blocks.find(p);
    FF_CHECK(it != blocks.end(), "CUDA allocator: free of ", p, ", which it did not hand out (or already returned to the driver)");
    FF_CHECK(!it->second.cached, "CUDA allocator: block ", p, " (", it->second.size, " bytes) freed twice");
    it->second.cached = true;
    stats.bytes_in_use -= it->second.size;
    stats.bytes_cached += it->second.size;
    free_blocks.emplace(it->second.size, p);
  }
  // Returns every cached block to the driver. The device is synchronised first (a block may be
  // freed by the host while kernels queued on it still run); if that or a cudaFree fails, the
  // error is thrown and the blocks not yet freed stay cached and counted.
  void release_cache_locked() {
    CUDA_CHECK(cudaDeviceSynchronize());
    for (auto it = free_blocks.begin(); it != free_blocks.end();) {
      const size_t size = it->first;
      void* p = it->second;
      CUDA_CHECK(cudaFree(p));
      blocks.erase(p);
      stats.bytes_cached -= size;
      it = free_blocks.erase(it);
    }
  }
};
Allocator& allocator() {
  // Leaked on purpose: outlives static tensors. Made before the first device block is handed
  // out, hence before any kernel can ask for a workspace, which then comes from here too.
  static Allocator* a = [] {
    Allocator* made = new Allocator();
    cuda::set_device_memory({[](size_t n) { return allocator().alloc(n); }, [](void* p) { allocator().free(p); }});
    return made;
  }();
  return *a;
}

cudaStream_t stream() { return cuda::stream(); }
}  // namespace

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n;
}
void* alloc(size_t nbytes) { return allocator().alloc(nbytes); }
void free(void* p) { allocator().free(p); }

// ------------------------------------------------------------------ host synchronisations
namespace {
std::atomic<int64_t> g_host_syncs{0};
void sync_stream() {  // every blocking wait on the stream goes through here, so it is counted
  ++g_host_syncs;
  CUDA_CHECK(cudaStreamSynchronize(stream()));
}
cudaEvent_t as_event(void* e) { return static_cast<cudaEvent_t>(e); }
}  // namespace
int64_t host_syncs() { return g_host_syncs.load(); }

Event::Event() {
  cudaEvent_t e = nullptr;
  CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  event_ = e;
}
Event::~Event() {
  if (event_) (void)cudaEventDestroy(as_event(event_));  // never throws; a pending event is fine
}
Event::Event(Event&& o) noexcept : event_(o.event_) { o.event_ = nullptr; }
Event& Event::operator=(Event&& o) noexcept {
  if (this != &o) {
    if (event_) (void)cudaEventDestroy(as_event(event_));
    event_ = o.event_;
    o.event_ = nullptr;
  }
  return *this;
}
void Event::record() {
  FF_CHECK(event_ != nullptr, "cudart::Event::record: the event was moved from");
  CUDA_CHECK(cudaEventRecord(as_event(event_), stream()));
}
bool Event::ready() const {
  if (!event_) return true;  // moved from: nothing pending
  cudaError_t err = cudaEventQuery(as_event(event_));
  if (err == cudaErrorNotReady) return false;
  CUDA_CHECK(err);  // a real error (a faulted kernel before the event, say)
  return true;
}
void Event::wait() const {
  if (ready()) return;  // the common case: nothing to wait for, no synchronisation
  ++g_host_syncs;
  CUDA_CHECK(cudaEventSynchronize(as_event(event_)));
}

// ------------------------------------------------------------------ copies
// Copies are ordered on the one stream; a copy to the host waits for it, so the host sees the data.
Event memcpy_h2d_async(void* dst, const void* src, size_t n) {
  Event done;
  CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, stream()));
  done.record();  // src may be reused once the device has passed this point
  return done;
}
void memcpy_h2d(void* dst, const void* src, size_t n) {
  CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, stream()));
  sync_stream();  // src is pageable host memory the caller may reuse as soon as we return
}
void memcpy_d2h(void* dst, const void* src, size_t n) {
  CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, stream()));
  sync_stream();
}
void memcpy_d2d(void* dst, const void* src, size_t n) {
  CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, stream()));
}
void memset_zero(void* dst, size_t n) { CUDA_CHECK(cudaMemsetAsync(dst, 0, n, stream())); }
void memset_bytes(void* dst, int value, size_t n) { CUDA_CHECK(cudaMemsetAsync(dst, value, n, stream())); }
void synchronize() { sync_stream(); }

bool host_register(void* p, size_t nbytes) {
  if (cudaHostRegister(p, nbytes, cudaHostRegisterDefault) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky-free error so later calls do not see it
    return false;
  }
  return true;
}
void host_unregister(void* p) { CUDA_CHECK(cudaHostUnregister(p)); }

AllocatorStats allocator_stats() {
  std::lock_guard<std::mutex> lock(allocator().mu);
  return allocator().stats;
}
void reset_peak_in_use() {
  std::lock_guard<std::mutex> lock(allocator().mu);
  allocator().stats.peak_in_use = allocator().stats.bytes_in_use;
}
void empty_cache() {
  std::lock_guard<std::mutex> lock(allocator().mu);
  allocator().release_cache_locked();
}

}  // namespace ff::cudart
