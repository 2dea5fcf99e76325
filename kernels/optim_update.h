// kernels/optim_update.h — optimizer updates: one element-wise kernel per parameter tensor, called
// by engine/ops_optim.cpp (sgd_step_, adam_step_). The cpu:: reference and its cuda:: twin have
// the same signatures over raw pointers (CPU float and double, CUDA float). Hyperparameters arrive
// by value, computed on the host (bias corrections included), so a step never reads anything back
// from the device.
#pragma once
#include <cstdint>

// Coefficients such as 1 - beta1 arrive precomputed (in double, then rounded to T), as PyTorch
// passes them to its tensor ops, so the rounding matches.
#define FF_OPTIM_DECLS(T)                                                                          \
  /* torch.optim.SGD for one parameter p [n] with gradient g [n]:                                 \
       d = g + weight_decay * p                                                                    \
       with momentum_buf (non-null): buf = first ? d : momentum * buf + one_minus_dampening * d;   \
                                     d = nesterov ? d + momentum * buf : buf                       \
       p = p - lr * d                                                                              \
     momentum_buf null means momentum 0 (no buffer). Updates p and buf in place. */               \
  void sgd_step(T* p, const T* g, T* momentum_buf, int64_t n, T lr, T momentum,                    \
                T one_minus_dampening, T weight_decay, bool nesterov, bool first);                 \
  /* torch.optim.Adam (no amsgrad) for one parameter p [n], gradient g [n], moments m, v [n]:      \
       d = g + weight_decay * p;  m = beta1 m + (1 - beta1) d;  v = beta2 v + ((1 - beta2) d) d    \
       p = p - (step_size * m) / (sqrt(v) / bias_correction2_sqrt + eps)                           \
     with step_size = lr / (1 - beta1^t), bias_correction2_sqrt = sqrt(1 - beta2^t) computed by     \
     the caller in double for step t. Updates p, m, v in place. */                                 \
  void adam_step(T* p, const T* g, T* m, T* v, int64_t n, T beta1, T one_minus_beta1, T beta2,     \
                 T one_minus_beta2, T eps, T weight_decay, T step_size, T bias_correction2_sqrt);

namespace ff::cpu {
FF_OPTIM_DECLS(float)
FF_OPTIM_DECLS(double)
}  // namespace ff::cpu

namespace ff::cuda {
FF_OPTIM_DECLS(float)
}  // namespace ff::cuda
