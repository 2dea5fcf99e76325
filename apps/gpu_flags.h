// apps/gpu_flags.h — the GPU math options the training commands share: --tf32 and
// --deterministic, each setting the engine's process-wide switch (engine/config.h) as it is parsed.
#pragma once
#include <CLI/CLI.hpp>

#include "engine/config.h"

namespace ff::app {

inline void add_gpu_math_flags(CLI::App& sub) {
  sub.add_flag_callback("--tf32", [] { ff::set_allow_tf32(true); },
                        "GPU: TF32 tensor-core math for float32 convolutions and matrix products on sm_80 and "
                        "later (faster; ~3e-4 relative differences from the CPU)");
  sub.add_flag_callback("--deterministic", [] { ff::set_deterministic(true); },
                        "GPU: only deterministic cuDNN convolution algorithms, chosen by cuDNN's heuristics, so "
                        "reruns are bitwise equal (default: the fastest algorithm cuDNN measures per shape)");
}

}  // namespace ff::app
