// kernels/arcface.cu — CUDA twin of kernels/arcface_cpu.cpp (float32).
//
// The fused ArcFace kernel runs one block per row of cos [N, C]. Pass 1 reads the row once and
// keeps an online (max, sum of exp) pair per thread (the running-max rescaling of "online
// softmax"), merged across the block; pass 2 reads the row again and writes d loss / d cos.
// No one-hot matrix, no logits buffer: the scaled, margin-adjusted logit is recomputed on the fly.
#include <cfloat>

#include "kernels/arcface.h"
#include "kernels/cuda_common.cuh"

namespace ff::cuda {

namespace {
__global__ void gather_label_k(const float* x, const int64_t* labels, float* y, int64_t n, int64_t k) {
  // A label outside [0, k) gives NaN, never a read outside the row: labels are checked on the host
  // where they are made (train/loader.h), and a bad one that slips through poisons the loss, which
  // the training loop's NaN guard reports (engine/checks.h: set_check_device_labels checks here).
  FF_KERNEL_LOOP(i, n) {
    const int64_t c = labels[i];
    y[i] = c >= 0 && c < k ? x[i * k + c] : NAN;
  }
}
__global__ void scatter_label_add_k(float* x, const int64_t* labels, const float* v, int64_t n, int64_t k) {
  FF_KERNEL_LOOP(i, n) {  // one element per row: no races; a bad label writes nothing
    const int64_t c = labels[i];
    if (c >= 0 && c < k) x[i * k + c] += v[i];
  }
}
// Merges online-softmax pairs: (m, d) represents sum_j exp(v_j - m) = d. NaN-sticky, as the CPU
// twin (kernels/arcface_cpu.cpp), whose sum of exp(v - max) is NaN when any v is NaN, and also when
// the max is +inf (exp(inf - inf)): a NaN pair (m2 NaN) replaces the running one, and a running
// NaN absorbs every later pair (d += ... NaN). An empty pair is (-FLT_MAX, 0).
__device__ __forceinline__ void lse_merge(float& m, float& d, float m2, float d2) {
  if (m2 > m) {
    d = d * expf(m - m2) + d2;
    m = m2;
  } else if (m2 == m2) {  // m2 <= m, or m is NaN (then d is NaN and stays so)
    d += d2 * expf(m2 - m);
  } else {
    m = m2;
    d = m2;
  }
}
// Adds one logit v to the running pair, with the CPU twin's value of exp(v - max) for the
// non-finite ones: a -inf logit adds exp(-inf - max) = 0 (the max is at least the finite or NaN
// target logit); a +inf logit is the max, and exp(inf - inf) is NaN; a NaN logit makes the sum NaN.
// (The first version only accepted m2 > m or m2 > -FLT_MAX, false for NaN, so a NaN cosine was
// skipped and the row loss stayed finite; +inf gave lse = +inf where the CPU gives NaN.)
__device__ __forceinline__ void lse_add(float& m, float& d, float v) {
  if (v == -INFINITY) return;
  lse_merge(m, d, v, (v == INFINITY || v != v) ? NAN : 1.f);
}

constexpr int kArcThreads = 512;

__global__ void __launch_bounds__(kArcThreads) arcface_k(const float* cos, const int64_t* labels, float* row_loss,
                                                         float* dcos, int64_t c, float s, ArcMargin<float> am,
                                                         float inv_n) {
  const int64_t i = blockIdx.x;
  const float* row = cos + i * c;
  float* g = dcos + i * c;
  const int64_t y = labels[i];
  float phi, dphi;
  // A label outside [0, c) makes the row's loss NaN (its gradient is that of a row without a
  // target: finite), never a read outside the row; the NaN stops training at the next loss read.
  am.apply(y >= 0 && y < c ? row[y] : NAN, &phi, &dphi);
  // __fmul_rn: no FMA contraction, so the target's scaled logit is the same float in both passes and
  // tgt - M below is exact (0 when the target is the max).
  const float tgt = __fmul_rn(s, phi);
  // Pass 1: per-thread online max / sum of exp.
  float m = -FLT_MAX, d = 0.f;
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) {
    lse_add(m, d, j == y ? tgt : __fmul_rn(s, row[j]));
  }
  // Warp then block merge.
  for (int off = 16; off > 0; off >>= 1) {
    float m2 = __shfl_xor_sync(0xffffffffu, m, off), d2 = __shfl_xor_sync(0xffffffffu, d, off);
    lse_merge(m, d, m2, d2);
  }
  __shared__ float sm[kArcThreads / 32], sd[kArcThreads / 32];  FF_EMU_SHARED(sm, sd);
  __shared__ float max_sh, logsum_sh;  FF_EMU_SHARED(max_sh, logsum_sh);
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    sm[warp] = m;
    sd[warp] = d;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    float M = sm[0], D = sd[0];
    for (int w = 1; w < blockDim.x / 32; ++w) lse_merge(M, D, sm[w], sd[w]);
    // The max and log(sum) stay apart, as in kernels/arcface_cpu.cpp (why: there).
    max_sh = M;
    logsum_sh = logf(D);
    row_loss[i] = -((tgt - M) - logsum_sh);
  }
  __syncthreads();
  const float M = max_sh, logsum = logsum_sh;
  // Pass 2: gradient of the mean loss with respect to cos; p - 1 as expm1(log p).
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) {
    if (j == y)
      g[j] = s * expm1f((tgt - M) - logsum) * dphi * inv_n;
    else
      g[j] = s * expf((__fmul_rn(s, row[j]) - M) - logsum) * inv_n;
  }
}
}  // namespace

#define FF_LAUNCH_1D(kernel, n, ...)                                                        \
  do {                                                                                   \
    if ((n) == 0) return;                                                                \
    FF_LAUNCH(kernel, blocks_for(n), kBlock, 0)(__VA_ARGS__);                 \
    CUDA_CHECK_LAUNCH();                                                                 \
  } while (0)

void gather_label(const float* x, const int64_t* labels, float* y, int64_t n, int64_t k) {
  FF_LAUNCH_1D(gather_label_k, n, x, labels, y, n, k);
}
void scatter_label_add(float* x, const int64_t* labels, const float* v, int64_t n, int64_t k) {
  FF_LAUNCH_1D(scatter_label_add_k, n, x, labels, v, n, k);
}
void arcface_forward(const float* cos, const int64_t* labels, float* row_loss, float* dcos, int64_t n, int64_t c,
                     float s, float m) {
  if (n == 0) return;
  const double pi = 3.14159265358979323846;
  ArcMargin<float> am{float(std::cos(double(m))), float(std::sin(double(m))), float(std::cos(pi - double(m))),
                      float(std::sin(pi - double(m)) * double(m))};
  FF_LAUNCH(arcface_k, static_cast<unsigned>(n), kArcThreads, 0)(cos, labels, row_loss, dcos, c, s, am,
                                                                           1.f / float(n));
  CUDA_CHECK_LAUNCH();
}

}  // namespace ff::cuda
