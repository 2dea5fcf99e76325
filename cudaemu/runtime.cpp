// cudaemu/runtime.cpp — the emulated CUDA runtime (memory, copies, streams, events, errors) and the
// scheduler that runs a grid: blocks one after another, the threads of a block as fibers switched
// at barriers and warp collectives (the model: cudaemu/cudaemu.h).
//
// Sanitizers. AddressSanitizer: every fiber switch is announced (__sanitizer_start/finish_switch_
// fiber), so ASan knows which stack is live. ThreadSanitizer: build with -fsanitize=thread; this
// file is then compiled without instrumentation (CMakeLists.txt adds -fno-sanitize=thread and
// CUDAEMU_TSAN=1), so the scheduler's own bookkeeping is invisible, and each CUDA thread is a TSan
// fiber switched to with __tsan_switch_to_fiber_no_sync: switching creates no happens-before.
// Happens-before comes only from what orders threads on a GPU: the block start (the launching
// host code before every thread), the block end (every thread before what follows the launch),
// __syncthreads (release on arrival, acquire on leaving, on a sync object that alternates with
// the barrier generation) and warp collectives (the same, per warp). So two threads of a block
// touching the same address with no barrier between them are a data race for TSan whatever the
// schedule: a missing __syncthreads is reported with both source lines.
#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "cudaemu.h"
#include "fiber.h"

#if defined(__SANITIZE_ADDRESS__)
#define CUDAEMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CUDAEMU_ASAN 1
#endif
#endif
#ifdef CUDAEMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef CUDAEMU_TSAN
#include <sanitizer/tsan_interface.h>
#endif

__thread uint3 threadIdx;
__thread uint3 blockIdx;
__thread uint3 blockDim;
__thread uint3 gridDim;

namespace cudaemu {

// ================================================================ settings and statistics
namespace {

struct Settings {
  OrderSetting schedule, block_order;
  unsigned char poison = 0xFF;
  bool strict = false;
  size_t stack_bytes = 0;
  Settings() {
#ifdef CUDAEMU_ASAN
    stack_bytes = 1024 * 1024;  // ASan frames carry redzones
#else
    stack_bytes = 256 * 1024;
#endif
    read("CUDAEMU_SCHEDULE", &schedule);
    read("CUDAEMU_BLOCK_ORDER", &block_order);
    if (const char* p = std::getenv("CUDAEMU_POISON")) {
      char* end = nullptr;
      unsigned long v = std::strtoul(p, &end, 0);
      if (end == p || *end || v > 255) bad("CUDAEMU_POISON", p, "a byte such as 0xFF or 0x7f");
      poison = static_cast<unsigned char>(v);
    }
    if (const char* p = std::getenv("CUDAEMU_STRICT")) strict = *p && std::string(p) != "0";
    if (const char* p = std::getenv("CUDAEMU_STACK_KB")) stack_bytes = std::strtoul(p, nullptr, 10) * 1024;
    if (stack_bytes < 64 * 1024) stack_bytes = 64 * 1024;
  }
  static void read(const char* name, OrderSetting* out) {
    if (const char* p = std::getenv(name))
      if (!parse_order(p, out)) bad(name, p, "forward, reverse or random:SEED");
  }
  [[noreturn]] static void bad(const char* name, const char* value, const char* expected) {
    std::fprintf(stderr, "[cudaemu] fatal: %s=%s: expected %s\n", name, value, expected);
    std::exit(2);
  }
};
Settings& settings() {
  static Settings s;
  return s;
}

struct Counters {
  std::atomic<int64_t> launches{0}, blocks{0}, threads{0}, host_syncs{0}, warnings{0};
};
Counters g_count;

// CUDAEMU_REPORT: what ran, per kernel.
struct KernelRecord {
  std::string name, site;
  uintptr_t offset = 0;
  int64_t launches = 0, blocks = 0, threads = 0;
};
std::mutex g_report_mu;
std::map<const void*, KernelRecord>* g_report = nullptr;
void write_report() {
  const char* path = std::getenv("CUDAEMU_REPORT");
  std::lock_guard<std::mutex> lock(g_report_mu);
  if (!path || !g_report) return;
  FILE* f = std::fopen(path, "w");
  if (!f) return;
  std::fprintf(f, "# launches blocks threads name site offset\n");
  for (auto& [addr, r] : *g_report)
    std::fprintf(f, "%" PRId64 " %" PRId64 " %" PRId64 " %s %s 0x%zx\n", r.launches, r.blocks, r.threads, r.name.c_str(),
                 r.site.c_str(), static_cast<size_t>(r.offset));
  std::fclose(f);
}

// The window of BlockWindow, per host thread.
thread_local int64_t t_window_first = 0, t_window_last = INT64_MAX;

}  // namespace

Stats stats() {
  return Stats{g_count.launches.load(), g_count.blocks.load(), g_count.threads.load(), g_count.host_syncs.load(),
               g_count.warnings.load()};
}
void reset_stats() {
  g_count.launches = 0;
  g_count.blocks = 0;
  g_count.threads = 0;
  g_count.host_syncs = 0;
  g_count.warnings = 0;
}

bool parse_order(const char* text, OrderSetting* out) {
  std::string s = text ? text : "";
  if (s == "forward") {
    *out = OrderSetting{Order::forward, 0};
  } else if (s == "reverse") {
    *out = OrderSetting{Order::reverse, 0};
  } else if (s.rfind("random:", 0) == 0 && s.size() > 7) {
    char* end = nullptr;
    uint64_t seed = std::strtoull(s.c_str() + 7, &end, 0);
    if (*end) return false;
    *out = OrderSetting{Order::random, seed};
  } else {
    return false;
  }
  return true;
}
void set_schedule(OrderSetting s) { settings().schedule = s; }
OrderSetting schedule() { return settings().schedule; }
void set_block_order(OrderSetting s) { settings().block_order = s; }
OrderSetting block_order() { return settings().block_order; }
void set_poison(unsigned char byte) { settings().poison = byte; }
unsigned char poison() { return settings().poison; }
void set_strict(bool on) { settings().strict = on; }
bool strict() { return settings().strict; }

BlockWindow::BlockWindow(int64_t first, int64_t last) : saved_first_(t_window_first), saved_last_(t_window_last) {
  t_window_first = first;
  t_window_last = last;
}
BlockWindow::~BlockWindow() {
  t_window_first = saved_first_;
  t_window_last = saved_last_;
}

// ================================================================ errors
namespace {

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  int n = std::vsnprintf(nullptr, 0, fmt, ap);
  std::string s(n > 0 ? static_cast<size_t>(n) : 0, '\0');
  std::vsnprintf(s.data(), s.size() + 1, fmt, ap2);
  va_end(ap2);
  va_end(ap);
  return s;
}

// The last two components of a path: "kernels/arcface.cu" rather than the absolute path.
std::string short_path(const char* file) {
  std::string f = file ? file : "?";
  size_t a = f.rfind('/');
  if (a == std::string::npos || a == 0) return f;
  size_t b = f.rfind('/', a - 1);
  return b == std::string::npos ? f : f.substr(b + 1);
}

const char* error_name(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError: return "cudaErrorInitializationError";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorHostMemoryAlreadyRegistered: return "cudaErrorHostMemoryAlreadyRegistered";
    case cudaErrorHostMemoryNotRegistered: return "cudaErrorHostMemoryNotRegistered";
    default: return "cudaErrorUnknown";
  }
}
const char* error_text(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    default: return error_name(e);
  }
}

