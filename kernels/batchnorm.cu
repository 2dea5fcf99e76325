// kernels/batchnorm.cu — CUDA twin of kernels/batchnorm_cpu.cpp (float32).
//
// Training forward/backward and the inference forward go to cuDNN (CUDNN_BATCHNORM_SPATIAL),
// whose semantics match PyTorch's: the running variance is updated with the unbiased batch
// variance (PyTorch's own CUDA path passes its momentum straight to these calls), epsilon is added
// to the variance inside the square root (cuDNN 9: CUDNN_BN_MIN_EPSILON is 0), and the saved
// "inverse variance" is in fact 1 / sqrt(var + eps), the inverse standard deviation we save.
// cuDNN has no backward for the inference mode, so that one is ours: a per-channel reduction for
// ggamma/gbeta (one block per channel, double accumulation, fixed order: deterministic) and an
// element-wise kernel for gx.
#include <cmath>

#include "kernels/batchnorm.h"
#include "kernels/cuda_common.cuh"

namespace ff::cuda {

namespace {

#ifndef FF_CUDA_EMU  // cuDNN: under the emulation, kernels/standins_emu.cpp stands in
// x [N, C, HW, 1] and the derived [1, C, 1, 1] parameter descriptor. Created once per thread and
// re-set on every call (setting a descriptor is a host-side struct write); never destroyed, so no
// cuDNN call runs during static destruction.
struct BnDescs {
  cudnnTensorDescriptor_t x = nullptr, bn = nullptr;
  BnDescs() {
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&bn));
  }
};

BnDescs& descs(int64_t N, int64_t C, int64_t HW) {
  FF_CHECK(N <= INT32_MAX && C <= INT32_MAX && HW <= INT32_MAX,
           "batch_norm2d (cuda): dimensions too large for cuDNN: N ", N, " C ", C, " H*W ", HW);
  thread_local BnDescs* d = new BnDescs();
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(d->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, static_cast<int>(N),
                                         static_cast<int>(C), static_cast<int>(HW), 1));
  CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(d->bn, d->x, CUDNN_BATCHNORM_SPATIAL));
  return *d;
}

#endif

// One block per channel c: gbeta[c] = sum(gy), ggamma[c] = sum(gy * (x - mean)) * invstd.
__global__ void bn_eval_param_grad_k(const float* gy, const float* x, const float* running_mean,
                                     const float* running_var, float* ggamma, float* gbeta, int64_t N,
                                     int64_t C, int64_t HW, double eps) {
  __shared__ double sh_g[kBlock], sh_gx[kBlock];  FF_EMU_SHARED(sh_g, sh_gx);
  const int64_t c = blockIdx.x;
  const double mean = running_mean[c];
  double sg = 0.0, sgx = 0.0;
  for (int64_t m = threadIdx.x; m < N * HW; m += blockDim.x) {
    int64_t idx = ((m / HW) * C + c) * HW + m % HW;
    double g = gy[idx];
    sg += g;
    sgx += g * (static_cast<double>(x[idx]) - mean);
  }
  sh_g[threadIdx.x] = sg;
  sh_gx[threadIdx.x] = sgx;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w >>= 1) {
    if (threadIdx.x < w) {
      sh_g[threadIdx.x] += sh_g[threadIdx.x + w];
      sh_gx[threadIdx.x] += sh_gx[threadIdx.x + w];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    gbeta[c] = static_cast<float>(sh_g[0]);
    ggamma[c] = static_cast<float>(sh_gx[0] / sqrt(static_cast<double>(running_var[c]) + eps));
  }
}

// gx = gy * gamma * invstd, the running statistics held constant.
__global__ void bn_eval_input_grad_k(const float* gy, const float* gamma, const float* running_var,
                                     float* gx, int64_t total, int64_t C, int64_t HW, double eps) {
  FF_KERNEL_LOOP(i, total) {
    int64_t c = (i / HW) % C;
    float k = static_cast<float>(static_cast<double>(gamma[c]) / sqrt(static_cast<double>(running_var[c]) + eps));
    gx[i] = gy[i] * k;
  }
}

}  // namespace

#ifndef FF_CUDA_EMU  // cuDNN: under the emulation, kernels/standins_emu.cpp stands in
void batch_norm_forward_train(const float* x, const float* gamma, const float* beta, float* y,
                              float* running_mean, float* running_var, float* save_mean,
                              float* save_invstd, int64_t N, int64_t C, int64_t HW, double momentum,
                              double eps) {
  BnDescs& d = descs(N, C, HW);
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
      cudnn(), CUDNN_BATCHNORM_SPATIAL, &one, &zero, d.x, x, d.x, y, d.bn, gamma, beta, momentum,
      running_mean, running_var, eps, save_mean, save_invstd));
}

void batch_norm_forward_eval(const float* x, const float* gamma, const float* beta,
                             const float* running_mean, const float* running_var, float* y, int64_t N,
                             int64_t C, int64_t HW, double eps) {
  BnDescs& d = descs(N, C, HW);
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(cudnnBatchNormalizationForwardInference(cudnn(), CUDNN_BATCHNORM_SPATIAL, &one, &zero,
                                                      d.x, x, d.x, y, d.bn, gamma, beta, running_mean,
                                                      running_var, eps));
}

void batch_norm_backward_train(const float* gy, const float* x, const float* gamma, const float* save_mean,
                               const float* save_invstd, float* gx, float* ggamma, float* gbeta, int64_t N,
                               int64_t C, int64_t HW, double eps) {
  BnDescs& d = descs(N, C, HW);
  const float one = 1.f, zero = 0.f;
  // alpha/beta for data and parameter gradients: overwrite (beta 0), never accumulate.
  CUDNN_CHECK(cudnnBatchNormalizationBackward(cudnn(), CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one,
                                              &zero, d.x, x, d.x, gy, d.x, gx, d.bn, gamma, ggamma, gbeta,
                                              eps, save_mean, save_invstd));
}

#endif

void batch_norm_backward_eval(const float* gy, const float* x, const float* gamma, const float* running_mean,
                              const float* running_var, float* gx, float* ggamma, float* gbeta, int64_t N,
                              int64_t C, int64_t HW, double eps) {
  if (C == 0) return;
  FF_LAUNCH(bn_eval_param_grad_k, static_cast<unsigned>(C), kBlock, 0)(
      gy, x, running_mean, running_var, ggamma, gbeta, N, C, HW, eps);
  CUDA_CHECK_LAUNCH();
  int64_t total = N * C * HW;
  if (total == 0) return;
  FF_LAUNCH(bn_eval_input_grad_k, blocks_for(total), kBlock, 0)(gy, gamma, running_var, gx, total,
                                                                           C, HW, eps);
  CUDA_CHECK_LAUNCH();
}

}  // namespace ff::cuda
