// tests/test_cudaemu.cpp — self-tests of the CPU emulation of the CUDA execution model (cudaemu/,
// built only with -DFF_CUDA_EMU=ON): barriers under every schedule, shuffles, votes, atomics,
// shared-memory poisoning (static and dynamic), the errors it must report (deadlock, divergent
// barrier, host pointer, bad configuration, copies out of range), the statistics and BlockWindow.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "cudaemu/cudaemu.h"
#include "engine/error.h"
#include "kernels/cuda_common.cuh"

namespace {

using cudaemu::Order;
using cudaemu::OrderSetting;

#define EMU_LAUNCH(k, grid, block, shared) ::cudaemu::launch(#k, __FILE__, __LINE__, k, grid, block, shared, nullptr)

template <typename T>
struct Dev {
  T* p = nullptr;
  size_t n;
  explicit Dev(size_t count) : n(count) { EXPECT_EQ(cudaMalloc(&p, n * sizeof(T)), cudaSuccess); }
  ~Dev() { cudaFree(p); }
  std::vector<T> get() const {
    std::vector<T> v(n);
    EXPECT_EQ(cudaMemcpy(v.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    return v;
  }
  void zero() { EXPECT_EQ(cudaMemset(p, 0, n * sizeof(T)), cudaSuccess); }
};

struct ScheduleGuard {
  OrderSetting saved_threads = cudaemu::schedule(), saved_blocks = cudaemu::block_order();
  explicit ScheduleGuard(OrderSetting threads, OrderSetting blocks = OrderSetting{}) {
    cudaemu::set_schedule(threads);
    cudaemu::set_block_order(blocks);
  }
  ~ScheduleGuard() {
    cudaemu::set_schedule(saved_threads);
    cudaemu::set_block_order(saved_blocks);
  }
};
// The default poison byte and no strict mode, whatever CUDAEMU_POISON and CUDAEMU_STRICT say:
// the tests below expect 0xFF garbage and warnings that stay warnings.
struct DefaultPoisonGuard {
  unsigned char saved_poison = cudaemu::poison();
  bool saved_strict = cudaemu::strict();
  DefaultPoisonGuard() {
    cudaemu::set_poison(0xFF);
    cudaemu::set_strict(false);
  }
  ~DefaultPoisonGuard() {
    cudaemu::set_poison(saved_poison);
    cudaemu::set_strict(saved_strict);
  }
};
const OrderSetting kSchedules[] = {{Order::forward, 0}, {Order::reverse, 0}, {Order::random, 1}, {Order::random, 7}};

// The error the last launch recorded: its code (cleared) and the detailed message.
std::string take_error(cudaError_t* code) {
  *code = cudaGetLastError();
  return cudaGetErrorString(*code);
}

// ---------------------------------------------------------------- kernels
__global__ void rotate_k(int* out) {
  __shared__ int sh[256];  CUDAEMU_SHARED(sh);
  const int t = threadIdx.x, n = blockDim.x;
  sh[t] = t + 1000 * blockIdx.x;
  __syncthreads();
  out[blockIdx.x * n + t] = sh[(t + 1) % n];
}
__global__ void rotate_no_barrier_k(int* out) {
  __shared__ int sh[64];  CUDAEMU_SHARED(sh);
  const int t = threadIdx.x, n = blockDim.x;
  sh[t] = t;
  out[t] = sh[(t + 1) % n];  // missing __syncthreads: reads before the neighbour writes under some orders
                             // (and a data race for the TSan build: its one expected report)
}
__global__ void barrier_ops_k(int* out) {
  const int t = threadIdx.x;
  out[4 * t + 0] = __syncthreads_count(t % 3 == 0);
  out[4 * t + 1] = __syncthreads_and(t < 1000);
  out[4 * t + 2] = __syncthreads_and(t != 5);
  out[4 * t + 3] = __syncthreads_or(t == 77);
}
__global__ void order_log_k(int* counter, int* log) {
  int pos = atomicAdd(counter, 1);
  log[pos] = threadIdx.x;
}
__global__ void block_log_k(int* counter, int* log) {
  if (threadIdx.x == 0) log[blockIdx.x] = atomicAdd(counter, 1);
}
__global__ void shuffle_k(int* out) {
  const int t = threadIdx.x, v = 10 * t;
  out[6 * t + 0] = __shfl_sync(0xffffffffu, v, 3);
  out[6 * t + 1] = __shfl_up_sync(0xffffffffu, v, 2, 8);
  out[6 * t + 2] = __shfl_down_sync(0xffffffffu, v, 3, 16);
  out[6 * t + 3] = __shfl_xor_sync(0xffffffffu, v, 5);
  out[6 * t + 4] = __shfl_xor_sync(0xffffffffu, v, 9, 8);  // partner in another 8-lane segment: own value
  out[6 * t + 5] = __shfl_sync(0xffffffffu, v, 37, 16);    // srcLane taken modulo width
}
__global__ void shuffle_double_k(double* out) {
  double v = 0.5 + threadIdx.x;
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  out[threadIdx.x] = v;
}
__global__ void vote_k(unsigned* out) {
  const int t = threadIdx.x;
  out[4 * t + 0] = __ballot_sync(0xffffffffu, t % 3 == 0);
  out[4 * t + 1] = __any_sync(0xffffffffu, t == 40);
  out[4 * t + 2] = __all_sync(0xffffffffu, t < 64);
  out[4 * t + 3] = __all_sync(0xffffffffu, t != 7);
}
__global__ void half_mask_k(int* out) {
  const int t = threadIdx.x;
  if (t < 16) out[t] = __shfl_down_sync(0x0000ffffu, t, 1, 16);  // lanes 0-15 only
  __syncwarp();
  out[32 + t] = static_cast<int>(__activemask());
}
__global__ void atomics_k(int* i, unsigned* u, long long* ll, float* f, double* d, int* mx, int* mn, int* cas) {
  const int t = threadIdx.x + blockIdx.x * blockDim.x;
  atomicAdd(i, 1);
  atomicAdd(u, 2u);
  atomicAdd(ll, 3ll);
  atomicAdd(f, 1.0f);
  atomicAdd(d, 0.5);
  __syncthreads();  // interleave: every thread of the block updates again after the barrier
  atomicSub(i, 1);
  atomicMax(mx, t);
  atomicMin(mn, t);
  int old = atomicAdd(cas, 0);  // a CAS loop: increments by exactly one per thread
  for (;;) {
    int seen = atomicCAS(cas, old, old + 1);
    if (seen == old) break;
    old = seen;
  }
}
__global__ void exch_k(int* slot, int* got) { got[threadIdx.x] = atomicExch(slot, static_cast<int>(threadIdx.x)); }
__global__ void read_before_write_k(unsigned* out) {
  __shared__ unsigned sh[32];  CUDAEMU_SHARED(sh);
  out[blockIdx.x * 32 + threadIdx.x] = sh[threadIdx.x];  // garbage: never written before
  __syncthreads();
  sh[threadIdx.x] = 7;
}
__global__ void dynamic_shared_k(float* out, int n) {
  CUDAEMU_DYNAMIC_SHARED(float, buf);
  const int t = threadIdx.x;
  unsigned bits;
  std::memcpy(&bits, &buf[t], 4);
  out[2 * t] = bits == 0xFFFFFFFFu ? 1.f : 0.f;  // poisoned at block start
  buf[t] = static_cast<float>(t);
  __syncthreads();
  out[2 * t + 1] = buf[n - 1 - t];
}
__global__ void deadlock_k(int* out) {
  if (threadIdx.x == 0) out[0] = __shfl_sync(0xffffffffu, 1, 0);
  else __syncthreads();
}
constexpr int kDivergentLine = __LINE__ + 2;  // the line of the first __syncthreads below
__global__ void divergent_k(int* out) {
  if (threadIdx.x < 16) __syncthreads();
  else __syncthreads();
  out[threadIdx.x] = 1;
}
__global__ void exited_lane_k(int* out) {
  if (threadIdx.x >= 16) return;
  out[threadIdx.x] = __shfl_xor_sync(0x0000ffffu | 0xffff0000u, static_cast<int>(threadIdx.x), 16);
}
__global__ void not_in_mask_k(int* out) { out[threadIdx.x] = __shfl_sync(0x1u, 5, 0); }
__global__ void fill_k(int* out, int v) { out[blockIdx.x * blockDim.x + threadIdx.x] = v; }

// ---------------------------------------------------------------- barriers and schedules
TEST(CudaEmu, BarrierOrdersSharedMemoryUnderEverySchedule) {
  for (OrderSetting s : kSchedules) {
    ScheduleGuard g(s, s);
    Dev<int> out(3 * 256);
    EMU_LAUNCH(rotate_k, 3, 256, 0)(out.p);
    ASSERT_EQ(cudaGetLastError(), cudaSuccess);
    std::vector<int> v = out.get();
    for (int b = 0; b < 3; ++b)
      for (int t = 0; t < 256; ++t) ASSERT_EQ(v[b * 256 + t], (t + 1) % 256 + 1000 * b) << "schedule " << int(s.order);
  }
}

TEST(CudaEmu, MissingBarrierShowsUnderForwardNotReverse) {
  DefaultPoisonGuard defaults;
  const int poison = -1;  // 0xFFFFFFFF
  {
    ScheduleGuard g({Order::forward, 0});
    Dev<int> out(64);
    EMU_LAUNCH(rotate_no_barrier_k, 1, 64, 0)(out.p);
    std::vector<int> v = out.get();
    EXPECT_EQ(v[0], poison) << "forward: thread 0 runs to its end before thread 1 writes";
    EXPECT_EQ(v[63], 0);
  }
  {
    ScheduleGuard g({Order::reverse, 0});
    Dev<int> out(64);
    EMU_LAUNCH(rotate_no_barrier_k, 1, 64, 0)(out.p);
    std::vector<int> v = out.get();
    EXPECT_EQ(v[0], 1) << "reverse: thread 1 wrote first";
    EXPECT_EQ(v[63], poison);
  }
}

TEST(CudaEmu, SyncthreadsCountAndOr) {
  Dev<int> out(4 * 96);
  EMU_LAUNCH(barrier_ops_k, 1, 96, 0)(out.p);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  std::vector<int> v = out.get();
  for (int t = 0; t < 96; ++t) {
    EXPECT_EQ(v[4 * t + 0], 32);  // 0, 3, ..., 93
    EXPECT_EQ(v[4 * t + 1], 1);
    EXPECT_EQ(v[4 * t + 2], 0);
    EXPECT_EQ(v[4 * t + 3], 1);
  }
}

TEST(CudaEmu, ScheduleSettingOrdersTheThreads) {
  const int n = 64;
  auto run = [&](OrderSetting s) {
    ScheduleGuard g(s);
    Dev<int> counter(1), log(n);
    counter.zero();
    EMU_LAUNCH(order_log_k, 1, n, 0)(counter.p, log.p);
    return log.get();
  };
  std::vector<int> fwd = run({Order::forward, 0}), rev = run({Order::reverse, 0}), rnd = run({Order::random, 3});
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(fwd[i], i);
    EXPECT_EQ(rev[i], n - 1 - i);
  }
  std::vector<int> sorted = rnd;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, fwd) << "random order is a permutation";
  EXPECT_NE(rnd, fwd);
  EXPECT_NE(rnd, rev);
  EXPECT_EQ(run({Order::random, 3}), rnd) << "a seed repeats its order";
}

TEST(CudaEmu, BlockOrderSetting) {
  const int n = 16;
  auto run = [&](OrderSetting b) {
    ScheduleGuard g({Order::forward, 0}, b);
    Dev<int> counter(1), log(n);
    counter.zero();
    EMU_LAUNCH(block_log_k, n, 32, 0)(counter.p, log.p);
    return log.get();
  };
  std::vector<int> fwd = run({Order::forward, 0}), rev = run({Order::reverse, 0}), rnd = run({Order::random, 5});
  for (int b = 0; b < n; ++b) {
    EXPECT_EQ(fwd[b], b);
    EXPECT_EQ(rev[b], n - 1 - b);
  }
  std::vector<int> sorted = rnd;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, fwd);
  EXPECT_NE(rnd, fwd);
}

