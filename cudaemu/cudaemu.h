// cudaemu/cudaemu.h — the CPU emulation of the CUDA execution model: the launch, the settings and
// statistics, and everything device code calls (barriers, warp collectives, atomics, intrinsics).
//
// How a launch runs (the implementation is cudaemu/runtime.cpp):
//   FF_LAUNCH(k, grid, block, shared)(args...)  ->  cudaemu::launch("k", file, line, k, grid, block,
//   shared, stream)(args...). The call converts the arguments to k's parameter types (as a real
//   launch does), checks the configuration (block at most 1024 threads and 1024 x 1024 x 64,
//   grid at most 2^31-1 x 65535 x 65535, nothing empty: else cudaErrorInvalidConfiguration) and
//   every pointer argument (null, or inside an emulated device allocation, or inside registered
//   or pinned host memory: else cudaErrorIllegalAddress), then runs the grid before returning.
//   Blocks run one after another on the calling thread, in CUDAEMU_BLOCK_ORDER. The threads of a
//   block are fibers (cudaemu/fiber.h): each runs until it reaches a synchronisation point
//   (__syncthreads, a warp collective) or returns; the scheduler resumes the ready threads in
//   passes, in CUDAEMU_SCHEDULE order, and releases a barrier or a collective when everyone it
//   waits for has arrived. Nothing runs in parallel, so results are deterministic for a setting.
// What it reports (CUDA-style, through cudaGetLastError / cudaGetErrorString, and on stderr):
//   threads of a block waiting at different __syncthreads (divergent barrier), a deadlock (no
//   thread can move: the sites are named), a lane outside its own mask, lanes of a collective
//   disagreeing on the mask or on the intrinsic; warnings (errors under CUDAEMU_STRICT=1) for a
//   thread that exits while others wait at a barrier and for a shuffle reading an exited lane
//   (which yields the poison value).
// Settings (environment, read once, or the setters below):
//   CUDAEMU_SCHEDULE=forward|reverse|random:SEED  order of the threads of a block in each pass
//   CUDAEMU_BLOCK_ORDER=forward|reverse|random:SEED  order of the blocks of a grid
//   CUDAEMU_POISON=0xFF  byte that fills fresh device memory and shared memory at each block start
//   CUDAEMU_STRICT=1     warnings are errors
//   CUDAEMU_STACK_KB     fiber stack size (default 256, 1024 under AddressSanitizer)
//   CUDAEMU_REPORT=FILE  at exit, one line per kernel run: launches, blocks, threads, the name
//                        written at the launch, its first launch site, and the kernel's address
//                        as an offset in the executable (nm or addr2line give its symbol)
#pragma once
#include <atomic>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>

#include "cuda_runtime.h"

namespace cudaemu {

// ---------------------------------------------------------------- statistics and settings
struct Stats {
  int64_t launches;    // kernels run (rejected launches do not count)
  int64_t blocks;      // blocks run
  int64_t threads;     // CUDA threads run
  int64_t host_syncs;  // host-blocking calls: stream/device/event synchronise, cudaMemcpy,
                       // cudaMemset, cudaMemcpyAsync to or from pageable host memory
  int64_t warnings;    // warnings printed (see above)
};
Stats stats();
void reset_stats();

enum class Order { forward, reverse, random };
struct OrderSetting {
  Order order = Order::forward;
  uint64_t seed = 0;  // for random
};
// "forward", "reverse" or "random:SEED"; false (and *out unchanged) for anything else.
bool parse_order(const char* text, OrderSetting* out);
void set_schedule(OrderSetting s);
OrderSetting schedule();
void set_block_order(OrderSetting s);
OrderSetting block_order();
void set_poison(unsigned char byte);
unsigned char poison();
void set_strict(bool on);
bool strict();

// Runs only the blocks with linear index (x + y*gx + z*gx*gy) in [first, last) of the launches
// made while it lives, so a test can check the last blocks of a huge grid without the others.
// Nests: the previous window comes back at scope exit.
class BlockWindow {
 public:
  BlockWindow(int64_t first, int64_t last);
  ~BlockWindow();
  BlockWindow(const BlockWindow&) = delete;
  BlockWindow& operator=(const BlockWindow&) = delete;

