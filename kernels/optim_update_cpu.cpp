// kernels/optim_update_cpu.cpp — CPU reference for kernels/optim_update.h (OpenMP). The arithmetic
// follows torch.optim's single-tensor code operation by operation, in the parameter's own precision.
#include <cmath>

#include "kernels/optim_update.h"

namespace ff::cpu {

namespace {
template <typename T>
void sgd_impl(T* p, const T* g, T* buf, int64_t n, T lr, T momentum, T omd, T wd, bool nesterov,
              bool first) {
#pragma omp parallel for if (n > 32768)
  for (int64_t i = 0; i < n; ++i) {
    T d = g[i];
    if (wd != T(0)) d = d + wd * p[i];
    if (buf) {
      T b = first ? d : momentum * buf[i] + omd * d;
      buf[i] = b;
      d = nesterov ? d + momentum * b : b;
    }
    p[i] = p[i] - lr * d;
  }
}

template <typename T>
void adam_impl(T* p, const T* g, T* m, T* v, int64_t n, T beta1, T omb1, T beta2, T omb2, T eps, T wd,
               T step_size, T bc2_sqrt) {
#pragma omp parallel for if (n > 32768)
  for (int64_t i = 0; i < n; ++i) {
    T d = g[i];
    if (wd != T(0)) d = d + wd * p[i];
    T mi = beta1 * m[i] + omb1 * d;
    T vi = beta2 * v[i] + (omb2 * d) * d;
    m[i] = mi;
    v[i] = vi;
    T denom = std::sqrt(vi) / bc2_sqrt + eps;
    p[i] = p[i] - (step_size * mi) / denom;
  }
}
}  // namespace

#define FF_OPTIM_CPU_DEFS(T)                                                                        \
  void sgd_step(T* p, const T* g, T* momentum_buf, int64_t n, T lr, T momentum,                     \
                T one_minus_dampening, T weight_decay, bool nesterov, bool first) {                 \
    sgd_impl(p, g, momentum_buf, n, lr, momentum, one_minus_dampening, weight_decay, nesterov, first); \
  }                                                                                                 \
  void adam_step(T* p, const T* g, T* m, T* v, int64_t n, T beta1, T one_minus_beta1, T beta2,      \
                 T one_minus_beta2, T eps, T weight_decay, T step_size, T bias_correction2_sqrt) {  \
    adam_impl(p, g, m, v, n, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay,     \
              step_size, bias_correction2_sqrt);                                                    \
  }

FF_OPTIM_CPU_DEFS(float)
FF_OPTIM_CPU_DEFS(double)

}  // namespace ff::cpu