// ---------------------------------------------------------------- warp collectives
TEST(CudaEmu, ShuffleVariantsMatchCudaRules) {
  for (OrderSetting s : kSchedules) {
    ScheduleGuard g(s);
    Dev<int> out(6 * 64);
    EMU_LAUNCH(shuffle_k, 1, 64, 0)(out.p);
    ASSERT_EQ(cudaGetLastError(), cudaSuccess);
    std::vector<int> v = out.get();
    auto at = [&](int t, int k) { return v[6 * t + k]; };
    // Hand-computed cases (thread t holds 10 t).
    EXPECT_EQ(at(0, 0), 30);
    EXPECT_EQ(at(40, 0), 350);  // warp 1 reads its own lane 3: thread 35
    EXPECT_EQ(at(0, 1), 0);     // up 2 in segment [0, 8): lanes 0, 1 keep their own
    EXPECT_EQ(at(1, 1), 10);
    EXPECT_EQ(at(2, 1), 0);
    EXPECT_EQ(at(9, 1), 90);    // lane 9 is lane 1 of segment [8, 16)
    EXPECT_EQ(at(10, 1), 80);
    EXPECT_EQ(at(12, 2), 150);  // down 3 in [0, 16)
    EXPECT_EQ(at(13, 2), 130);  // 13 + 3 leaves the segment
    EXPECT_EQ(at(31, 2), 310);
    EXPECT_EQ(at(33, 2), 360);
    EXPECT_EQ(at(0, 3), 50);    // xor 5
    EXPECT_EQ(at(7, 3), 20);
    EXPECT_EQ(at(63, 3), 580);  // lane 31 ^ 5 = 26 of warp 1: thread 58
    EXPECT_EQ(at(2, 4), 20);    // xor 9 with width 8 leaves the segment
    EXPECT_EQ(at(0, 5), 50);    // 37 % 16 = 5
    EXPECT_EQ(at(20, 5), 210);  // segment [16, 32): lane 21
    EXPECT_EQ(at(50, 5), 530);  // warp 1, segment [48, 64): thread 53
  }
}

