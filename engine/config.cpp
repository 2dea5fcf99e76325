// engine/config.cpp — see config.h. With the CUDA backend the switch lives where the kernels read
// it (kernels/cuda_context.cu); without it, it is only remembered.
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
#else
namespace {
std::atomic<bool> g_tf32{false};
}
void set_allow_tf32(bool on) { g_tf32 = on; }
bool allow_tf32() { return g_tf32; }
#endif
}  // namespace ff
