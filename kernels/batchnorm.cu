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

// The eval backward's kernels index with I: uint32_t when the tensor has fewer than 2^31
// elements (32-bit division and modulo: a few instructions, where 64-bit ones are a long
// emulated sequence on the GPU), int64_t above.
//
// One block per channel c: gbeta[c] = sum(gy), ggamma[c] = sum(gy * (x - mean)) * invstd, and
// scale[c] = gamma[c] * invstd, computed once per channel here for the input gradient.
template <typename I>
__global__ void bn_eval_param_grad_k(const float* gy, const float* x, const float* gamma, const float* running_mean,
                                     const float* running_var, float* ggamma, float* gbeta, float* scale, I N, I C,
                                     I HW, double eps) {
  __shared__ double sh_g[kBlock], sh_gx[kBlock];  FF_EMU_SHARED(sh_g, sh_gx);
  const I c = blockIdx.x;
  const double mean = running_mean[c];
  double sg = 0.0, sgx = 0.0;
  for (I m = threadIdx.x; m < N * HW; m += blockDim.x) {
    const I idx = ((m / HW) * C + c) * HW + m % HW;
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
    const double sd = sqrt(static_cast<double>(running_var[c]) + eps);
    gbeta[c] = static_cast<float>(sh_g[0]);
    ggamma[c] = static_cast<float>(sh_gx[0] / sd);
    scale[c] = static_cast<float>(static_cast<double>(gamma[c]) / sd);
  }
}

// gx = gy * scale[c] (gamma * invstd of the element's channel), the running statistics held constant.
template <typename I>
__global__ void bn_eval_input_grad_k(const float* gy, const float* scale, float* gx, I total, I C, I HW) {
  const I stride = static_cast<I>(blockDim.x) * gridDim.x;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride)
    gx[i] = gy[i] * scale[(i / HW) % C];
}

template <typename I>
void bn_eval_backward(const float* gy, const float* x, const float* gamma, const float* running_mean,
                      const float* running_var, float* gx, float* ggamma, float* gbeta, int64_t N, int64_t C,
                      int64_t HW, double eps) {
  float* scale = static_cast<float*>(workspace(sizeof(float) * static_cast<size_t>(C)));
  FF_LAUNCH(bn_eval_param_grad_k<I>, static_cast<unsigned>(C), kBlock, 0)(
      gy, x, gamma, running_mean, running_var, ggamma, gbeta, scale, static_cast<I>(N), static_cast<I>(C),
      static_cast<I>(HW), eps);
  CUDA_CHECK_LAUNCH();
  const int64_t total = N * C * HW;
  if (total == 0) return;
  FF_LAUNCH(bn_eval_input_grad_k<I>, blocks_for(total), kBlock, 0)(gy, scale, gx, static_cast<I>(total),
                                                                    static_cast<I>(C), static_cast<I>(HW));
  CUDA_CHECK_LAUNCH();
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
  // uint32_t also holds the loops' i + stride (both below 2^31).
  if (N * C * HW < (int64_t{1} << 31))
    bn_eval_backward<uint32_t>(gy, x, gamma, running_mean, running_var, gx, ggamma, gbeta, N, C, HW, eps);
  else
    bn_eval_backward<int64_t>(gy, x, gamma, running_mean, running_var, gx, ggamma, gbeta, N, C, HW, eps);
}

}  // namespace ff::cuda