TEST(CudaEmu, ShuffleReductionOfDoubles) {
  Dev<double> out(64);
  EMU_LAUNCH(shuffle_double_k, 1, 64, 0)(out.p);
  std::vector<double> v = out.get();
  for (int t = 0; t < 64; ++t) EXPECT_EQ(v[t], t < 32 ? 512.0 : 1536.0);  // sum of 0.5 + lane over a warp
}

TEST(CudaEmu, BallotAnyAll) {
  Dev<unsigned> out(4 * 64);
  EMU_LAUNCH(vote_k, 1, 64, 0)(out.p);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  std::vector<unsigned> v = out.get();
  EXPECT_EQ(v[0], 0x49249249u);        // lanes 0, 3, ..., 30 of warp 0
  EXPECT_EQ(v[4 * 32], 0x92492492u);   // warp 1: threads 33, 36, ... are lanes 1, 4, ...
  EXPECT_EQ(v[1], 0u);
  EXPECT_EQ(v[4 * 40 + 1], 1u);
  EXPECT_EQ(v[2], 1u);
  EXPECT_EQ(v[3], 0u);
  EXPECT_EQ(v[4 * 32 + 3], 1u);
}

TEST(CudaEmu, PartialMaskAndActivemask) {
  Dev<int> out(64);
  EMU_LAUNCH(half_mask_k, 1, 32, 0)(out.p);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  std::vector<int> v = out.get();
  for (int t = 0; t < 15; ++t) EXPECT_EQ(v[t], t + 1);
  EXPECT_EQ(v[15], 15);
  // __activemask is approximated by "lanes not exited": a lane sees itself, and under the forward
  // schedule lane 0 (first to run after the __syncwarp) sees every lane.
  for (int t = 0; t < 32; ++t) EXPECT_TRUE(static_cast<unsigned>(v[32 + t]) >> t & 1u) << t;
  if (cudaemu::schedule().order == Order::forward) {
    EXPECT_EQ(static_cast<unsigned>(v[32]), 0xffffffffu);
  }
}