// CUDA keeps the last error per host thread; the detailed text stays readable after
// cudaGetLastError has cleared the code, because CUDA_CHECK reads it afterwards.
thread_local cudaError_t t_last_error = cudaSuccess;
thread_local cudaError_t t_detail_code = cudaSuccess;
thread_local std::string t_detail;

cudaError_t record_error(cudaError_t code, const std::string& detail) {
  t_last_error = code;
  t_detail_code = code;
  t_detail = std::string(error_text(code)) + " [cudaemu: " + detail + "]";
  std::fprintf(stderr, "[cudaemu] error: %s: %s\n", error_name(code), detail.c_str());
  return code;
}

void print_warning(const std::string& msg) {
  ++g_count.warnings;
  std::fprintf(stderr, "[cudaemu] warning: %s\n", msg.c_str());
}

}  // namespace

}  // namespace cudaemu

using namespace cudaemu;

cudaError_t cudaGetLastError() {
  cudaError_t e = t_last_error;
  t_last_error = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError() { return t_last_error; }
const char* cudaGetErrorString(cudaError_t err) {
  if (err != cudaSuccess && err == t_detail_code && !t_detail.empty()) return t_detail.c_str();
  return error_text(err);
}
const char* cudaGetErrorName(cudaError_t err) { return error_name(err); }

// ================================================================ memory registry
namespace cudaemu {
namespace {

enum class Kind { device, pinned, registered };  // pinned: cudaMallocHost; registered: cudaHostRegister
struct Region {
  size_t size;
  Kind kind;
  bool huge;  // mmap'd, not poisoned
};
std::mutex g_mem_mu;
std::map<uintptr_t, Region> g_regions;  // base -> region

// The region holding [p, p + n) (n = 0: p may be one past the end), or null.
const Region* find_region(const void* p, size_t n, uintptr_t* base_out) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  auto it = g_regions.upper_bound(a);
  if (it == g_regions.begin()) return nullptr;
  --it;
  uintptr_t base = it->first;
  size_t size = it->second.size;
  if (a < base || a - base > size || (n > 0 && (a - base >= size || n > size - (a - base)))) return nullptr;
  if (base_out) *base_out = base;
  return &it->second;
}
// The region a pointer falls in, even partly (for messages).
const Region* nearest_region(const void* p, uintptr_t* base_out) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  auto it = g_regions.upper_bound(a);
  if (it == g_regions.begin()) return nullptr;
  --it;
  if (a - it->first >= it->second.size) return nullptr;
  *base_out = it->first;
  return &it->second;
}
bool overlaps(uintptr_t a, size_t n) {
  auto it = g_regions.lower_bound(a + n);
  if (it == g_regions.begin()) return false;
  --it;
  return it->first + it->second.size > a;
}
const char* kind_name(Kind k) {
  return k == Kind::device ? "device allocation" : (k == Kind::pinned ? "pinned host allocation" : "registered host memory");
}

}  // namespace
}  // namespace cudaemu

cudaError_t cudaMalloc(void** p, size_t nbytes) {
  if (!p) return record_error(cudaErrorInvalidValue, "cudaMalloc: null result pointer");
  *p = nullptr;
  if (nbytes == 0) return cudaSuccess;
  void* mem = nullptr;
  bool huge = nbytes >= kHugeAllocation;
  if (huge) {
    // Address space only: pages are committed when touched, so a tensor of 8.6 GB that a test
    // touches at its ends costs those pages. Zero-filled, not poisoned (poisoning would touch all).
    void* m = mmap(nullptr, nbytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m != MAP_FAILED) mem = m;
  } else if (posix_memalign(&mem, 256, nbytes) != 0) {
    mem = nullptr;
  }
  if (!mem) return record_error(cudaErrorMemoryAllocation, format("cudaMalloc of %zu bytes failed", nbytes));
  if (!huge) std::memset(mem, settings().poison, nbytes);  // fresh device memory holds garbage
  std::lock_guard<std::mutex> lock(g_mem_mu);
  g_regions[reinterpret_cast<uintptr_t>(mem)] = Region{nbytes, Kind::device, huge};
  *p = mem;
  return cudaSuccess;
}

cudaError_t cudaFree(void* p) {
  if (!p) return cudaSuccess;
  Region r;
  {
    std::lock_guard<std::mutex> lock(g_mem_mu);
    auto it = g_regions.find(reinterpret_cast<uintptr_t>(p));
    if (it == g_regions.end() || it->second.kind != Kind::device)
      return record_error(cudaErrorInvalidDevicePointer,
                          format("cudaFree(%p): not the start of a device allocation", p));
    r = it->second;
    g_regions.erase(it);
  }
  if (r.huge) munmap(p, r.size);
  else std::free(p);
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** p, size_t nbytes) {
  if (!p) return record_error(cudaErrorInvalidValue, "cudaMallocHost: null result pointer");
  *p = nullptr;
  if (nbytes == 0) return cudaSuccess;
  void* mem = nullptr;
  if (posix_memalign(&mem, 4096, nbytes) != 0)
    return record_error(cudaErrorMemoryAllocation, format("cudaMallocHost of %zu bytes failed", nbytes));
  std::lock_guard<std::mutex> lock(g_mem_mu);
  g_regions[reinterpret_cast<uintptr_t>(mem)] = Region{nbytes, Kind::pinned, false};
  *p = mem;
  return cudaSuccess;
}
cudaError_t cudaHostAlloc(void** p, size_t nbytes, unsigned) { return cudaMallocHost(p, nbytes); }
cudaError_t cudaFreeHost(void* p) {
  if (!p) return cudaSuccess;
  {
    std::lock_guard<std::mutex> lock(g_mem_mu);
    auto it = g_regions.find(reinterpret_cast<uintptr_t>(p));
    if (it == g_regions.end() || it->second.kind != Kind::pinned)
      return record_error(cudaErrorInvalidValue, format("cudaFreeHost(%p): not from cudaMallocHost", p));
    g_regions.erase(it);
  }
  std::free(p);
  return cudaSuccess;
}

cudaError_t cudaHostRegister(void* p, size_t nbytes, unsigned) {
  if (!p || nbytes == 0) return record_error(cudaErrorInvalidValue, "cudaHostRegister: null pointer or no bytes");
  std::lock_guard<std::mutex> lock(g_mem_mu);
  if (overlaps(reinterpret_cast<uintptr_t>(p), nbytes))
    return record_error(cudaErrorHostMemoryAlreadyRegistered,
                        format("cudaHostRegister(%p, %zu): overlaps registered or device memory", p, nbytes));
  g_regions[reinterpret_cast<uintptr_t>(p)] = Region{nbytes, Kind::registered, false};
  return cudaSuccess;
}
cudaError_t cudaHostUnregister(void* p) {
  std::lock_guard<std::mutex> lock(g_mem_mu);
  auto it = g_regions.find(reinterpret_cast<uintptr_t>(p));
  if (it == g_regions.end() || it->second.kind != Kind::registered)
    return record_error(cudaErrorHostMemoryNotRegistered, format("cudaHostUnregister(%p): not registered", p));
  g_regions.erase(it);
  return cudaSuccess;
}

cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* attr, const void* p) {
  if (!attr) return record_error(cudaErrorInvalidValue, "cudaPointerGetAttributes: null result");
  std::lock_guard<std::mutex> lock(g_mem_mu);
  const Region* r = find_region(p, 1, nullptr);
  attr->device = 0;
  if (!r) {
    *attr = cudaPointerAttributes{cudaMemoryTypeUnregistered, -2, nullptr, nullptr};
  } else if (r->kind == Kind::device) {
    *attr = cudaPointerAttributes{cudaMemoryTypeDevice, 0, const_cast<void*>(p), nullptr};
  } else {
    *attr = cudaPointerAttributes{cudaMemoryTypeHost, 0, const_cast<void*>(p), const_cast<void*>(p)};
  }
  return cudaSuccess;
}

namespace {
const char* copy_kind_name(cudaMemcpyKind k) {
  switch (k) {
    case cudaMemcpyHostToHost: return "HostToHost";
    case cudaMemcpyHostToDevice: return "HostToDevice";
    case cudaMemcpyDeviceToHost: return "DeviceToHost";
    case cudaMemcpyDeviceToDevice: return "DeviceToDevice";
    default: return "Default";
  }
}
// Checks one side of a copy: `device` says whether it must lie in a device allocation (or must
// not). Empty when fine, else what is wrong.
std::string check_side(const char* what, const void* p, size_t n, bool device) {
  uintptr_t base = 0;
  const Region* whole = find_region(p, n, &base);
  if (device) {
    if (whole && whole->kind == Kind::device) return "";
    const Region* part = nearest_region(p, &base);
    if (part && part->kind == Kind::device)
      return format("%s [%p, +%zu) runs %zu bytes past the end of the device allocation of %zu bytes at %p", what, p,
                    n, reinterpret_cast<uintptr_t>(p) + n - base - part->size, part->size,
                    reinterpret_cast<void*>(base));
    return format("%s %p is not device memory", what, p);
  }
  const Region* part = nearest_region(p, &base);
  if (part && part->kind == Kind::device) return format("%s %p is device memory, the copy's kind says host", what, p);
  if (part && part != whole)
    return format("%s [%p, +%zu) runs past the end of the %s of %zu bytes at %p", what, p, n, kind_name(part->kind),
                  part->size, reinterpret_cast<void*>(base));
  return "";
}
bool is_pinned(const void* p, size_t n) {
  const Region* r = find_region(p, n, nullptr);
  return r && r->kind != Kind::device;
}
// The checks and the copy itself; `sync` says whether the call blocks the host.
cudaError_t copy(const char* api, void* dst, const void* src, size_t n, cudaMemcpyKind kind, bool async) {
  if (n == 0) return cudaSuccess;
  bool host_blocks = !async;
  {
    std::lock_guard<std::mutex> lock(g_mem_mu);
    if (kind == cudaMemcpyDefault) {
      const Region* d = find_region(dst, 1, nullptr);
      const Region* s = find_region(src, 1, nullptr);
      bool dd = d && d->kind == Kind::device, sd = s && s->kind == Kind::device;
      kind = dd ? (sd ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                : (sd ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
    }
    bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDefault)
      return record_error(cudaErrorInvalidMemcpyDirection, format("%s: kind %d", api, int(kind)));
    std::string bad = check_side("destination", dst, n, dst_dev);
    if (bad.empty()) bad = check_side("source", src, n, src_dev);
    if (!bad.empty())
      return record_error(cudaErrorInvalidValue, format("%s(%s, %zu bytes): %s", api, copy_kind_name(kind), n, bad.c_str()));
    // An asynchronous copy between the device and pageable host memory blocks the host: CUDA
    // stages it through a pinned buffer (to the host it is fully synchronous).
    if (async && kind == cudaMemcpyHostToDevice && !is_pinned(src, n)) host_blocks = true;
    if (async && kind == cudaMemcpyDeviceToHost && !is_pinned(dst, n)) host_blocks = true;
  }
  if (host_blocks) ++g_count.host_syncs;
  std::memmove(dst, src, n);
  return cudaSuccess;
}
cudaError_t set(const char* api, void* dst, int value, size_t n, bool async) {
  if (n == 0) return cudaSuccess;
  {
    std::lock_guard<std::mutex> lock(g_mem_mu);
    std::string bad = check_side("destination", dst, n, true);
    if (!bad.empty()) return record_error(cudaErrorInvalidValue, format("%s(%zu bytes): %s", api, n, bad.c_str()));
  }
  if (!async) ++g_count.host_syncs;
  std::memset(dst, value, n);
  return cudaSuccess;
}
}  // namespace

cudaError_t cudaMemcpy(void* dst, const void* src, size_t n, cudaMemcpyKind kind) {
  return copy("cudaMemcpy", dst, src, n, kind, false);
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind kind, cudaStream_t) {
  return copy("cudaMemcpyAsync", dst, src, n, kind, true);
}
cudaError_t cudaMemset(void* dst, int value, size_t n) { return set("cudaMemset", dst, value, n, false); }
cudaError_t cudaMemsetAsync(void* dst, int value, size_t n, cudaStream_t) {
  return set("cudaMemsetAsync", dst, value, n, true);
}

// ================================================================ devices
cudaError_t cudaGetDeviceCount(int* count) {
  if (!count) return record_error(cudaErrorInvalidValue, "cudaGetDeviceCount: null result");
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  if (device != 0) return record_error(cudaErrorInvalidDevice, format("cudaSetDevice(%d): the emulation has device 0 only", device));
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  if (!device) return record_error(cudaErrorInvalidValue, "cudaGetDevice: null result");
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (!prop) return record_error(cudaErrorInvalidValue, "cudaGetDeviceProperties: null result");
  if (device != 0) return record_error(cudaErrorInvalidDevice, format("cudaGetDeviceProperties(%d)", device));
  std::memset(prop, 0, sizeof(*prop));
  std::snprintf(prop->name, sizeof(prop->name), "cudaemu (CPU emulation of the CUDA execution model)");
  size_t free_b = 0, total = 0;
  cudaMemGetInfo(&free_b, &total);
  prop->totalGlobalMem = total;
  prop->sharedMemPerBlock = 48 * 1024;
  prop->regsPerBlock = 65536;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsDim[0] = 1024, prop->maxThreadsDim[1] = 1024, prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 2147483647, prop->maxGridSize[1] = 65535, prop->maxGridSize[2] = 65535;
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = 1;
  prop->maxThreadsPerMultiProcessor = 2048;
  return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  cudaDeviceProp p;
  cudaError_t e = cudaGetDeviceProperties(&p, device);
  if (e != cudaSuccess) return e;
  switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = p.maxThreadsPerBlock; break;
    case cudaDevAttrWarpSize: *value = p.warpSize; break;
    case cudaDevAttrMultiProcessorCount: *value = p.multiProcessorCount; break;
    case cudaDevAttrComputeCapabilityMajor: *value = p.major; break;
    case cudaDevAttrComputeCapabilityMinor: *value = p.minor; break;
    default: return record_error(cudaErrorInvalidValue, format("cudaDeviceGetAttribute(%d)", int(attr)));
  }
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize() {
  ++g_count.host_syncs;
  return cudaSuccess;
}
cudaError_t cudaDeviceReset() { return cudaSuccess; }
cudaError_t cudaRuntimeGetVersion(int* v) {
  if (!v) return record_error(cudaErrorInvalidValue, "cudaRuntimeGetVersion: null result");
  *v = CUDART_VERSION;
  return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int* v) { return cudaRuntimeGetVersion(v); }
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  long pages = sysconf(_SC_PHYS_PAGES), avail = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (free_bytes) *free_bytes = static_cast<size_t>(avail) * static_cast<size_t>(page);
  if (total_bytes) *total_bytes = static_cast<size_t>(pages) * static_cast<size_t>(page);
  return cudaSuccess;
}

