// kernels/pool.h — max pooling (square window, PyTorch semantics) and the global average pool
// [N, C, H, W] -> [N, C, 1, 1]: the cpu:: reference and its cuda:: twin with the same signatures
// over raw pointers. CPU versions exist for float and double, CUDA versions for float. All arrays
// are contiguous NCHW on the function's device.
//
// Max pooling follows PyTorch exactly: padding counts as -inf (it never wins), the output size is
// floored, the window is scanned row by row and a value replaces the running maximum when it is
// greater (or NaN), so the first maximum of a window wins ties. Its position in the input plane
// (ih * w + iw) is written to idx, and backward routes each output's gradient to that position.
//
// Backward contract: gx is overwritten, never accumulated into.
#pragma once
#include <cstdint>

namespace ff {

// The geometry of one max pooling. ho = (h + 2 pad - k) / stride + 1, likewise wo; pad <= k / 2,
// so every window holds at least one real element.
struct PoolShape {
  int64_t n = 0, c = 0, h = 0, w = 0;  // x [n, c, h, w]
  int64_t k = 1, stride = 1, pad = 0;
  int64_t ho = 0, wo = 0;              // y [n, c, ho, wo]
};

}  // namespace ff

#define FF_POOL_DECLS(T)                                                                        \
  /* x [n, c, h, w] -> y [n, c, ho, wo]; idx [n, c, ho, wo] (in-plane argmax) unless null */     \
  void max_pool2d_forward(const PoolShape& s, const T* x, T* y, int32_t* idx);                  \
  /* gy [n, c, ho, wo], idx from forward -> gx [n, c, h, w] */                                   \
  void max_pool2d_backward(const PoolShape& s, const T* gy, const int32_t* idx, T* gx);         \
  /* x [planes, hw] -> y [planes], the mean of each plane */                                    \
  void global_avg_pool_forward(int64_t planes, int64_t hw, const T* x, T* y);                   \
  /* gy [planes] -> gx [planes, hw] = gy / hw */                                                 \
  void global_avg_pool_backward(int64_t planes, int64_t hw, const T* gy, T* gx);

namespace ff::cpu {
FF_POOL_DECLS(float)
FF_POOL_DECLS(double)
}  // namespace ff::cpu

namespace ff::cuda {
FF_POOL_DECLS(float)
}  // namespace ff::cuda
