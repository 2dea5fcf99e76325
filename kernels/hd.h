// kernels/hd.h — FF_HD marks a function written once for both backends: host+device and forced
// inline when nvcc compiles it, plain inline for the C++ compiler.
#pragma once

#if defined(__CUDACC__)
#define FF_HD __host__ __device__ __forceinline__
#else
#define FF_HD inline
#endif