 private:
  int64_t saved_first_, saved_last_;
};

// Allocations of at least this size come from mmap(MAP_NORESERVE) and are not poisoned: poisoning
// would touch (and commit) every page, while a >2^31-element test only touches a few.
constexpr size_t kHugeAllocation = size_t(1) << 30;

namespace detail {
struct LaunchSpec {
  const char* kernel;
  const char* file;
  int line;
  dim3 grid, block;
  size_t shared_bytes;
  cudaStream_t stream;
  const void* kernel_addr;  // identifies the kernel in the CUDAEMU_REPORT table
};
bool check_config(const LaunchSpec& spec);                                     // false: error recorded
bool check_pointer(const LaunchSpec& spec, int index, const void* p, const char* type);  // likewise
void run_grid(const LaunchSpec& spec, void (*body)(void*), void* ctx);

// Device-side entry points: called by a running CUDA thread (a fiber).
int barrier(int op, int pred, const char* file, int line);  // op: 0 plain, 1 count, 2 and, 3 or
enum WarpKind { kShflIdx, kShflUp, kShflDown, kShflXor, kBallot, kAll, kAny, kSyncWarp };
uint64_t warp_collective(int kind, unsigned mask, uint64_t value, int arg, int width, const char* file, int line);
unsigned activemask();
bool first_at_site(uint64_t* site);         // true for the first thread of this block to reach it
void poison_bytes(void* p, size_t n);       // fills with the poison byte, invisible to TSan
void* dynamic_shared(const char* file, int line);  // this launch's dynamic shared memory

template <typename... T>
inline void poison_shared(uint64_t* site, T&... vars) {
  if (first_at_site(site)) (poison_bytes(&vars, sizeof(vars)), ...);
}

template <int Kind, typename T>
inline T shfl(const char* file, int line, unsigned mask, T v, int arg, int width = warpSize) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "cudaemu: shuffle of a type over 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  uint64_t r = warp_collective(Kind, mask, bits, arg, width, file, line);
  T out;
  std::memcpy(&out, &r, sizeof(T));
  return out;
}
}  // namespace detail

// ---------------------------------------------------------------- the launch
template <typename... P>
class Launch {
 public:
  Launch(detail::LaunchSpec spec, void (*kernel)(P...)) : spec_(spec), kernel_(kernel) {}

  template <typename... A>
  void operator()(A&&... args) const {
    static_assert(sizeof...(A) == sizeof...(P), "cudaemu: kernel launched with the wrong number of arguments");
    std::tuple<P...> params(std::forward<A>(args)...);  // converted to the parameter types, as a launch does
    if (!detail::check_config(spec_)) return;
    bool ok = true;
    int index = 0;
    std::apply([&](const auto&... p) { ((ok = ok && check_arg(index++, p)), ...); }, params);
    if (!ok) return;
    struct Ctx {
      void (*kernel)(P...);
      std::tuple<P...>* params;
    } ctx{kernel_, &params};
    detail::run_grid(spec_, [](void* c) {
      Ctx* x = static_cast<Ctx*>(c);
      std::apply(x->kernel, *x->params);  // each thread gets its own copies of the arguments
    }, &ctx);
  }

 private:
  template <typename T>
  bool check_arg(int index, const T& v) const {
    if constexpr (std::is_pointer<T>::value)
      return detail::check_pointer(spec_, index, static_cast<const void*>(v), __PRETTY_FUNCTION__);
    else
      return true;
  }
  detail::LaunchSpec spec_;
  void (*kernel_)(P...);
};

template <typename... P>
Launch<P...> launch(const char* kernel_name, const char* file, int line, void (*kernel)(P...), dim3 grid, dim3 block,
                    size_t shared_bytes, cudaStream_t stream) {
  return Launch<P...>(detail::LaunchSpec{kernel_name, file, line, grid, block, shared_bytes, stream,
                                         reinterpret_cast<const void*>(kernel)},
                      kernel);
}

}  // namespace cudaemu

// ---------------------------------------------------------------- shared memory
// Static: `__shared__ float sm[32];  CUDAEMU_SHARED(sm);` — the first thread of each block to
// reach the line fills the named variables with the poison byte (garbage, as on a GPU).
#define CUDAEMU_SHARED(...)                                                 \
  do {                                                                      \
    static thread_local ::std::uint64_t cudaemu_site_ = 0;                  \
    ::cudaemu::detail::poison_shared(&cudaemu_site_, __VA_ARGS__);          \
  } while (0)
