// tests/test_cuda_big_index.cpp — index arithmetic beyond 2^31 elements, on the CPU emulation of CUDA
// (cudaemu/, -DFF_CUDA_EMU=ON) only: tensors of more than 2^31 floats (8.6 GB each) are mmap'd
// address space there (cudaMalloc of >= 1 GiB: MAP_NORESERVE, zero, not poisoned), and
// cudaemu::BlockWindow runs only a few blocks of the grid, so a test touches a few pages and runs
// in milliseconds. The kernels under test are the grid-stride element-wise kernels
// (FF_KERNEL_LOOP, kernels/cuda_common.cuh, through kernels/elementwise.h's launchers) and a kernel
// whose index comes straight from blockIdx/threadIdx (l2_fwd_k, kernels/linear.cu: one warp per
// row, row offset r * cols). A 32-bit loop index (FF_KERNEL_LOOP's int64_t -> int: the mutant M5
// of tools/mutants.py) wraps to a negative index past 2^31: the kernel writes outside the array
// (a crash) or never writes the elements at and above 2^31 (a wrong value here).
// Elsewhere: skipped ("not applicable"), as a real GPU cannot run a test of 17 GB this way.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <set>
#include <vector>

#ifdef FF_CUDA_EMU
#include "cudaemu/cudaemu.h"
#include "kernels/elementwise.h"
#include "kernels/linear.h"
#endif