// ================================================================ streams and events
// Handles only: every operation has completed when its call returns.
struct CUstream_st {
  unsigned flags;
};
struct CUevent_st {
  unsigned flags;
  bool recorded;
  std::chrono::steady_clock::time_point when;
};
namespace {
std::mutex g_handle_mu;
std::set<const void*> g_streams, g_events;
bool known_stream(cudaStream_t s) {
  if (!s) return true;  // the default stream
  std::lock_guard<std::mutex> lock(g_handle_mu);
  return g_streams.count(s) > 0;
}
CUevent_st* known_event(cudaEvent_t e) {
  std::lock_guard<std::mutex> lock(g_handle_mu);
  return g_events.count(e) ? e : nullptr;
}
template <typename H>
cudaError_t create_handle(H** out, H value, std::set<const void*>& known, const char* api) {
  if (!out) return record_error(cudaErrorInvalidValue, format("%s: null result", api));
  *out = new H(value);
  std::lock_guard<std::mutex> lock(g_handle_mu);
  known.insert(*out);
  return cudaSuccess;
}
template <typename H>
cudaError_t destroy_handle(H* h, std::set<const void*>& known, const char* api) {
  std::lock_guard<std::mutex> lock(g_handle_mu);
  if (!h || !known.erase(h)) return record_error(cudaErrorInvalidResourceHandle, format("%s: unknown handle", api));
  delete h;
  return cudaSuccess;
}
}  // namespace

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags) {
  return create_handle(s, CUstream_st{flags}, g_streams, "cudaStreamCreate");
}
cudaError_t cudaStreamCreate(cudaStream_t* s) { return cudaStreamCreateWithFlags(s, cudaStreamDefault); }
cudaError_t cudaStreamDestroy(cudaStream_t s) { return destroy_handle(s, g_streams, "cudaStreamDestroy"); }
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  if (!known_stream(s)) return record_error(cudaErrorInvalidResourceHandle, "cudaStreamSynchronize: unknown stream");
  ++g_count.host_syncs;
  return cudaSuccess;
}
cudaError_t cudaStreamQuery(cudaStream_t s) {
  if (!known_stream(s)) return record_error(cudaErrorInvalidResourceHandle, "cudaStreamQuery: unknown stream");
  return cudaSuccess;  // everything issued has finished
}
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned) {
  if (!known_stream(s) || !known_event(e))
    return record_error(cudaErrorInvalidResourceHandle, "cudaStreamWaitEvent: unknown stream or event");
  return cudaSuccess;
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned flags) {
  return create_handle(e, CUevent_st{flags, false, {}}, g_events, "cudaEventCreate");
}
cudaError_t cudaEventCreate(cudaEvent_t* e) { return cudaEventCreateWithFlags(e, cudaEventDefault); }
cudaError_t cudaEventDestroy(cudaEvent_t e) { return destroy_handle(e, g_events, "cudaEventDestroy"); }
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  CUevent_st* ev = known_event(e);
  if (!ev || !known_stream(s)) return record_error(cudaErrorInvalidResourceHandle, "cudaEventRecord: unknown event or stream");
  ev->recorded = true;
  ev->when = std::chrono::steady_clock::now();
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  if (!known_event(e)) return record_error(cudaErrorInvalidResourceHandle, "cudaEventSynchronize: unknown event");
  ++g_count.host_syncs;
  return cudaSuccess;
}
cudaError_t cudaEventQuery(cudaEvent_t e) {
  if (!known_event(e)) return record_error(cudaErrorInvalidResourceHandle, "cudaEventQuery: unknown event");
  return cudaSuccess;
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  CUevent_st *a = known_event(start), *b = known_event(end);
  if (!ms || !a || !b || !a->recorded || !b->recorded || (a->flags & cudaEventDisableTiming) ||
      (b->flags & cudaEventDisableTiming))
    return record_error(cudaErrorInvalidResourceHandle, "cudaEventElapsedTime: events not recorded or without timing");
  *ms = std::chrono::duration<float, std::milli>(b->when - a->when).count();
  return cudaSuccess;
}

// ================================================================ the scheduler
namespace cudaemu {
namespace {

// splitmix64: a small, fast generator. Orders are seeded from (seed, kernel name, block), never
// from what ran before, so a failure under random:SEED repeats when the test runs alone.
struct Rng {
  uint64_t s = 0;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  template <typename T>
  void shuffle(std::vector<T>& v) {  // Fisher-Yates
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[next() % i]);
  }
};
uint64_t hash_name(const char* s) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (; *s; ++s) h = (h ^ static_cast<unsigned char>(*s)) * 1099511628211ull;
  return h;
}

enum class St : uint8_t { ready, barrier, warp, done };

struct Thread {
  uint3 idx;
  int lin = 0;  // linear index in the block; warp = lin / 32, lane = lin % 32
  St st = St::ready;
  bool started = false;
  const char* file = nullptr;  // where it waits
  int line = 0;
  // barrier
  int op = 0, pred = 0, result = 0;
  unsigned gen = 0;  // barrier or warp generation it waits in (TSan sync object parity)
  // warp collective
  int kind = 0, arg = 0, width = 32;
  unsigned mask = 0;
  uint64_t value = 0, wresult = 0;
  fiber::Context ctx;
  fiber::Stack stack;
#ifdef CUDAEMU_TSAN
  void* tsan_fiber = nullptr;
#endif
#ifdef CUDAEMU_ASAN
  void* fake_stack = nullptr;
#endif
};