// Dynamic (nvcc: `extern __shared__ type name[];`): a pointer to this launch's buffer of
// shared_bytes bytes (aligned to 256), poisoned at every block start.
#define CUDAEMU_DYNAMIC_SHARED(type, name) \
  type* name = static_cast<type*>(::cudaemu::detail::dynamic_shared(__FILE__, __LINE__))

// ---------------------------------------------------------------- barriers and warp collectives
// Macros, so the emulator can name the source line of each waiting thread.
#define __syncthreads() ((void)::cudaemu::detail::barrier(0, 1, __FILE__, __LINE__))
#define __syncthreads_count(p) ::cudaemu::detail::barrier(1, (p) ? 1 : 0, __FILE__, __LINE__)
#define __syncthreads_and(p) ::cudaemu::detail::barrier(2, (p) ? 1 : 0, __FILE__, __LINE__)
#define __syncthreads_or(p) ::cudaemu::detail::barrier(3, (p) ? 1 : 0, __FILE__, __LINE__)
#define __shfl_sync(...) ::cudaemu::detail::shfl<::cudaemu::detail::kShflIdx>(__FILE__, __LINE__, __VA_ARGS__)
#define __shfl_up_sync(...) ::cudaemu::detail::shfl<::cudaemu::detail::kShflUp>(__FILE__, __LINE__, __VA_ARGS__)
#define __shfl_down_sync(...) ::cudaemu::detail::shfl<::cudaemu::detail::kShflDown>(__FILE__, __LINE__, __VA_ARGS__)
#define __shfl_xor_sync(...) ::cudaemu::detail::shfl<::cudaemu::detail::kShflXor>(__FILE__, __LINE__, __VA_ARGS__)
#define __ballot_sync(mask, p) \
  static_cast<unsigned>(::cudaemu::detail::warp_collective(::cudaemu::detail::kBallot, (mask), (p) ? 1 : 0, 0, 32, __FILE__, __LINE__))
#define __all_sync(mask, p) \
  static_cast<int>(::cudaemu::detail::warp_collective(::cudaemu::detail::kAll, (mask), (p) ? 1 : 0, 0, 32, __FILE__, __LINE__))
#define __any_sync(mask, p) \
  static_cast<int>(::cudaemu::detail::warp_collective(::cudaemu::detail::kAny, (mask), (p) ? 1 : 0, 0, 32, __FILE__, __LINE__))
#define __syncwarp(...) ::cudaemu::detail::syncwarp(__FILE__, __LINE__, ##__VA_ARGS__)
#define __activemask() ::cudaemu::detail::activemask()
namespace cudaemu::detail {
inline void syncwarp(const char* file, int line, unsigned mask = 0xffffffffu) {
  (void)warp_collective(kSyncWarp, mask, 0, 0, 32, file, line);
}
}  // namespace cudaemu::detail

// ---------------------------------------------------------------- memory fences
// One fiber runs at a time: memory is sequentially consistent, fences have nothing to order.
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_signal_fence(std::memory_order_seq_cst); }

// ---------------------------------------------------------------- atomics
// Real atomic operations (relaxed), so ThreadSanitizer sees them as atomics, not races. Float
// and double add/min/max are compare-and-swap loops on the bits, as CUDA's fallbacks are.
namespace cudaemu::detail {
template <typename T, typename F>
inline T atomic_update(T* p, F f) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8, "cudaemu: atomics of 4 or 8 bytes");
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  Bits* b = reinterpret_cast<Bits*>(p);
  Bits old_bits = __atomic_load_n(b, __ATOMIC_RELAXED), new_bits;
  T old;
  do {
    std::memcpy(&old, &old_bits, sizeof(T));
    T next = f(old);
    std::memcpy(&new_bits, &next, sizeof(T));
  } while (!__atomic_compare_exchange_n(b, &old_bits, new_bits, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
  return old;
}
template <typename T>
using IfAtomic = std::enable_if_t<std::is_arithmetic<T>::value && (sizeof(T) == 4 || sizeof(T) == 8), T>;
}  // namespace cudaemu::detail