namespace {

#ifdef FF_CUDA_EMU

// n floats of device memory; n * 4 >= 1 GiB here, so only the pages touched are committed.
struct HugeFloats {
  float* p = nullptr;
  explicit HugeFloats(int64_t n) {
    EXPECT_EQ(cudaMalloc(&p, static_cast<size_t>(n) * sizeof(float)), cudaSuccess) << n << " floats";
  }
  ~HugeFloats() { cudaFree(p); }
};

constexpr int64_t kTwo31 = int64_t{1} << 31;
constexpr int kBlock = 256;  // kernels/cuda_common.cuh: ff::cuda::kBlock, the launchers' block size

// The blocks of the grid of an element-wise launcher: ff::cuda::blocks_for(n) (cuda_common.cuh,
// not includable from a .cpp): one thread per element, at most 65535 * 8 blocks.
int64_t grid_for(int64_t n) {
  const int64_t b = (n + kBlock - 1) / kBlock;
  return b > 65535 * 8 ? 65535 * 8 : b;
}

// The indices that the threads of blocks [first, last) of a grid-stride loop over n write.
std::vector<int64_t> loop_indices(int64_t first, int64_t last, int64_t grid, int64_t n) {
  std::vector<int64_t> out;
  const int64_t stride = grid * kBlock;
  for (int64_t b = first; b < last; ++b)
    for (int64_t t = 0; t < kBlock; ++t)
      for (int64_t i = b * kBlock + t; i < n; i += stride) out.push_back(i);
  return out;
}

// A value that differs between any two indices of one test (exact in float: < 2^24) and from 0.
float value_at(int64_t i) { return static_cast<float>((i >> 8) % 8000000 + 1) + (i & 1 ? 0.5f : 0.f); }

// y = 2 x + 1 (ff::cuda::affine, FF_KERNEL_LOOP) over 2^31 + 2^24 floats: 524 280 blocks of 256
// threads, a stride of 134 215 680, so each thread makes 16 or 17 passes, the 17th of blocks 128
// to 65 663 at indices >= 2^31 (up to n - 1). Windows: the first blocks (their last pass ends
// just below 2^31: a 32-bit index wraps right after), the first blocks past 2^31, the last blocks
// reaching n - 1, and the grid's last blocks (16 passes).
TEST(CudaBigIndex, GridStrideLoopPast2To31) {
  const int64_t n = kTwo31 + (int64_t{1} << 24);
  const int64_t grid = grid_for(n);
  ASSERT_EQ(grid, 524280);
  HugeFloats x(n), y(n);
  ASSERT_NE(x.p, nullptr);
  ASSERT_NE(y.p, nullptr);
  const std::pair<int64_t, int64_t> windows[] = {{0, 2}, {128, 130}, {65662, 65664}, {grid - 2, grid}};
  std::vector<int64_t> written;
  for (auto [first, last] : windows) {
    std::vector<int64_t> idx = loop_indices(first, last, grid, n);
    written.insert(written.end(), idx.begin(), idx.end());
  }
  // Device memory is host memory under the emulation: write the inputs there directly.
  for (int64_t i : written) x.p[i] = value_at(i);
  int64_t above = 0, last_index = 0;
  for (int64_t i : written) {
    above += i >= kTwo31;
    last_index = std::max(last_index, i);
  }
  ASSERT_EQ(last_index, n - 1) << "the windows reach the last element";
  ASSERT_EQ(above, 2 * 2 * kBlock) << "two windows of two blocks write at and above 2^31";

  cudaemu::reset_stats();
  for (auto [first, last] : windows) {
    cudaemu::BlockWindow w(first, last);
    ff::cuda::affine(x.p, y.p, n, 2.f, 1.f);
  }
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(cudaemu::stats().blocks, 8) << "four windows of two blocks";

  const std::set<int64_t> set(written.begin(), written.end());
  int64_t checked = 0;
  for (int64_t i : written) {
    ASSERT_EQ(y.p[i], 2.f * value_at(i) + 1.f) << "y[" << i << "] (2^31 + " << i - kTwo31 << ")";
    // The neighbours that no chosen block owns stay zero (untouched mmap'd pages read as zero).
    for (int64_t j = i - kBlock; j <= i + kBlock; j += kBlock / 4)
      if (j >= 0 && j < n && !set.count(j)) {
        ASSERT_EQ(y.p[j], 0.f) << "y[" << j << "] written by no chosen block";
        ++checked;
      }
  }
  EXPECT_GT(checked, 0);
}

// y += 0.5 x (ff::cuda::axpy: reads and writes y) over the same size, the blocks past 2^31 only.
TEST(CudaBigIndex, AxpyReadsAndWritesPast2To31) {
  const int64_t n = kTwo31 + (int64_t{1} << 24);
  const int64_t grid = grid_for(n);
  HugeFloats x(n), y(n);
  ASSERT_NE(x.p, nullptr);
  ASSERT_NE(y.p, nullptr);
  std::vector<int64_t> written = loop_indices(65662, 65664, grid, n);
  for (int64_t i : written) {
    x.p[i] = value_at(i);
    y.p[i] = 3.f;
  }
  {
    cudaemu::BlockWindow w(65662, 65664);
    ff::cuda::axpy(y.p, 0.5f, x.p, n);
  }
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  int64_t above = 0;
  for (int64_t i : written) {
    ASSERT_EQ(y.p[i], 3.f + 0.5f * value_at(i)) << "y[" << i << "]";
    above += i >= kTwo31;
  }
  EXPECT_EQ(above, 2 * kBlock);
  EXPECT_EQ(y.p[n - 1 - 2 * kBlock], 0.f) << "a block outside the window wrote";
}

// l2_fwd_k (kernels/linear.cu): one warp per row, rows walked by grid stride over 65535 * 8 warps,
// the row at element offset r * cols. 2^20 + 64 rows of 2048: the last 64 rows start at and above
// 2^31 and are the third rows of warps 16..79, i.e. blocks 2..9 (8 warps each).
TEST(CudaBigIndex, RowKernelPast2To31) {
  const int64_t rows = (int64_t{1} << 20) + 64, cols = 2048, n = rows * cols;
  const int64_t warps = 65535 * 8;
  HugeFloats x(n), y(n);
  float* norm = nullptr;
  ASSERT_EQ(cudaMalloc(&norm, static_cast<size_t>(rows) * sizeof(float)), cudaSuccess);
  ASSERT_NE(x.p, nullptr);
  ASSERT_NE(y.p, nullptr);
  std::vector<int64_t> big_rows;
  for (int64_t r = 2 * warps + 16; r < 2 * warps + 80; ++r) big_rows.push_back(r);
  ASSERT_EQ(big_rows.front(), int64_t{1} << 20);
  ASSERT_EQ(big_rows.back(), rows - 1);
  for (int64_t r : big_rows)
    for (int64_t j = 0; j < cols; ++j) x.p[r * cols + j] = static_cast<float>(1 + (j + r) % 7);
  {
    cudaemu::BlockWindow w(2, 10);
    ff::cuda::l2_normalize_forward(x.p, y.p, norm, rows, cols, 1e-12f);
  }
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  for (int64_t r : big_rows) {
    double ss = 0.0;
    for (int64_t j = 0; j < cols; ++j) ss += double(x.p[r * cols + j]) * x.p[r * cols + j];
    const double nrm = std::sqrt(ss);
    ASSERT_NEAR(norm[r], nrm, 1e-5 * nrm) << "row " << r;
    for (int64_t j = 0; j < cols; ++j)
      ASSERT_NEAR(y.p[r * cols + j], x.p[r * cols + j] / nrm, 1e-6) << "row " << r << " col " << j;
  }
  // Rows the window's warps own below 2^31 (zero input: norm 0, output 0 / eps = 0) and a row of
  // a block outside the window (norm never written: still the poison bytes of fresh memory).
  EXPECT_EQ(norm[16], 0.f);
  EXPECT_EQ(y.p[(warps + 16) * cols], 0.f);
  const unsigned char* b0 = reinterpret_cast<const unsigned char*>(norm);
  EXPECT_TRUE(b0[0] == cudaemu::poison() && b0[3] == cudaemu::poison()) << "block 0 is outside the window";
  cudaFree(norm);
}

#else

TEST(CudaBigIndex, NeedsTheEmulation) {
  GTEST_SKIP() << "not applicable: tensors of more than 2^31 elements are tested on the CPU emulation "
                  "of CUDA only (-DFF_CUDA_EMU=ON: lazy mmap'd device memory and cudaemu::BlockWindow)";
}

#endif

}  // namespace
