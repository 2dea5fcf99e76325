// engine/config.h — process-wide switches of the engine.
#pragma once

namespace ff {

// TF32 tensor-core math for float32 convolutions and matrix products on the GPU (cuDNN math type
// CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION / cuBLAS CUBLAS_TF32_TENSOR_OP_MATH). Off by default:
// results then match the CPU to float32 tolerances; on, expect ~3e-4 relative differences.
void set_allow_tf32(bool on);
bool allow_tf32();

}  // namespace ff
