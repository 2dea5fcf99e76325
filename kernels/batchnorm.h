// kernels/batchnorm.h — 2-D batch normalisation (per channel over N, H, W): the cpu:: reference
// (OpenMP over channels, statistics accumulated in double) and its cuda:: twin (cuDNN
// CUDNN_BATCHNORM_SPATIAL for training forward/backward and inference forward; our own kernel
// for the eval-mode backward, which cuDNN lacks). CPU versions exist for float and double, CUDA
// versions for float. All pointers are to contiguous arrays on the function's device.
//
// Shapes: x, y, gy, gx [N, C, HW] (NCHW with H*W flattened); everything else [C].
// invstd = 1 / sqrt(var + eps).
//
// Contract (what is written):
//   forward_train     writes y, save_mean (batch mean), save_invstd (from the biased batch
//                     variance), and updates running_mean/var in place:
//                     running = (1 - momentum) * running + momentum * batch, where the batch
//                     variance is the unbiased one (times M / (M - 1), M = N*HW), as PyTorch
//                     (and cuDNN) do. Requires M > 1.
//   forward_eval      writes y from running_mean/var.
//   backward_train    overwrites gx, ggamma, gbeta: the full gradient through the batch
//                     statistics (save_mean / save_invstd from forward_train).
//   backward_eval     overwrites gx, ggamma, gbeta with the running statistics held constant.
#pragma once
#include <cstdint>

#define FF_BATCHNORM_DECLS(T)                                                                   \
  void batch_norm_forward_train(const T* x, const T* gamma, const T* beta, T* y,                \
                                T* running_mean, T* running_var, T* save_mean, T* save_invstd, \
                                int64_t N, int64_t C, int64_t HW, double momentum, double eps); \
  void batch_norm_forward_eval(const T* x, const T* gamma, const T* beta,                       \
                               const T* running_mean, const T* running_var, T* y, int64_t N,   \
                               int64_t C, int64_t HW, double eps);                              \
  void batch_norm_backward_train(const T* gy, const T* x, const T* gamma, const T* save_mean,   \
                                 const T* save_invstd, T* gx, T* ggamma, T* gbeta, int64_t N,   \
                                 int64_t C, int64_t HW, double eps);                            \
  void batch_norm_backward_eval(const T* gy, const T* x, const T* gamma, const T* running_mean, \
                                const T* running_var, T* gx, T* ggamma, T* gbeta, int64_t N,    \
                                int64_t C, int64_t HW, double eps);

namespace ff::cpu {
FF_BATCHNORM_DECLS(float)
FF_BATCHNORM_DECLS(double)
}  // namespace ff::cpu

namespace ff::cuda {
FF_BATCHNORM_DECLS(float)
}  // namespace ff::cuda