// ---------------------------------------------------------------- atomics
TEST(CudaEmu, AtomicsUnderContention) {
  for (OrderSetting s : kSchedules) {
    ScheduleGuard g(s);
    Dev<int> i(1), mx(1), mn(1), cas(1);
    Dev<unsigned> u(1);
    Dev<long long> ll(1);
    Dev<float> f(1);
    Dev<double> d(1);
    for (auto* z : {&i, &cas}) z->zero();
    u.zero(), ll.zero(), f.zero(), d.zero();
    int lo = -5, hi = 1 << 20;
    cudaMemcpy(mx.p, &lo, 4, cudaMemcpyHostToDevice);
    cudaMemcpy(mn.p, &hi, 4, cudaMemcpyHostToDevice);
    EMU_LAUNCH(atomics_k, 4, 256, 0)(i.p, u.p, ll.p, f.p, d.p, mx.p, mn.p, cas.p);
    ASSERT_EQ(cudaGetLastError(), cudaSuccess);
    EXPECT_EQ(i.get()[0], 0);
    EXPECT_EQ(u.get()[0], 2048u);
    EXPECT_EQ(ll.get()[0], 3072);
    EXPECT_EQ(f.get()[0], 1024.f);
    EXPECT_EQ(d.get()[0], 512.0);
    EXPECT_EQ(mx.get()[0], 1023);
    EXPECT_EQ(mn.get()[0], 0);
    EXPECT_EQ(cas.get()[0], 1024);
  }
}