// Everything about the grid running on this host thread.
struct Exec {
  const detail::LaunchSpec* spec = nullptr;
  void (*body)(void*) = nullptr;
  void* ctx = nullptr;
  std::vector<Thread> threads;  // the block's; their stacks persist across blocks and launches
  int nthreads = 0, alive = 0, at_barrier = 0;
  Thread* cur = nullptr;
  fiber::Context sched;
  bool aborted = false, stacks_dirty = false;
  uint64_t block_serial = 0;  // increases at every block start (poisoning of static shared memory)
  unsigned barrier_gen = 0;
  unsigned warp_gen[32] = {};
  std::vector<int> warp_waiting;  // waiting lanes per warp
  char* dyn_shared = nullptr;
  size_t dyn_shared_cap = 0;
  Rng rng;
  std::vector<int> order;
  std::set<std::string> warned;
  std::string fail_msg;  // see fail_in_thread
#ifdef CUDAEMU_TSAN
  void* tsan_sched = nullptr;
  char sync_start = 0, sync_end = 0, sync_barrier[2] = {}, sync_warp[32][2] = {};
#endif
#ifdef CUDAEMU_ASAN
  void* sched_fake = nullptr;
  const void* main_bottom = nullptr;
  size_t main_size = 0;
#endif
};
thread_local Exec* t_exec = nullptr;

Exec& exec() {
  if (!t_exec) t_exec = new Exec();  // per host thread, kept: the stacks are reused
  return *t_exec;
}

std::string dim_str(uint3 v) { return format("(%u,%u,%u)", v.x, v.y, v.z); }
std::string where(const Exec& ex) {
  const detail::LaunchSpec& s = *ex.spec;
  return format("kernel %s launched at %s:%d, grid %s block %s", s.kernel, short_path(s.file).c_str(), s.line,
                dim_str(uint3{s.grid.x, s.grid.y, s.grid.z}).c_str(),
                dim_str(uint3{s.block.x, s.block.y, s.block.z}).c_str());
}
std::string who(const Exec& ex, const Thread& t) {
  return format("%s: block %s thread %s", where(ex).c_str(), dim_str(blockIdx).c_str(), dim_str(t.idx).c_str());
}

// ---------------------------------------------------------------- switching
void switch_to_scheduler(Exec& ex, Thread& t, bool exiting) {
#ifdef CUDAEMU_TSAN
  __tsan_switch_to_fiber(ex.tsan_sched, __tsan_switch_to_fiber_no_sync);
#endif
#ifdef CUDAEMU_ASAN
  __sanitizer_start_switch_fiber(exiting ? nullptr : &t.fake_stack, ex.main_bottom, ex.main_size);
#else
  (void)exiting;
#endif
  fiber::swap(&t.ctx, &ex.sched);
#ifdef CUDAEMU_ASAN
  __sanitizer_finish_switch_fiber(t.fake_stack, &ex.main_bottom, &ex.main_size);
#endif
}

void resume(Exec& ex, Thread& t) {
  threadIdx = t.idx;
  ex.cur = &t;
#ifdef CUDAEMU_TSAN
  __tsan_switch_to_fiber(t.tsan_fiber, __tsan_switch_to_fiber_no_sync);
#endif
#ifdef CUDAEMU_ASAN
  __sanitizer_start_switch_fiber(&ex.sched_fake, t.stack.lo, t.stack.size);
#endif
  fiber::swap(&ex.sched, &t.ctx);
#ifdef CUDAEMU_ASAN
  __sanitizer_finish_switch_fiber(ex.sched_fake, nullptr, nullptr);
#endif
  ex.cur = nullptr;
}

// A CUDA thread that cannot go on: the error (message in ex.fail_msg) is recorded, the grid
// abandoned, and this fiber never resumed (its stack is reset before reuse). Nothing on the
// fiber's stack is destroyed, so callers build the message into ex.fail_msg in a statement of its
// own: no std::string temporary may be alive in their frame when they call this (it would leak).
[[noreturn]] void fail_in_thread(Exec& ex, cudaError_t code) {
  record_error(code, ex.fail_msg);
  ex.fail_msg.clear();
  ex.fail_msg.shrink_to_fit();
  ex.aborted = true;
  Thread& t = *ex.cur;
  t.st = St::done;
#ifdef CUDAEMU_TSAN
  __tsan_release(&ex.sync_end);  // this thread ends here: what it wrote is before what follows
#endif
  switch_to_scheduler(ex, t, true);
  std::abort();  // not reached
}

void fiber_main(void* arg) {
  Exec& ex = *static_cast<Exec*>(arg);
#ifdef CUDAEMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &ex.main_bottom, &ex.main_size);
#endif
#ifdef CUDAEMU_TSAN
  __tsan_acquire(&ex.sync_start);
#endif
  Thread& t = *ex.cur;
  bool threw = false;
  try {
    ex.body(ex.ctx);
  } catch (const std::exception& e) {
    threw = true;
    ex.fail_msg = format("%s: exception in device code: %s", who(ex, t).c_str(), e.what());
  } catch (...) {
    threw = true;
    ex.fail_msg = format("%s: exception in device code", who(ex, t).c_str());
  }
  if (threw) fail_in_thread(ex, cudaErrorLaunchFailure);  // the exception is gone by now
#ifdef CUDAEMU_TSAN
  __tsan_release(&ex.sync_end);
#endif
  Thread& me = *ex.cur;
  me.st = St::done;
  --ex.alive;
  switch_to_scheduler(ex, me, true);
  std::abort();  // a finished fiber is never resumed
}

// Warns (an error under CUDAEMU_STRICT) once per message key.
void warn_or_fail(Exec& ex, const std::string& key, const std::string& msg, bool in_thread) {
  if (settings().strict) {
    if (in_thread) {
      ex.fail_msg = msg + " (CUDAEMU_STRICT)";
      fail_in_thread(ex, cudaErrorLaunchFailure);  // (callers pass in_thread only without temporaries)
    }
    record_error(cudaErrorLaunchFailure, msg + " (CUDAEMU_STRICT)");
    ex.aborted = true;
    return;
  }
  if (ex.warned.insert(key).second) print_warning(msg);
  else ++g_count.warnings;
}

// ---------------------------------------------------------------- resolving barriers and collectives
std::string thread_list(const std::vector<int>& lins, const Exec& ex) {
  std::string s;
  for (size_t i = 0; i < lins.size() && i < 4; ++i) s += (i ? ", " : "") + dim_str(ex.threads[lins[i]].idx);
  if (lins.size() > 4) s += format(" and %zu more", lins.size() - 4);
  return s;
}

