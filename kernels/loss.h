// kernels/loss.h — losses: mean squared error and softmax cross-entropy, forward and backward.
// The cpu:: reference and its cuda:: twin have the same signatures over raw pointers; CPU versions
// exist for float and double, CUDA versions for float. Scalars (the loss, the upstream gradient)
// live in one-element arrays on the function's device, so nothing is read back to the host.
#pragma once
#include <cstdint>

#define FF_LOSS_DECLS(T)                                                                           \
  /* out[0] = mean over n elements of (x - t)^2 */                                                 \
  void mse_forward(const T* x, const T* t, T* out, int64_t n);                                     \
  /* gx = g[0] * 2/n * (x - t), gt = -gx; gx or gt may be null (not wanted); overwrites them */    \
  void mse_backward(const T* x, const T* t, const T* g, T* gx, T* gt, int64_t n);                  \
  /* logits [rows, k], labels [rows] in [0, k) (already checked): stats [rows, 2] = per row the max  \
     m and log sum exp(l - m), kept apart so that l - m stays exact in float32 even at huge     \
     logits; out[0] = mean over rows of (m - logits[label]) + log sum exp(l - m) */               \
  void cross_entropy_forward(const T* logits, const int64_t* labels, T* stats, T* out, int64_t rows, \
                             int64_t k);                                                           \
  /* glogits [rows, k] = g[0] / rows * (softmax(logits) - onehot(label)), softmax = exp((l - m) -  \
     logsum) from the saved stats; no one-hot matrix is built. Overwrites glogits. */              \
  void cross_entropy_backward(const T* logits, const int64_t* labels, const T* stats, const T* g,  \
                              T* glogits, int64_t rows, int64_t k);

namespace ff::cpu {
FF_LOSS_DECLS(float)
FF_LOSS_DECLS(double)
// Label validation: out[0] = how many of labels [n] lie outside [0, k); when any, out[1] = the
// first bad index and out[2] its label. out is a 3-element int64 array on the labels' device.
void count_bad_labels(const int64_t* labels, int64_t n, int64_t k, int64_t* out);
}  // namespace ff::cpu

namespace ff::cuda {
FF_LOSS_DECLS(float)
void count_bad_labels(const int64_t* labels, int64_t n, int64_t k, int64_t* out);
}  // namespace ff::cuda