TEST(CudaEmu, AtomicExchReturnsThePreviousValue) {
  ScheduleGuard g({Order::forward, 0});
  Dev<int> slot(1), got(8);
  int start = 100;
  cudaMemcpy(slot.p, &start, 4, cudaMemcpyHostToDevice);
  EMU_LAUNCH(exch_k, 1, 8, 0)(slot.p, got.p);
  std::vector<int> v = got.get();
  EXPECT_EQ(v[0], 100);
  for (int t = 1; t < 8; ++t) EXPECT_EQ(v[t], t - 1);
  EXPECT_EQ(slot.get()[0], 7);
}

// ---------------------------------------------------------------- shared memory poison
TEST(CudaEmu, SharedMemoryIsPoisonedAtEveryBlockStart) {
  DefaultPoisonGuard defaults;
  Dev<unsigned> out(2 * 32);
  EMU_LAUNCH(read_before_write_k, 2, 32, 0)(out.p);
  for (unsigned x : out.get()) EXPECT_EQ(x, 0xFFFFFFFFu) << "block 1 must not see block 0's 7s";
  const unsigned char saved = cudaemu::poison();
  cudaemu::set_poison(0x7f);
  EMU_LAUNCH(read_before_write_k, 2, 32, 0)(out.p);
  cudaemu::set_poison(saved);
  for (unsigned x : out.get()) EXPECT_EQ(x, 0x7f7f7f7fu);
}

