// kernels/heatmap.cu — CUDA twin of kernels/heatmap_cpu.cpp (float32).
#include "kernels/cuda_common.cuh"
#include "kernels/heatmap.h"

namespace ff::cuda {

namespace {
// One thread per heatmap pixel; consecutive threads write consecutive pixels (coalesced).
__global__ void render_k(const float* points, float* heatmaps, int64_t n, int64_t h, int64_t w, float inv) {
  const int64_t per_map = h * w;
  FF_KERNEL_LOOP(i, n * per_map) {
    const int64_t m = i / per_map, rem = i % per_map;
    heatmaps[i] = gaussian<float>(static_cast<float>(rem % w), static_cast<float>(rem / w), points[2 * m],
                                  points[2 * m + 1], inv);
  }
}

constexpr int kDecodeBlock = 256;

// One block per map (grid-stride over maps): each thread scans a strided slice for its best
// pixel, a shared-memory tree reduces them with the same order as the CPU scan (heatmap_better:
// larger value, then smaller index), then thread 0 refines the peak.
__global__ void decode_k(const float* heatmaps, float* points, int64_t n, int64_t h, int64_t w, HeatmapDecode method,
                         int64_t radius) {
  __shared__ float best_v[kDecodeBlock];  FF_EMU_SHARED(best_v);
  __shared__ int64_t best_i[kDecodeBlock];  FF_EMU_SHARED(best_i);
  for (int64_t m = blockIdx.x; m < n; m += gridDim.x) {
    const float* map = heatmaps + m * h * w;
    float bv = 0.f;
    int64_t bi = -1;
    for (int64_t i = threadIdx.x; i < h * w; i += blockDim.x)
      if (heatmap_better(map[i], i, bv, bi)) bv = map[i], bi = i;
    best_v[threadIdx.x] = bv;
    best_i[threadIdx.x] = bi;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
      if (threadIdx.x < s) {
        int64_t oi = best_i[threadIdx.x + s];
        if (oi >= 0 && heatmap_better(best_v[threadIdx.x + s], oi, best_v[threadIdx.x], best_i[threadIdx.x])) {
          best_v[threadIdx.x] = best_v[threadIdx.x + s];
          best_i[threadIdx.x] = oi;
        }
      }
      __syncthreads();
    }
    if (threadIdx.x == 0) heatmap_refine(map, h, w, best_i[0] < 0 ? 0 : best_i[0], method, radius, points + 2 * m);
    __syncthreads();  // the shared arrays are reused by the next map
  }
}
}  // namespace

void render_gaussian_heatmaps(const float* points, float* heatmaps, int64_t n, int64_t h, int64_t w, float sigma) {
  if (n * h * w == 0) return;
  FF_LAUNCH(render_k, blocks_for(n * h * w), kBlock, 0)(points, heatmaps, n, h, w,
                                                                    1.f / (2.f * sigma * sigma));
  CUDA_CHECK_LAUNCH();
}

void decode_heatmaps(const float* heatmaps, float* points, int64_t n, int64_t h, int64_t w, HeatmapDecode method,
                     int64_t radius) {
  if (n == 0) return;
  const int grid = static_cast<int>(n < 65535 ? n : 65535);
  FF_LAUNCH(decode_k, grid, kDecodeBlock, 0)(heatmaps, points, n, h, w, method, radius);
  CUDA_CHECK_LAUNCH();
}

}  // namespace ff::cuda
