// engine/config.cpp — see config.h. With the CUDA backend the switches live where the kernels read
// them (kernels/cuda_context.cu); without it, they are only remembered.
#include "engine/config.h"

#ifdef FF_HAS_CUDA
#include "kernels/cuda_context.cuh"
#else
#include <atomic>
#endif

namespace ff {
#ifdef FF_HAS_CUDA
void set_allow_tf32(bool on) { cuda::set_allow_tf32(on); }
bool allow_tf32() { return cuda::allow_tf32(); }
void set_deterministic(bool on) { cuda::set_deterministic(on); }
bool deterministic() { return cuda::deterministic(); }
#else
namespace {
std::atomic<bool> g_tf32{false};
std::atomic<bool> g_deterministic{false};
}  // namespace
void set_allow_tf32(bool on) { g_tf32 = on; }
bool allow_tf32() { return g_tf32; }
void set_deterministic(bool on) { g_deterministic = on; }
bool deterministic() { return g_deterministic; }
#endif
}  // namespace ff