TEST(CudaEmu, DynamicSharedMemory) {
  DefaultPoisonGuard defaults;
  const int n = 64;
  Dev<float> out(2 * n);
  EMU_LAUNCH(dynamic_shared_k, 2, n, n * sizeof(float))(out.p, n);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  std::vector<float> v = out.get();
  for (int t = 0; t < n; ++t) {
    EXPECT_EQ(v[2 * t], 1.f) << "thread " << t << " saw unpoisoned dynamic shared memory";
    EXPECT_EQ(v[2 * t + 1], static_cast<float>(n - 1 - t));
  }
  EMU_LAUNCH(dynamic_shared_k, 1, n, 0)(out.p, n);  // no bytes asked for
  cudaError_t code;
  std::string msg = take_error(&code);
  EXPECT_EQ(code, cudaErrorLaunchFailure);
  EXPECT_NE(msg.find("asked for 0 bytes"), std::string::npos) << msg;
}

// ---------------------------------------------------------------- errors the emulator reports
TEST(CudaEmu, DeadlockIsReportedWithTheSites) {
  Dev<int> out(32);
  EMU_LAUNCH(deadlock_k, 1, 32, 0)(out.p);
  cudaError_t code;
  std::string msg = take_error(&code);
  EXPECT_EQ(code, cudaErrorLaunchFailure);
  EXPECT_NE(msg.find("deadlock"), std::string::npos) << msg;
  EXPECT_NE(msg.find("__shfl_sync"), std::string::npos) << msg;
  EXPECT_NE(msg.find("__syncthreads at tests/test_cudaemu.cpp"), std::string::npos) << msg;
  EXPECT_NE(msg.find("deadlock_k"), std::string::npos) << msg;
}

TEST(CudaEmu, DivergentBarrierIsAnError) {
  Dev<int> out(32);
  EMU_LAUNCH(divergent_k, 1, 32, 0)(out.p);
  cudaError_t code;
  std::string msg = take_error(&code);
  EXPECT_EQ(code, cudaErrorLaunchFailure);
  EXPECT_NE(msg.find("divergent __syncthreads"), std::string::npos) << msg;
  // Both source lines are named.
  EXPECT_NE(msg.find("test_cudaemu.cpp:" + std::to_string(kDivergentLine)), std::string::npos) << msg;
  EXPECT_NE(msg.find("test_cudaemu.cpp:" + std::to_string(kDivergentLine + 1)), std::string::npos) << msg;
}

TEST(CudaEmu, ExitedLaneReadWarnsAndGivesPoison) {
  DefaultPoisonGuard defaults;
  const int64_t before = cudaemu::stats().warnings;
  Dev<int> out(32);
  EMU_LAUNCH(exited_lane_k, 1, 32, 0)(out.p);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_GT(cudaemu::stats().warnings, before);
  std::vector<int> v = out.get();
  for (int t = 0; t < 16; ++t) EXPECT_EQ(v[t], -1) << "poison for a read of exited lane " << t + 16;
  cudaemu::set_strict(true);
  EMU_LAUNCH(exited_lane_k, 1, 32, 0)(out.p);
  cudaemu::set_strict(false);
  cudaError_t code;
  std::string msg = take_error(&code);
  EXPECT_EQ(code, cudaErrorLaunchFailure);
  EXPECT_NE(msg.find("has exited"), std::string::npos) << msg;
}

TEST(CudaEmu, LaneOutsideItsOwnMaskIsAnError) {
  Dev<int> out(32);
  EMU_LAUNCH(not_in_mask_k, 1, 32, 0)(out.p);
  cudaError_t code;
  std::string msg = take_error(&code);
  EXPECT_EQ(code, cudaErrorLaunchFailure);
  EXPECT_NE(msg.find("does not name the calling lane"), std::string::npos) << msg;
}