// Releases __syncthreads when every live thread waits there. false: nothing released.
bool resolve_barrier(Exec& ex) {
  if (ex.at_barrier == 0 || ex.at_barrier != ex.alive) return false;
  const Thread* first = nullptr;
  for (Thread& t : ex.threads) {
    if (t.st != St::barrier) continue;
    if (!first) {
      first = &t;
    } else if (t.line != first->line || std::strcmp(t.file, first->file) != 0 || t.op != first->op) {
      std::vector<int> a, b;
      for (Thread& u : ex.threads)
        if (u.st == St::barrier) (u.line == first->line && !std::strcmp(u.file, first->file) ? a : b).push_back(u.lin);
      record_error(cudaErrorLaunchFailure,
                   format("%s: block %s: divergent __syncthreads: threads %s wait at %s:%d, threads %s at %s:%d",
                          where(ex).c_str(), dim_str(blockIdx).c_str(), thread_list(a, ex).c_str(),
                          short_path(first->file).c_str(), first->line, thread_list(b, ex).c_str(),
                          short_path(t.file).c_str(), t.line));
      ex.aborted = true;
      return false;
    }
  }
  if (ex.alive < ex.nthreads)
    warn_or_fail(ex, format("exit-barrier %s:%d", first->file, first->line),
                 format("%s: block %s: %d of %d threads exited while the others wait at __syncthreads %s:%d "
                        "(undefined in CUDA; they count as arrived)",
                        where(ex).c_str(), dim_str(blockIdx).c_str(), ex.nthreads - ex.alive, ex.nthreads,
                        short_path(first->file).c_str(), first->line),
                 false);
  if (ex.aborted) return false;
  int count = 0;
  for (Thread& t : ex.threads)
    if (t.st == St::barrier) count += t.pred;
  int result = first->op == 1 ? count : (first->op == 2 ? count == ex.at_barrier : (first->op == 3 ? count > 0 : 0));
  for (Thread& t : ex.threads)
    if (t.st == St::barrier) {
      t.st = St::ready;
      t.result = result;
    }
  ex.at_barrier = 0;
  ++ex.barrier_gen;
  return true;
}

const char* warp_kind_name(int k) {
  static const char* names[] = {"__shfl_sync", "__shfl_up_sync", "__shfl_down_sync", "__shfl_xor_sync",
                                "__ballot_sync", "__all_sync", "__any_sync", "__syncwarp"};
  return k >= 0 && k < 8 ? names[k] : "?";
}

// The lane a shuffle reads (CUDA's rules: segments of `width` lanes; a source outside the
// segment gives the lane its own value).
int shuffle_source(int kind, int lane, int arg, int width) {
  int base = lane & ~(width - 1);
  int src = lane;
  switch (kind) {
    case detail::kShflIdx: src = base + (arg & (width - 1)); break;
    case detail::kShflUp: src = lane - arg; if (src < base) src = lane; break;
    case detail::kShflDown: src = lane + arg; if (src >= base + width) src = lane; break;
    case detail::kShflXor: src = lane ^ arg; if (src < base || src >= base + width) src = lane; break;
  }
  return src;
}

// Completes the collectives of warp w whose every named, live lane has arrived with the same
// mask. false: none completed.
bool resolve_warp(Exec& ex, int w) {
  const int base = w * 32, count = std::min(32, ex.nthreads - base);
  bool any = false;
  for (int l = 0; l < count; ++l) {
    Thread& lead = ex.threads[base + l];
    if (lead.st != St::warp) continue;
    const unsigned m = lead.mask;
    bool complete = true;
    for (int j = 0; j < 32 && complete; ++j) {
      if (!(m >> j & 1u) || j >= count) continue;
      const Thread& o = ex.threads[base + j];
      if (o.st == St::done) continue;
      if (o.st != St::warp || o.mask != m) complete = false;
    }
    if (!complete) continue;
    // Every participant: the same intrinsic?
    for (int j = 0; j < count; ++j) {
      const Thread& o = ex.threads[base + j];
      if (!(m >> j & 1u) || o.st != St::warp) continue;
      if (o.kind != lead.kind) {
        record_error(cudaErrorLaunchFailure,
                     format("%s: block %s warp %d: lanes of mask 0x%08x meet at different intrinsics: lane %d at %s "
                            "%s:%d, lane %d at %s %s:%d",
                            where(ex).c_str(), dim_str(blockIdx).c_str(), w, m, l, warp_kind_name(lead.kind),
                            short_path(lead.file).c_str(), lead.line, j, warp_kind_name(o.kind),
                            short_path(o.file).c_str(), o.line));
        ex.aborted = true;
        return false;
      }
    }
    uint32_t ballot = 0;
    int members = 0, yes = 0;
    for (int j = 0; j < count; ++j) {
      const Thread& o = ex.threads[base + j];
      if ((m >> j & 1u) && o.st == St::warp) {
        ++members;
        if (o.value) {
          ++yes;
          ballot |= 1u << j;
        }
      }
    }
    uint64_t poison_value;
    std::memset(&poison_value, settings().poison, sizeof(poison_value));
    for (int j = 0; j < count; ++j) {
      Thread& o = ex.threads[base + j];
      if (!(m >> j & 1u) || o.st != St::warp) continue;
      switch (o.kind) {
        case detail::kBallot: o.wresult = ballot; break;
        case detail::kAll: o.wresult = yes == members; break;
        case detail::kAny: o.wresult = yes > 0; break;
        case detail::kSyncWarp: o.wresult = 0; break;
        default: {
          int src = shuffle_source(o.kind, j, o.arg, o.width);
          const Thread* s = src < count ? &ex.threads[base + src] : nullptr;
          if (src == j) {
            o.wresult = o.value;
          } else if (s && (m >> src & 1u) && s->st == St::warp) {
            o.wresult = s->value;
          } else {
            o.wresult = poison_value;
            warn_or_fail(ex, format("shfl %s:%d", o.file, o.line),
                         format("%s: block %s thread %s: %s at %s:%d reads lane %d, which %s; it gets the poison value",
                                where(ex).c_str(), dim_str(blockIdx).c_str(), dim_str(o.idx).c_str(),
                                warp_kind_name(o.kind), short_path(o.file).c_str(), o.line, src,
                                !s ? "does not exist" : (s->st == St::done ? "has exited" : "is not in the mask")),
                         false);
            if (ex.aborted) return false;
          }
        }
      }
    }
    for (int j = 0; j < count; ++j) {
      Thread& o = ex.threads[base + j];
      if ((m >> j & 1u) && o.st == St::warp) {
        o.st = St::ready;
        --ex.warp_waiting[w];
      }
    }
    ++ex.warp_gen[w & 31];
    any = true;
  }
  return any;
}

void report_deadlock(Exec& ex) {
  // Group the waiting threads by what and where they wait.
  std::map<std::string, std::vector<int>> sites;
  std::string masks;
  for (Thread& t : ex.threads) {
    if (t.st == St::done) continue;
    std::string key = t.st == St::barrier ? format("__syncthreads at %s:%d", short_path(t.file).c_str(), t.line)
                                          : format("%s(mask 0x%08x) at %s:%d", warp_kind_name(t.kind), t.mask,
                                                   short_path(t.file).c_str(), t.line);
    sites[key].push_back(t.lin);
  }
  // Lanes of one warp waiting at collectives with different masks that name each other.
  for (int w = 0; w * 32 < ex.nthreads && masks.empty(); ++w) {
    const int base = w * 32, count = std::min(32, ex.nthreads - base);
    for (int a = 0; a < count && masks.empty(); ++a)
      for (int b = 0; b < count && masks.empty(); ++b) {
        const Thread &x = ex.threads[base + a], &y = ex.threads[base + b];
        if (x.st == St::warp && y.st == St::warp && x.mask != y.mask && (x.mask >> b & 1u))
          masks = format("; mask disagreement in warp %d: lane %d waits with mask 0x%08x at %s:%d, lane %d with mask "
                         "0x%08x at %s:%d",
                         w, a, x.mask, short_path(x.file).c_str(), x.line, b, y.mask, short_path(y.file).c_str(),
                         y.line);
      }
  }
  std::string list;
  for (auto& [site, lins] : sites)
    list += format("%s%zu thread%s at %s (%s)", list.empty() ? "" : "; ", lins.size(), lins.size() == 1 ? "" : "s",
                   site.c_str(), thread_list(lins, ex).c_str());
  record_error(cudaErrorLaunchFailure, format("%s: block %s: deadlock: no thread can proceed: %s%s", where(ex).c_str(),
                                              dim_str(blockIdx).c_str(), list.c_str(), masks.c_str()));
  ex.aborted = true;
}

