// kernels/conv_dnnl.h — float32 2-D convolution on the CPU through oneDNN (Debian libdnnl, the
// library PyTorch's CPU convolutions run on): the CPU counterpart of cuDNN in kernels/conv.cu.
// kernels/conv_cpu.cpp calls it for float when it is built in (FF_HAVE_DNNL) and chosen; the
// im2col + OpenBLAS path stays for double (oneDNN has no float64 convolution) and as the reference
// the oneDNN path is tested against (tests/test_conv_dnnl.cpp).
//
// Choice at run time: FF_CPU_CONV=im2col forces im2col + gemm for float, FF_CPU_CONV=onednn (the
// default where built) uses oneDNN; set_cpu_conv_backend() overrides both (tests, benchmarks).
//
// Layout: our tensors are NCHW. oneDNN's fast direct kernels run on blocked layouts (nChw8c or
// nChw16c, chosen by the library for the CPU), so each call reorders its inputs into them and its
// outputs back, as PyTorch does for NCHW tensors. One plan per geometry holds the primitives; the
// blocked copies live in one scratch mapping per direction sized by the largest call, so memory
// grows with the largest layer, not with the number of layers.
#pragma once
#include <cstdint>
#include <string>

#include "kernels/conv.h"

namespace ff::cpu {

enum class CpuConvBackend { Im2col, OneDnn };

// Whether oneDNN was built in.
bool onednn_built();
// The backend float convolutions use now.
CpuConvBackend cpu_conv_backend();
// Overrides FF_CPU_CONV (asking for OneDnn where it is not built throws).
void set_cpu_conv_backend(CpuConvBackend b);
// "onednn 2.6.3 (cpu isa: avx2)" or "im2col + OpenBLAS"
std::string cpu_conv_describe();

// The oneDNN path itself (FF_HAVE_DNNL only; conv_cpu.cpp dispatches). Contract as conv.h.
void dnnl_conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y);
void dnnl_conv2d_backward(const ConvShape& s, const float* x, const float* w, const float* gy, float* gx,
                          float* gw, float* gb);

// Plans (geometries with primitives) cached now, and the scratch bytes held (both directions).
struct DnnlConvStats {
  int64_t plans = 0;
  int64_t largest_scratch_bytes = 0;
};
DnnlConvStats dnnl_conv_stats();

}  // namespace ff::cpu