TEST(CudaEmu, HostPointerIsRejected) {
  std::vector<int> host(64, 3);
  const int64_t launches = cudaemu::stats().launches;
  EMU_LAUNCH(fill_k, 1, 64, 0)(host.data(), 9);
  cudaError_t code;
  std::string msg = take_error(&code);
  EXPECT_EQ(code, cudaErrorIllegalAddress);
  EXPECT_NE(msg.find("fill_k"), std::string::npos) << msg;
  EXPECT_NE(msg.find("test_cudaemu.cpp:"), std::string::npos) << msg;
  EXPECT_EQ(cudaemu::stats().launches, launches) << "the kernel must not run";
  EXPECT_EQ(host[0], 3);
  // Registered (pinned) host memory is fine, as with mapped memory on a GPU.
  ASSERT_EQ(cudaHostRegister(host.data(), host.size() * sizeof(int), cudaHostRegisterDefault), cudaSuccess);
  EMU_LAUNCH(fill_k, 1, 64, 0)(host.data(), 9);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_EQ(host[63], 9);
  EXPECT_EQ(cudaHostUnregister(host.data()), cudaSuccess);
}

TEST(CudaEmu, CudaCheckLaunchThrowsTheDetailedMessage) {
  std::vector<int> host(4);
  try {
    FF_LAUNCH(fill_k, 1, 4, 0)(host.data(), 1);
    CUDA_CHECK_LAUNCH();
    FAIL() << "no exception";
  } catch (const ff::Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("fill_k"), std::string::npos) << what;
    EXPECT_NE(what.find("illegal memory access"), std::string::npos) << what;
  }
}

TEST(CudaEmu, BadConfigurationIsRejected) {
  Dev<int> out(4096);
  struct Bad {
    dim3 grid, block;
  };
  for (Bad b : {Bad{dim3(1), dim3(2048)}, Bad{dim3(0), dim3(32)}, Bad{dim3(1), dim3(32, 33)}, Bad{dim3(1), dim3(0)},
                Bad{dim3(1, 70000), dim3(32)}, Bad{dim3(1), dim3(1, 1, 65)}}) {
    EMU_LAUNCH(fill_k, b.grid, b.block, 0)(out.p, 1);
    cudaError_t code;
    std::string msg = take_error(&code);
    EXPECT_EQ(code, cudaErrorInvalidConfiguration) << msg;
    EXPECT_NE(msg.find("fill_k"), std::string::npos) << msg;
  }
}

