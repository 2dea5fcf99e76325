// kernels/conv.h — 2-D convolution (square kernel, symmetric zero padding, no dilation, no groups):
// the cpu:: reference (im2col + OpenBLAS gemm) and its cuda:: twin (cuDNN), with the same
// signatures over raw pointers. CPU versions exist for float and double, CUDA versions for float.
// All arrays are contiguous NCHW on the function's device.
//
// Backward contract: every gradient output is overwritten (never accumulated into); a null
// gradient pointer means "not needed" and that gradient is not computed.
#pragma once
#include <cstdint>

namespace ff {

// The geometry of one convolution. ho = (h + 2 pad - k) / stride + 1, likewise wo.
struct ConvShape {
  int64_t n = 0, cin = 0, h = 0, w = 0;  // input x [n, cin, h, w]
  int64_t cout = 0, k = 0;                // weight [cout, cin, k, k]
  int64_t stride = 1, pad = 0;
  int64_t ho = 0, wo = 0;                 // output y [n, cout, ho, wo]
};

}  // namespace ff

#define FF_CONV_DECLS(T)                                                                        \
  /* x [n, cin, h, w], w [cout, cin, k, k], b [cout] or null -> y [n, cout, ho, wo] */           \
  void conv2d_forward(const ConvShape& s, const T* x, const T* w, const T* b, T* y);            \
  /* gy [n, cout, ho, wo] -> gx [n, cin, h, w] (needs w), gw [cout, cin, k, k] (needs x),         \
     gb [cout]; each output may be null (not computed), x/w may be null when not needed. */     \
  void conv2d_backward(const ConvShape& s, const T* x, const T* w, const T* gy, T* gx, T* gw, T* gb);

namespace ff::cpu {
FF_CONV_DECLS(float)
FF_CONV_DECLS(double)
}  // namespace ff::cpu

namespace ff::cuda {
FF_CONV_DECLS(float)
}  // namespace ff::cuda
