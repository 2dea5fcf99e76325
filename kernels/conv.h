// kernels/conv.h — 2-D convolution (square kernel, symmetric zero padding, no dilation, no groups):
// the cpu:: reference (im2col + OpenBLAS gemm) and its cuda:: twin (cuDNN, algorithms measured
// or, in deterministic mode, from the heuristics, cached per geometry), with the same
// signatures over raw pointers. CPU versions exist for float and double, CUDA versions for float.
// All arrays are contiguous NCHW on the function's device.
//
// Backward contract: every gradient output is overwritten (never accumulated into); a null
// gradient pointer means "not needed" and that gradient is not computed.
#pragma once
#include <cstdint>
#include <string>

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

// The algorithm cache of kernels/conv.cu, for tests and logs. A plan is one geometry (every field
// of ConvShape) in one mode (TF32 allowed or not, deterministic or not): its descriptors, made
// once, and per direction the algorithms chosen on the direction's first call.
struct ConvAlgoStats {
  int64_t plans = 0;               // geometries x modes cached now
  int64_t finds = 0;               // cudnnFind*AlgorithmEx measurements so far (one per direction per plan)
  int64_t heuristic_queries = 0;   // cudnnGet*Algorithm_v7 queries so far (deterministic mode)
  int64_t not_supported = 0;       // candidates dropped because execution said NOT_SUPPORTED
  int64_t workspace_failures = 0;  // workspace allocations that failed (a smaller one was used)
};
ConvAlgoStats conv_algo_stats();
// Forgets every plan (descriptors and choices): the next call of each geometry chooses again.
void conv_algo_cache_clear();
// One block per plan: the geometry, the mode and each direction's chosen algorithm, math type,
// workspace and measured time.
std::string conv_algo_report();
}  // namespace ff::cuda
