// kernels/optim_update.cu — CUDA twin of kernels/optim_update_cpu.cpp (float32): one grid-stride
// kernel per parameter tensor and step, no host synchronisation.
//
// The __f*_rn intrinsics stop nvcc from contracting a * b + c into one FMA, so each operation
// rounds as in the CPU reference (built for baseline x86-64, which has no FMA instructions) and
// the two backends agree to the last bit or nearly so.
#include "kernels/cuda_common.cuh"
#include "kernels/optim_update.h"

namespace ff::cuda {

namespace {
__global__ void sgd_k(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float omd,
                      float wd, bool nesterov, bool first) {
  FF_KERNEL_LOOP(i, n) {
    float d = g[i];
    if (wd != 0.f) d = __fadd_rn(d, __fmul_rn(wd, p[i]));
    if (buf) {
      float b = first ? d : __fadd_rn(__fmul_rn(momentum, buf[i]), __fmul_rn(omd, d));
      buf[i] = b;
      d = nesterov ? __fadd_rn(d, __fmul_rn(momentum, b)) : b;
    }
    p[i] = __fsub_rn(p[i], __fmul_rn(lr, d));
  }
}
__global__ void adam_k(float* p, const float* g, float* m, float* v, int64_t n, float beta1, float omb1,
                       float beta2, float omb2, float eps, float wd, float step_size, float bc2_sqrt) {
  FF_KERNEL_LOOP(i, n) {
    float d = g[i];
    if (wd != 0.f) d = __fadd_rn(d, __fmul_rn(wd, p[i]));
    float mi = __fadd_rn(__fmul_rn(beta1, m[i]), __fmul_rn(omb1, d));
    float vi = __fadd_rn(__fmul_rn(beta2, v[i]), __fmul_rn(__fmul_rn(omb2, d), d));
    m[i] = mi;
    v[i] = vi;
    float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), bc2_sqrt), eps);
    p[i] = __fsub_rn(p[i], __fdiv_rn(__fmul_rn(step_size, mi), denom));
  }
}
}  // namespace

void sgd_step(float* p, const float* g, float* momentum_buf, int64_t n, float lr, float momentum,
              float one_minus_dampening, float weight_decay, bool nesterov, bool first) {
  if (n == 0) return;
  FF_LAUNCH(sgd_k, blocks_for(n), kBlock, 0)(p, g, momentum_buf, n, lr, momentum,
                                                         one_minus_dampening, weight_decay, nesterov, first);
  CUDA_CHECK_LAUNCH();
}
void adam_step(float* p, const float* g, float* m, float* v, int64_t n, float beta1, float one_minus_beta1,
               float beta2, float one_minus_beta2, float eps, float weight_decay, float step_size,
               float bias_correction2_sqrt) {
  if (n == 0) return;
  FF_LAUNCH(adam_k, blocks_for(n), kBlock, 0)(p, g, m, v, n, beta1, one_minus_beta1, beta2,
                                                          one_minus_beta2, eps, weight_decay, step_size,
                                                          bias_correction2_sqrt);
  CUDA_CHECK_LAUNCH();
}

}  // namespace ff::cuda
