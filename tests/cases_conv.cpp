// tests/cases_conv.cpp — op cases for conv2d, max_pool2d and adaptive_avg_pool2d_1x1.
// PyTorch side: tools/goldens/conv.py (same case names, same shape sets, same stride/pad).
// Shape sets mix batch 1 and 2, odd and non-square inputs (7x7, 5x6, 9x11): with N=2 the CPU
// convolution runs its multi-image chunk path, with N=1 its single-image path; the *_direct,
// *_chunks and *_gemm_split cases below reach the paths that need larger images or batches.
#include "tests/op_cases.h"

namespace ff::test {
namespace {

struct ConvSet {
  int64_t n, cin, h, w, cout;
};

// x [n, cin, h, w], w [cout, cin, k, k], b [cout] (when bias), all uniform in [-1, 1).
OpCase conv_case(const std::string& name, int k, int stride, int pad, bool bias, std::vector<ConvSet> sets) {
  OpCase c;
  c.name = name;
  c.shape_sets = static_cast<int>(sets.size());
  c.make = [sets, k, bias](Rng& rng, DType dt, int i) {
    const ConvSet& s = sets[i];
    std::vector<Tensor> in{rand_tensor(rng, {s.n, s.cin, s.h, s.w}, dt), rand_tensor(rng, {s.cout, s.cin, k, k}, dt)};
    if (bias) in.push_back(rand_tensor(rng, {s.cout}, dt));
    return in;
  };
  c.fn = [stride, pad, bias](const std::vector<Tensor>& in) {
    return conv2d(in[0], in[1], bias ? in[2] : Tensor(), stride, pad);
  };
  c.grad_inputs = bias ? std::vector<int>{0, 1, 2} : std::vector<int>{0, 1};
  // Outputs and weight gradients are sums of up to ~600 products of values in [-1, 1): our
  // summation order (OpenBLAS / cuDNN) differs from PyTorch's, so float32 rounding of a sum near
  // zero needs an absolute floor; relative 1e-5 still holds everywhere else.
  c.rtol = 1e-5;
  c.atol = 1e-5;
  c.cuda_rtol = 1e-5;
  c.cuda_atol = 1e-5;
  c.no_nonfinite_check =
      "cuDNN may pick an FFT or Winograd algorithm, which transforms whole tiles: one NaN or infinite input "
      "then spreads NaN to outputs outside its receptive field, where the CPU's direct sum has finite values "
      "(allowed by cuDNN, as in PyTorch's cuDNN path); conv2d is a library call, not our kernel";
  c.stand_in = "conv2d is cuDNN";  // forward and backward, bias included: nothing of ours
  c.stand_in_only = true;
  return c;
}

FF_OP_CASE(conv2d_1x1) {
  return conv_case("conv2d_1x1", 1, 1, 0, true, {{2, 3, 5, 6, 4}, {1, 4, 7, 7, 3}, {2, 5, 3, 4, 2}});
}
FF_OP_CASE(conv2d_1x1_nobias) {
  return conv_case("conv2d_1x1_nobias", 1, 1, 0, false, {{2, 3, 5, 6, 4}, {1, 4, 7, 7, 3}});
}
// ResNet's downsampling shortcut: 1x1 stride 2 goes through im2col.
FF_OP_CASE(conv2d_1x1_s2) {
  return conv_case("conv2d_1x1_s2", 1, 2, 0, false, {{2, 3, 7, 7, 4}, {1, 2, 6, 5, 3}});
}
FF_OP_CASE(conv2d_3x3) {
  return conv_case("conv2d_3x3", 3, 1, 1, true, {{2, 3, 7, 7, 4}, {1, 2, 5, 6, 3}, {2, 1, 4, 4, 2}});
}
FF_OP_CASE(conv2d_3x3_s2) {
  return conv_case("conv2d_3x3_s2", 3, 2, 1, true, {{2, 3, 7, 7, 4}, {1, 2, 5, 6, 3}, {2, 2, 8, 8, 3}});
}
FF_OP_CASE(conv2d_7x7_s2) {
  return conv_case("conv2d_7x7_s2", 7, 2, 3, false, {{2, 2, 9, 11, 3}, {1, 2, 7, 7, 3}, {2, 1, 5, 6, 2}});
}
FF_OP_CASE(conv2d_3x3_p0) {
  return conv_case("conv2d_3x3_p0", 3, 1, 0, true, {{2, 3, 7, 7, 4}, {1, 2, 5, 6, 3}, {1, 2, 3, 3, 2}});
}

// The kernel paths of kernels/conv_cpu.cpp with several images per thread (MatchesPyTorch runs at 1
// and 2 OpenMP threads, GradCheckF64 at 2; P = output pixels per image, chunk = images per gemm).
// Their references are PyTorch's float64 results rounded to float32 (tools/goldens/conv.py): the
// weight gradients sum 5,000 to 12,000 products, max |value| 36 to 153, and ours are within
// 2.5e-5 of them (both OpenBLAS kernels, 1 and 2 threads): atol 1e-4.
OpCase path_case(const std::string& name, int k, int pad, bool bias, std::vector<ConvSet> sets) {
  OpCase c = conv_case(name, k, 1, pad, bias, std::move(sets));
  c.atol = 1e-4;
  return c;
}
//   direct: a 1x1 stride-1 unpadded convolution with P >= 1024 multiplies each image directly;
//           4 and 5 images: 2 and 2/3 per thread, the weight gradient summed over them.
FF_OP_CASE(conv2d_1x1_direct) {
  return path_case("conv2d_1x1_direct", 1, 0, true, {{4, 2, 32, 32, 2}, {5, 1, 32, 40, 2}});
}
//   chunks: P = 1024 -> 4 images per chunk, 10 images -> chunks of 4, 4, 2 (the last partial);
//           at 2 threads the second thread runs two chunks.
FF_OP_CASE(conv2d_3x3_chunks) { return path_case("conv2d_3x3_chunks", 3, 1, true, {{10, 1, 32, 32, 1}}); }
//   single-image chunks: P >= 4096 -> one image per chunk, gemms straight into y (no shuffle);
//           3 images: the second thread runs two.
FF_OP_CASE(conv2d_3x3_image_chunks) { return path_case("conv2d_3x3_image_chunks", 3, 1, false, {{3, 1, 64, 64, 1}}); }
//   one image, products large enough (>= 2^18 multiply-adds) that kernels/blas_cpu.cpp splits the
//           forward and input-gradient gemms by columns over the threads.
FF_OP_CASE(conv2d_3x3_gemm_split) { return path_case("conv2d_3x3_gemm_split", 3, 1, true, {{1, 4, 32, 32, 8}}); }

// Max pooling: uniform random inputs have no ties, so the argmax (and the gradient) is unique.
OpCase pool_case(const std::string& name, int k, int stride, int pad, std::vector<Shape> shapes,
                 bool ceil_mode = false) {
  OpCase c;
  c.name = name;
  c.shape_sets = static_cast<int>(shapes.size());
  c.make = [shapes](Rng& rng, DType dt, int i) { return std::vector<Tensor>{rand_tensor(rng, shapes[i], dt)}; };
  c.fn = [k, stride, pad, ceil_mode](const std::vector<Tensor>& in) {
    return max_pool2d(in[0], k, stride, pad, ceil_mode);
  };
  c.grad_inputs = {0};
  // Forward is a selection, backward adds each window's gradient into its argmax in increasing
  // output order, as PyTorch's CPU kernel does: exact. The CUDA gather adds in the same order;
  // a hair of relative slack is left for it.
  c.rtol = 0;
  c.atol = 0;
  c.cuda_rtol = 1e-6;
  c.cuda_atol = 0;
  return c;
}

FF_OP_CASE(max_pool2d_2x2) {
  // 7x7 -> 3x3: the last row and column are in no window and must get a zero gradient.
  return pool_case("max_pool2d_2x2", 2, 2, 0, {{2, 3, 7, 7}, {1, 2, 6, 5}, {2, 1, 4, 4}});
}
FF_OP_CASE(max_pool2d_3x3_s2) {
  // ResNet's stem pool; the windows overlap, so some inputs collect gradient from two windows.
  return pool_case("max_pool2d_3x3_s2", 3, 2, 1, {{2, 3, 7, 7}, {1, 2, 5, 6}, {1, 2, 8, 8}});
}
FF_OP_CASE(max_pool2d_3x3_s1) {
  return pool_case("max_pool2d_3x3_s1", 3, 1, 1, {{1, 2, 5, 6}, {2, 1, 4, 4}});
}

// ceil_mode (MTCNN's pools): the output rounds up, and the last window, clipped to the input,
// holds fewer elements (7x7 with 2x2/2 -> 4x4, the last row and column windows of one element).
FF_OP_CASE(max_pool2d_2x2_ceil) {
  return pool_case("max_pool2d_2x2_ceil", 2, 2, 0, {{2, 3, 7, 7}, {1, 2, 6, 5}, {1, 1, 5, 8}}, true);
}
FF_OP_CASE(max_pool2d_3x3_s2_ceil) {
  // R-Net's and O-Net's 3x3/2: 8 -> 4 (floor: 3), 10 -> 5 (floor: 4), 7 -> 3 (no change).
  return pool_case("max_pool2d_3x3_s2_ceil", 3, 2, 0, {{2, 3, 7, 7}, {1, 2, 8, 6}, {1, 2, 10, 11}}, true);
}
FF_OP_CASE(max_pool2d_3x3_s3_p1_ceil) {
  // 5 with pad 1: rounding up gives 3 windows, but the third would start at 5 = h + pad - 1 + 1,
  // in the right padding: PyTorch drops it (2); 8 -> 3 (floor: 3), 7 -> 3 (floor: 2).
  return pool_case("max_pool2d_3x3_s3_p1_ceil", 3, 3, 1, {{1, 2, 5, 5}, {2, 1, 7, 8}}, true);
}

FF_OP_CASE(adaptive_avg_pool2d_1x1) {
  OpCase c;
  c.name = "adaptive_avg_pool2d_1x1";
  c.shape_sets = 3;
  c.make = [](Rng& rng, DType dt, int k) {
    const Shape shapes[] = {{2, 3, 7, 7}, {1, 4, 5, 6}, {2, 2, 1, 1}};
    return std::vector<Tensor>{rand_tensor(rng, shapes[k], dt)};
  };
  c.fn = [](const std::vector<Tensor>& in) { return adaptive_avg_pool2d_1x1(in[0]); };
  c.grad_inputs = {0};
  return c;
}

}  // namespace
}  // namespace ff::test