TEST(CudaEmu, CopiesOutOfRangeAreRejected) {
  char* d = nullptr;
  ASSERT_EQ(cudaMalloc(&d, 100), cudaSuccess);
  std::vector<char> host(200);
  EXPECT_EQ(cudaMemcpy(d, host.data(), 100, cudaMemcpyHostToDevice), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(d, host.data(), 101, cudaMemcpyHostToDevice), cudaErrorInvalidValue);
  EXPECT_NE(std::string(cudaGetErrorString(cudaErrorInvalidValue)).find("1 bytes past the end"), std::string::npos)
      << cudaGetErrorString(cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemcpy(host.data(), d + 50, 51, cudaMemcpyDeviceToHost), cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemcpy(host.data(), d, 10, cudaMemcpyHostToDevice), cudaErrorInvalidValue) << "kinds swapped";
  EXPECT_EQ(cudaMemsetAsync(d + 90, 0, 20, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(cudaFree(host.data()), cudaErrorInvalidDevicePointer);
  EXPECT_EQ(cudaFree(d + 1), cudaErrorInvalidDevicePointer);
  (void)cudaGetLastError();
  EXPECT_EQ(cudaFree(d), cudaSuccess);
}

// ---------------------------------------------------------------- statistics, window, huge memory
TEST(CudaEmu, StatsCountLaunchesAndHostSyncs) {
  float* d = nullptr;
  ASSERT_EQ(cudaMalloc(&d, 96 * sizeof(float)), cudaSuccess);
  std::vector<float> pageable(64), pinned(64);
  ASSERT_EQ(cudaHostRegister(pinned.data(), 64 * sizeof(float), cudaHostRegisterDefault), cudaSuccess);
  cudaStream_t s;
  cudaEvent_t e;
  ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  ASSERT_EQ(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), cudaSuccess);
  cudaemu::reset_stats();
  EXPECT_EQ(cudaMemcpyAsync(d, pinned.data(), 256, cudaMemcpyHostToDevice, s), cudaSuccess);
  EXPECT_EQ(cudaMemcpyAsync(pinned.data(), d, 256, cudaMemcpyDeviceToHost, s), cudaSuccess);
  EXPECT_EQ(cudaMemsetAsync(d, 0, 256, s), cudaSuccess);
  EXPECT_EQ(cudaEventRecord(e, s), cudaSuccess);
  EXPECT_EQ(cudaemu::stats().host_syncs, 0) << "pinned async copies and async memsets do not block";
  EXPECT_EQ(cudaMemcpyAsync(d, pageable.data(), 256, cudaMemcpyHostToDevice, s), cudaSuccess);
  EXPECT_EQ(cudaMemcpyAsync(pageable.data(), d, 256, cudaMemcpyDeviceToHost, s), cudaSuccess);
  EXPECT_EQ(cudaemu::stats().host_syncs, 2) << "async copies from or to pageable memory block";
  EXPECT_EQ(cudaMemcpy(d, pinned.data(), 256, cudaMemcpyHostToDevice), cudaSuccess);
  EXPECT_EQ(cudaMemset(d, 0, 256), cudaSuccess);
  EXPECT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(cudaEventSynchronize(e), cudaSuccess);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(cudaemu::stats().host_syncs, 7);
  EMU_LAUNCH(fill_k, 3, 32, 0)(reinterpret_cast<int*>(d), 1);
  cudaemu::Stats st = cudaemu::stats();
  EXPECT_EQ(st.launches, 1);
  EXPECT_EQ(st.blocks, 3);
  EXPECT_EQ(st.threads, 96);
  EXPECT_EQ(st.host_syncs, 7) << "a launch does not block the host";
  cudaEventDestroy(e);
  cudaStreamDestroy(s);
  cudaHostUnregister(pinned.data());
  cudaFree(d);
}

TEST(CudaEmu, BlockWindowRunsOnlyTheChosenBlocks) {
  Dev<int> out(100 * 32);
  out.zero();
  cudaemu::reset_stats();
  {
    cudaemu::BlockWindow w(98, 100);
    EMU_LAUNCH(fill_k, 100, 32, 0)(out.p, 5);
  }
  EXPECT_EQ(cudaemu::stats().blocks, 2);
  std::vector<int> v = out.get();
  for (int i = 0; i < 100 * 32; ++i) ASSERT_EQ(v[i], i >= 98 * 32 ? 5 : 0) << i;
  EMU_LAUNCH(fill_k, 100, 32, 0)(out.p, 6);  // the window is gone
  EXPECT_EQ(out.get()[0], 6);
}

TEST(CudaEmu, HugeAllocationIsLazyAndUnpoisoned) {
  const size_t n = size_t(3) << 30;  // 3 GiB of address space
  char* d = nullptr;
  ASSERT_EQ(cudaMalloc(&d, n), cudaSuccess);
  cudaPointerAttributes a;
  ASSERT_EQ(cudaPointerGetAttributes(&a, d + n - 1), cudaSuccess);
  EXPECT_EQ(a.type, cudaMemoryTypeDevice);
  char last = 1;
  EXPECT_EQ(cudaMemcpy(&last, d + n - 1, 1, cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(last, 0) << "mmap'd pages read as zero";
  EXPECT_EQ(cudaFree(d), cudaSuccess);
}

TEST(CudaEmu, OneDeviceOnly) {
  int n = 0;
  EXPECT_EQ(cudaGetDeviceCount(&n), cudaSuccess);
  EXPECT_EQ(n, 1);
  EXPECT_EQ(cudaSetDevice(0), cudaSuccess);
  EXPECT_EQ(cudaSetDevice(1), cudaErrorInvalidDevice);
  (void)cudaGetLastError();
}

}  // namespace
