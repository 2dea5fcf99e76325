// engine/config.cpp — see config.h.
#include "engine/config.h"

#include <atomic>

namespace ff {
namespace {
std::atomic<bool> g_tf32{false};
}
void set_allow_tf32(bool on) { g_tf32 = on; }
bool allow_tf32() { return g_tf32; }
}  // namespace ff
