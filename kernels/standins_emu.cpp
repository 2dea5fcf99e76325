// kernels/standins_emu.cpp — under -DFF_CUDA_EMU=ON only: the ff::cuda functions that call cuDNN
// (kernels/conv.cu, the cuDNN parts of kernels/batchnorm.cu), stood in for by their CPU twins.
// Emulated device memory is host memory, so a twin reads and writes the same arrays. A stand-in
// checks nothing of cuDNN: it says so once per op on stderr, and a test that passes through one
// carries "StandIn" in its name (or skips with "needs a real GPU: <op> is cuDNN").
#include <cstdio>
#include <mutex>

#include "kernels/batchnorm.h"
#include "kernels/conv.h"

namespace ff::cuda {

namespace {
void say_once(std::once_flag& flag, const char* op) {
  std::call_once(flag, [op] {
    std::fprintf(stderr, "[cudaemu] stand-in: %s runs the CPU twin; not checked on a GPU\n", op);
  });
}
std::once_flag g_conv_fwd, g_conv_bwd, g_bn_fwd_train, g_bn_fwd_eval, g_bn_bwd_train;
}  // namespace

void conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y) {
  say_once(g_conv_fwd, "conv2d_forward (cuDNN)");
  cpu::conv2d_forward(s, x, w, b, y);
}
void conv2d_backward(const ConvShape& s, const float* x, const float* w, const float* gy, float* gx, float* gw,
                     float* gb) {
  say_once(g_conv_bwd, "conv2d_backward (cuDNN)");
  cpu::conv2d_backward(s, x, w, gy, gx, gw, gb);
}

void batch_norm_forward_train(const float* x, const float* gamma, const float* beta, float* y, float* running_mean,
                              float* running_var, float* save_mean, float* save_invstd, int64_t N, int64_t C,
                              int64_t HW, double momentum, double eps) {
  say_once(g_bn_fwd_train, "batch_norm_forward_train (cuDNN)");
  cpu::batch_norm_forward_train(x, gamma, beta, y, running_mean, running_var, save_mean, save_invstd, N, C, HW,
                                momentum, eps);
}
void batch_norm_forward_eval(const float* x, const float* gamma, const float* beta, const float* running_mean,
                             const float* running_var, float* y, int64_t N, int64_t C, int64_t HW, double eps) {
  say_once(g_bn_fwd_eval, "batch_norm_forward_eval (cuDNN)");
  cpu::batch_norm_forward_eval(x, gamma, beta, running_mean, running_var, y, N, C, HW, eps);
}
void batch_norm_backward_train(const float* gy, const float* x, const float* gamma, const float* save_mean,
                               const float* save_invstd, float* gx, float* ggamma, float* gbeta, int64_t N,
                               int64_t C, int64_t HW, double eps) {
  say_once(g_bn_bwd_train, "batch_norm_backward_train (cuDNN)");
  cpu::batch_norm_backward_train(gy, x, gamma, save_mean, save_invstd, gx, ggamma, gbeta, N, C, HW, eps);
}

}  // namespace ff::cuda
