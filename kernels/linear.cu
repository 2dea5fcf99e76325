// kernels/linear.cu — CUDA twin of kernels/linear_cpu.cpp (float32): cuBLAS for the products, our
// kernels for the bias and the row-wise L2 normalisation.
#include "kernels/cuda_common.cuh"
#include "kernels/linear.h"

namespace ff::cuda {

namespace {
__global__ void scale_k(float* y, int64_t n, float s) { FF_KERNEL_LOOP(i, n) y[i] *= s; }
__global__ void add_bias_k(float* y, const float* bias, int64_t rows, int64_t cols) {
  FF_KERNEL_LOOP(i, rows * cols) y[i] += bias[i % cols];
}

// Column sums of g [rows, cols]: a block is 32 columns x 8 row lanes; each lane walks every 8th
// row (adjacent threads read adjacent columns: coalesced), then the 8 lanes are summed in shared
// memory in a fixed order, so the result is deterministic.
constexpr int kColTile = 32, kRowLanes = 8;
__global__ void sum_rows_k(const float* g, float* out, int64_t rows, int64_t cols) {
  __shared__ float part[kRowLanes][kColTile];  FF_EMU_SHARED(part);
  int64_t col = static_cast<int64_t>(blockIdx.x) * kColTile + threadIdx.x;
  float s = 0.f;
  if (col < cols)
    for (int64_t r = threadIdx.y; r < rows; r += kRowLanes) s += g[r * cols + col];
  part[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && col < cols) {
    float t = 0.f;
    for (int l = 0; l < kRowLanes; ++l) t += part[l][threadIdx.x];
    out[col] = t;
  }
}

__device__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// One warp per row (rows of an embedding batch or a class-weight matrix are a few hundred wide).
constexpr int kWarpsPerBlock = 8;
__global__ void l2_fwd_k(const float* x, float* y, float* norm, int64_t rows, int64_t cols, float eps) {
  int lane = threadIdx.x & 31;
  int64_t warp = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  int64_t nwarps = (static_cast<int64_t>(gridDim.x) * blockDim.x) >> 5;
  for (int64_t r = warp; r < rows; r += nwarps) {
    const float* xr = x + r * cols;
    float s = 0.f;
    for (int64_t j = lane; j < cols; j += 32) s += xr[j] * xr[j];
    float nrm = sqrtf(warp_sum(s));
    float d = nrm < eps ? eps : nrm;  // as the CPU twin's std::max: a NaN norm stays NaN (fmaxf gives eps)
    for (int64_t j = lane; j < cols; j += 32) y[r * cols + j] = xr[j] / d;
    if (lane == 0) norm[r] = nrm;
  }
}
__global__ void l2_bwd_k(const float* gy, const float* y, const float* norm, float* gx, int64_t rows,
                         int64_t cols, float eps) {
  int lane = threadIdx.x & 31;
  int64_t warp = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  int64_t nwarps = (static_cast<int64_t>(gridDim.x) * blockDim.x) >> 5;
  for (int64_t r = warp; r < rows; r += nwarps) {
    const float* yr = y + r * cols;
    const float* gr = gy + r * cols;
    bool clamped = !(norm[r] >= eps);  // warp-uniform
    float dot = 0.f;
    if (!clamped) {
      for (int64_t j = lane; j < cols; j += 32) dot += yr[j] * gr[j];
      dot = warp_sum(dot);
    }
    float d = clamped ? eps : norm[r];
    for (int64_t j = lane; j < cols; j += 32) gx[r * cols + j] = (gr[j] - yr[j] * dot) / d;
  }
}
int warp_blocks(int64_t rows) {
  int64_t b = (rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
  return static_cast<int>(b > 65535 ? 65535 : (b < 1 ? 1 : b));
}
}  // namespace

// cuBLAS is column-major. A row-major matrix [r, c] is, read column-major, its transpose [c, r];
// so the row-major product C = op(A) op(B) is computed as the column-major Cᵀ = op(B)ᵀ op(A)ᵀ:
// swap the operands and m/n, keep each operand's transpose flag, and use the row-major row
// lengths as leading dimensions.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          const float* b, float beta, float* c) {
  check_gemm_size("cuda", m, n, k);
  if (m == 0 || n == 0) return;
  if (k == 0) {  // an empty sum: c = beta * c, without reading c when beta == 0
    if (beta == 0.f)
      CUDA_CHECK(cudaMemsetAsync(c, 0, static_cast<size_t>(m * n) * sizeof(float), stream()));
    else
      FF_LAUNCH(scale_k, blocks_for(m * n), kBlock, 0)(c, m * n, beta);
    CUDA_CHECK_LAUNCH();
    return;
  }
  cublasHandle_t h = cublas();
  CUBLAS_CHECK(cublasSetMathMode(h, allow_tf32() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  int M = static_cast<int>(m), N = static_cast<int>(n), K = static_cast<int>(k);
  int lda = trans_a ? M : K, ldb = trans_b ? K : N;
  CUBLAS_CHECK(cublasSgemm(h, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                           N, M, K, &alpha, b, ldb > 0 ? ldb : 1, a, lda > 0 ? lda : 1, &beta, c, N));
}

void add_bias_rows(float* y, const float* bias, int64_t rows, int64_t cols) {
  if (rows * cols == 0) return;
  FF_LAUNCH(add_bias_k, blocks_for(rows * cols), kBlock, 0)(y, bias, rows, cols);
  CUDA_CHECK_LAUNCH();
}

void sum_rows(const float* g, float* out, int64_t rows, int64_t cols) {
  if (cols == 0) return;
  dim3 block(kColTile, kRowLanes);
  unsigned grid = static_cast<unsigned>((cols + kColTile - 1) / kColTile);
  FF_LAUNCH(sum_rows_k, grid, block, 0)(g, out, rows, cols);
  CUDA_CHECK_LAUNCH();
}

void l2_normalize_forward(const float* x, float* y, float* norm, int64_t rows, int64_t cols, float eps) {
  if (rows == 0) return;
  FF_LAUNCH(l2_fwd_k, warp_blocks(rows), kWarpsPerBlock * 32, 0)(x, y, norm, rows, cols, eps);
  CUDA_CHECK_LAUNCH();
}

void l2_normalize_backward(const float* gy, const float* y, const float* norm, float* gx, int64_t rows,
                           int64_t cols, float eps) {
  if (rows == 0) return;
  FF_LAUNCH(l2_bwd_k, warp_blocks(rows), kWarpsPerBlock * 32, 0)(gy, y, norm, gx, rows, cols, eps);
  CUDA_CHECK_LAUNCH();
}

}  // namespace ff::cuda