void make_order(Exec& ex, Order o) {
  const int n = ex.nthreads;
  ex.order.resize(n);
  for (int i = 0; i < n; ++i) ex.order[i] = o == Order::reverse ? n - 1 - i : i;
  if (o == Order::random) ex.rng.shuffle(ex.order);
}

void run_block_threads(Exec& ex);
// One block; the threads' ends come before what follows (the next block, the host), also when
// the block was abandoned.
void run_block(Exec& ex) {
  run_block_threads(ex);
#ifdef CUDAEMU_TSAN
  __tsan_acquire(&ex.sync_end);
#endif
}
void run_block_threads(Exec& ex) {
  const uint3 bd = blockDim;
  for (int i = 0; i < ex.nthreads; ++i) {
    Thread& t = ex.threads[i];
    t.lin = i;
    t.idx = uint3{i % bd.x, (i / bd.x) % bd.y, i / (bd.x * bd.y)};
    t.st = St::ready;
    t.started = false;
    fiber::prepare(&t.ctx, t.stack, fiber_main, &ex);
  }
  ex.alive = ex.nthreads;
  ex.at_barrier = 0;
  std::fill(ex.warp_waiting.begin(), ex.warp_waiting.end(), 0);
  ++ex.block_serial;
  if (ex.spec->shared_bytes) detail::poison_bytes(ex.dyn_shared, ex.spec->shared_bytes);
#ifdef CUDAEMU_TSAN
  __tsan_release(&ex.sync_start);
#endif
  const Order order = settings().schedule.order;
  const uint64_t b = blockIdx.x + uint64_t(gridDim.x) * (blockIdx.y + uint64_t(gridDim.y) * blockIdx.z);
  ex.rng.s = settings().schedule.seed * 0xD1B54A32D192ED03ull ^ hash_name(ex.spec->kernel) ^ (b * 0x9E3779B97F4A7C15ull);
  make_order(ex, order);
  bool first_pass = true;
  while (ex.alive > 0) {
    int ran = 0;
    if (order == Order::random && !first_pass) make_order(ex, order);  // a new permutation each pass
    first_pass = false;
    for (int i : ex.order) {
      Thread& t = ex.threads[i];
      if (t.st != St::ready) continue;
      resume(ex, t);
      ++ran;
      if (ex.aborted) return;
    }
    bool released = resolve_barrier(ex);
    if (ex.aborted) return;
    for (size_t w = 0; w < ex.warp_waiting.size(); ++w)
      if (ex.warp_waiting[w] > 0) {
        released = resolve_warp(ex, static_cast<int>(w)) || released;
        if (ex.aborted) return;
      }
    if (ex.alive > 0 && ran == 0 && !released) {
      report_deadlock(ex);
      return;
    }
  }
}

}  // namespace