template <typename T, typename U>
inline cudaemu::detail::IfAtomic<T> atomicAdd(T* p, U v) {
  if constexpr (std::is_integral<T>::value) return __atomic_fetch_add(p, static_cast<T>(v), __ATOMIC_RELAXED);
  else return cudaemu::detail::atomic_update(p, [&](T o) { return static_cast<T>(o + static_cast<T>(v)); });
}
template <typename T, typename U>
inline cudaemu::detail::IfAtomic<T> atomicSub(T* p, U v) {
  if constexpr (std::is_integral<T>::value) return __atomic_fetch_sub(p, static_cast<T>(v), __ATOMIC_RELAXED);
  else return cudaemu::detail::atomic_update(p, [&](T o) { return static_cast<T>(o - static_cast<T>(v)); });
}
template <typename T, typename U>
inline cudaemu::detail::IfAtomic<T> atomicMax(T* p, U v) {
  return cudaemu::detail::atomic_update(p, [&](T o) { return o < static_cast<T>(v) ? static_cast<T>(v) : o; });
}
template <typename T, typename U>
inline cudaemu::detail::IfAtomic<T> atomicMin(T* p, U v) {
  return cudaemu::detail::atomic_update(p, [&](T o) { return static_cast<T>(v) < o ? static_cast<T>(v) : o; });
}
template <typename T, typename U>
inline cudaemu::detail::IfAtomic<T> atomicExch(T* p, U v) {
  return cudaemu::detail::atomic_update(p, [&](T) { return static_cast<T>(v); });
}
template <typename T, typename U, typename V>
inline std::enable_if_t<std::is_integral<T>::value, T> atomicCAS(T* p, U compare, V v) {
  T expected = static_cast<T>(compare);
  __atomic_compare_exchange_n(p, &expected, static_cast<T>(v), false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  return expected;  // the old value, whether or not the swap happened
}

// ---------------------------------------------------------------- math intrinsics
// Round-to-nearest intrinsics: one IEEE operation each, never fused with a neighbour (the volatile
// store forbids the contraction; .cu files are also compiled with -ffp-contract=off).
inline float __fadd_rn(float a, float b) { volatile float r = a + b; return r; }
inline float __fsub_rn(float a, float b) { volatile float r = a - b; return r; }
inline float __fmul_rn(float a, float b) { volatile float r = a * b; return r; }
inline float __fdiv_rn(float a, float b) { volatile float r = a / b; return r; }
inline float __fsqrt_rn(float a) { return sqrtf(a); }
inline float __frcp_rn(float a) { volatile float r = 1.f / a; return r; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline double __dadd_rn(double a, double b) { volatile double r = a + b; return r; }
inline double __dsub_rn(double a, double b) { volatile double r = a - b; return r; }
inline double __dmul_rn(double a, double b) { volatile double r = a * b; return r; }
inline double __ddiv_rn(double a, double b) { volatile double r = a / b; return r; }
inline double __dsqrt_rn(double a) { return sqrt(a); }
// Fast-math intrinsics are approximations on a GPU; here they are the exact functions.
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : (x == x ? x : 0.f)); }
inline float rsqrtf(float x) { return 1.f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
template <typename T>
inline T __ldg(const T* p) { return *p; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline unsigned __brev(unsigned x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0F0F0F0Fu) | ((x & 0x0F0F0F0Fu) << 4);
  x = ((x >> 8) & 0x00FF00FFu) | ((x & 0x00FF00FFu) << 8);
  return (x >> 16) | (x << 16);
}

#ifdef __CUDACC__
// CUDA's global min/max for device code (only in .cu files, so they never meet std::min in the
// rest of the project): the usual arithmetic conversions, fminf/fmaxf rules for floating point.
template <typename A, typename B,
          typename = std::enable_if_t<std::is_arithmetic<A>::value && std::is_arithmetic<B>::value>>
inline std::common_type_t<A, B> min(A a, B b) {
  using C = std::common_type_t<A, B>;
  if constexpr (std::is_floating_point<C>::value) return fmin(C(a), C(b));
  else return C(b) < C(a) ? C(b) : C(a);
}
template <typename A, typename B,
          typename = std::enable_if_t<std::is_arithmetic<A>::value && std::is_arithmetic<B>::value>>
inline std::common_type_t<A, B> max(A a, B b) {
  using C = std::common_type_t<A, B>;
  if constexpr (std::is_floating_point<C>::value) return fmax(C(a), C(b));
  else return C(a) < C(b) ? C(b) : C(a);
}
#endif