// ================================================================ launch
namespace detail {

bool check_config(const LaunchSpec& s) {
  const dim3 g = s.grid, b = s.block;
  const uint64_t threads = uint64_t(b.x) * b.y * b.z;
  std::string bad;
  if (b.x == 0 || b.y == 0 || b.z == 0 || g.x == 0 || g.y == 0 || g.z == 0)
    bad = "an empty grid or block";
  else if (b.x > 1024 || b.y > 1024 || b.z > 64)
    bad = "block dimensions over 1024 x 1024 x 64";
  else if (threads > 1024)
    bad = format("%" PRIu64 " threads per block, over 1024", threads);
  else if (g.x > 2147483647u || g.y > 65535 || g.z > 65535)
    bad = "grid dimensions over 2^31-1 x 65535 x 65535";
  else if (s.shared_bytes > 48 * 1024)
    bad = format("%zu bytes of dynamic shared memory, over 48 KiB", s.shared_bytes);
  if (bad.empty()) {
    if (t_exec && t_exec->spec) bad = "a launch from device code (dynamic parallelism is not emulated)";
    else return true;
  }
  record_error(cudaErrorInvalidConfiguration,
               format("kernel %s launched at %s:%d with grid (%u,%u,%u) block (%u,%u,%u) shared %zu: %s", s.kernel,
                      short_path(s.file).c_str(), s.line, g.x, g.y, g.z, b.x, b.y, b.z, s.shared_bytes, bad.c_str()));
  return false;
}

bool check_pointer(const LaunchSpec& s, int index, const void* p, const char* type) {
  if (!p) return true;
  {
    std::lock_guard<std::mutex> lock(g_mem_mu);
    if (find_region(p, 0, nullptr)) return true;
  }
  (void)type;
  record_error(cudaErrorIllegalAddress,
               format("kernel %s launched at %s:%d: argument %d is %p, which is neither null nor inside a device "
                      "allocation or registered host memory (a host pointer passed to a kernel?)",
                      s.kernel, short_path(s.file).c_str(), s.line, index, p));
  return false;
}

void run_grid(const LaunchSpec& spec, void (*body)(void*), void* ctx) {
  Exec& ex = exec();
  const int n = static_cast<int>(spec.block.x * spec.block.y * spec.block.z);
  // Stacks: one per thread of the largest block so far, kept.
  if (ex.stacks_dirty) {
#ifdef CUDAEMU_ASAN
    for (Thread& t : ex.threads) __asan_unpoison_memory_region(t.stack.lo, t.stack.size);
#endif
    ex.stacks_dirty = false;
  }
  while (static_cast<int>(ex.threads.size()) < n) {
    ex.threads.emplace_back();
    Thread& t = ex.threads.back();
    t.stack = fiber::make_stack(settings().stack_bytes);
#ifdef CUDAEMU_TSAN
    t.tsan_fiber = __tsan_create_fiber(0);
#endif
  }
#ifdef CUDAEMU_TSAN
  ex.tsan_sched = __tsan_get_current_fiber();
#endif
  // Threads beyond n keep their stacks but are not part of this block.
  std::vector<Thread> spare;
  if (static_cast<int>(ex.threads.size()) > n) {
    spare.assign(std::make_move_iterator(ex.threads.begin() + n), std::make_move_iterator(ex.threads.end()));
    ex.threads.resize(n);
  }
  if (spec.shared_bytes > ex.dyn_shared_cap) {
    std::free(ex.dyn_shared);
    void* p = nullptr;
    if (posix_memalign(&p, 256, spec.shared_bytes) != 0) std::abort();
    ex.dyn_shared = static_cast<char*>(p);
    ex.dyn_shared_cap = spec.shared_bytes;
  }
  ex.spec = &spec;
  ex.body = body;
  ex.ctx = ctx;
  ex.nthreads = n;
  ex.aborted = false;
  ex.warp_waiting.assign((n + 31) / 32, 0);
  gridDim = uint3{spec.grid.x, spec.grid.y, spec.grid.z};
  blockDim = uint3{spec.block.x, spec.block.y, spec.block.z};
  const OrderSetting border = settings().block_order;
  ++g_count.launches;

  const int64_t total = int64_t(spec.grid.x) * spec.grid.y * spec.grid.z;
  const int64_t first = std::max<int64_t>(0, t_window_first), last = std::min<int64_t>(total, t_window_last);
  std::vector<int64_t> perm;
  if (border.order == Order::random && last > first) {
    perm.resize(static_cast<size_t>(last - first));
    for (int64_t i = 0; i < last - first; ++i) perm[i] = first + i;
    Rng brng{border.seed * 0xD1B54A32D192ED03ull ^ hash_name(spec.kernel)};
    brng.shuffle(perm);
  }
  int64_t blocks_run = 0;
  for (int64_t k = 0; k < last - first && !ex.aborted; ++k) {
    int64_t b = border.order == Order::forward ? first + k
                : border.order == Order::reverse ? last - 1 - k
                                                 : perm[static_cast<size_t>(k)];
    blockIdx = uint3{static_cast<unsigned>(b % spec.grid.x), static_cast<unsigned>((b / spec.grid.x) % spec.grid.y),
                     static_cast<unsigned>(b / (int64_t(spec.grid.x) * spec.grid.y))};
    run_block(ex);
    ++blocks_run;
  }
  g_count.blocks += blocks_run;
  g_count.threads += blocks_run * n;
  static const bool reporting = std::getenv("CUDAEMU_REPORT") != nullptr;
  if (reporting) {
    std::lock_guard<std::mutex> lock(g_report_mu);
    if (!g_report) {
      g_report = new std::map<const void*, KernelRecord>();
      std::atexit(write_report);
    }
    KernelRecord& r = (*g_report)[spec.kernel_addr];
    if (r.launches == 0) {
      r.name = spec.kernel;
      r.site = format("%s:%d", short_path(spec.file).c_str(), spec.line);
      Dl_info info;
      if (dladdr(spec.kernel_addr, &info) && info.dli_fbase)
        r.offset = reinterpret_cast<uintptr_t>(spec.kernel_addr) - reinterpret_cast<uintptr_t>(info.dli_fbase);
    }
    ++r.launches;
    r.blocks += blocks_run;
    r.threads += blocks_run * n;
  }
  if (ex.aborted) ex.stacks_dirty = true;
  for (Thread& t : spare) ex.threads.push_back(std::move(t));
  ex.spec = nullptr;
  ex.cur = nullptr;
}

// ---------------------------------------------------------------- device-side calls
namespace {
Exec& in_kernel(const char* what, const char* file, int line) {
  if (!t_exec || !t_exec->cur) {
    std::fprintf(stderr, "[cudaemu] fatal: %s called outside a kernel at %s:%d\n", what, file, line);
    std::abort();
  }
  return *t_exec;
}
}  // namespace

int barrier(int op, int pred, const char* file, int line) {
  Exec& ex = in_kernel("__syncthreads", file, line);
  Thread& t = *ex.cur;
  t.st = St::barrier;
  t.file = file;
  t.line = line;
  t.op = op;
  t.pred = pred;
  t.gen = ex.barrier_gen;
  ++ex.at_barrier;
#ifdef CUDAEMU_TSAN
  __tsan_release(&ex.sync_barrier[t.gen & 1]);
#endif
  switch_to_scheduler(ex, t, false);
  Thread& me = *ex.cur;
  threadIdx = me.idx;
#ifdef CUDAEMU_TSAN
  __tsan_acquire(&ex.sync_barrier[me.gen & 1]);
#endif
  return me.result;
}

uint64_t warp_collective(int kind, unsigned mask, uint64_t value, int arg, int width, const char* file, int line) {
  Exec& ex = in_kernel(warp_kind_name(kind), file, line);
  Thread& t = *ex.cur;
  const int lane = t.lin & 31, w = t.lin >> 5;
  if (!(mask >> lane & 1u))
    ex.fail_msg = format("%s: %s at %s:%d with mask 0x%08x, which does not name the calling lane %d", who(ex, t).c_str(),
                         warp_kind_name(kind), short_path(file).c_str(), line, mask, lane);
  else if (width < 1 || width > 32 || (width & (width - 1)))
    ex.fail_msg = format("%s: %s at %s:%d with width %d: not a power of 2 in [1, 32]", who(ex, t).c_str(),
                         warp_kind_name(kind), short_path(file).c_str(), line, width);
  if (!ex.fail_msg.empty()) fail_in_thread(ex, cudaErrorLaunchFailure);
  t.st = St::warp;
  t.kind = kind;
  t.mask = mask;
  t.value = value;
  t.arg = arg;
  t.width = width;
  t.file = file;
  t.line = line;
  t.gen = ex.warp_gen[w & 31];
  ++ex.warp_waiting[w];
#ifdef CUDAEMU_TSAN
  __tsan_release(&ex.sync_warp[w & 31][t.gen & 1]);
#endif
  switch_to_scheduler(ex, t, false);
  Thread& me = *ex.cur;
  threadIdx = me.idx;
#ifdef CUDAEMU_TSAN
  __tsan_acquire(&ex.sync_warp[w & 31][me.gen & 1]);
#endif
  return me.wresult;
}

unsigned activemask() {
  Exec& ex = in_kernel("__activemask", "?", 0);
  const int base = ex.cur->lin & ~31, count = std::min(32, ex.nthreads - base);
  unsigned m = 0;
  for (int j = 0; j < count; ++j)
    if (ex.threads[base + j].st != St::done) m |= 1u << j;
  return m;
}

bool first_at_site(uint64_t* site) {
  Exec& ex = in_kernel("CUDAEMU_SHARED", "?", 0);
  if (*site == ex.block_serial) return false;
  *site = ex.block_serial;
  return true;
}

#if defined(CUDAEMU_TSAN)
__attribute__((no_sanitize("thread")))
#endif
void poison_bytes(void* p, size_t n) {
  // Byte stores through volatile: not turned into a memset call, which TSan would intercept.
  volatile unsigned char* b = static_cast<volatile unsigned char*>(p);
  const unsigned char v = settings().poison;
  for (size_t i = 0; i < n; ++i) b[i] = v;
}

void* dynamic_shared(const char* file, int line) {
  Exec& ex = in_kernel("extern __shared__", file, line);
  if (ex.spec->shared_bytes == 0) {
    ex.fail_msg = format("%s: dynamic shared memory used at %s:%d, but the launch asked for 0 bytes",
                         who(ex, *ex.cur).c_str(), short_path(file).c_str(), line);
    fail_in_thread(ex, cudaErrorLaunchFailure);
  }
  return ex.dyn_shared;
}

}  // namespace detail
}  // namespace cudaemu
