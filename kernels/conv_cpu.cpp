// kernels/conv_cpu.cpp — CPU reference for kernels/conv.h: im2col + OpenBLAS gemm.
//
// Layout: for a chunk of nb images the column matrix col is [K, nb*P] with K = cin*k*k (row
// r = (c*k + ki)*k + kj) and P = ho*wo (column j*P + oh*wo + ow for image j of the chunk), so one
// gemm covers the whole chunk:   y_chunk [cout, nb*P] = w [cout, K] · col [K, nb*P].
// Backward:  gw [cout, K] = Σ_chunks gy_chunk [cout, nb*P] · colᵀ,  gcol = wᵀ · gy_chunk, then
// col2im adds gcol back into gx. A 1x1 stride-1 unpadded convolution of large images skips
// im2col: image n's x[n] [cin, h*w] already is its column matrix.
//
// Threads: one pool, never two (kernels/blas_cpu.h: OpenBLAS runs single-threaded). The batch is
// cut into chunks (at least one per OpenMP thread) and the chunks run on OpenMP threads, each doing
// its own im2col, gemm and col2im / bias; weight gradients are summed per thread and reduced at
// the end in a fixed order, so results repeat exactly for a given thread count. A convolution
// with a single chunk (one image) lets gemm_rm split the product instead. (The earlier design,
// serial loops around OpenBLAS's own threaded gemms, left OpenBLAS's workers spinning in
// sched_yield: the small hourglass's training step went from 284 to ~190 ms with this one.)
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "kernels/blas_cpu.h"
#include "kernels/conv.h"
#include "kernels/conv_dnnl.h"

namespace ff::cpu {

namespace {

// Row-major gemm (kernels/blas_cpu.h): single-threaded inside the chunk loops below, split over
// threads by itself when a convolution has a single chunk.
template <typename T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
          int64_t ldb, T beta, T* c, int64_t ldc) {
  gemm_rm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// Per-thread scratch that only grows: a training step calls conv with the same shapes again and
// again, and fresh multi-megabyte mallocs would be mmap'ed and page-faulted on every call.
template <typename T>
T* scratch(int slot, size_t count) {
  struct Buf {
    std::unique_ptr<char[]> p;
    size_t bytes = 0;
  };
  thread_local Buf bufs[2];
  Buf& b = bufs[slot];
  size_t need = count * sizeof(T);
  if (need > b.bytes) {
    b.p.reset(new char[need]);
    b.bytes = need;
  }
  return reinterpret_cast<T*>(b.p.get());
}

// Runs body(chunk, thread, first) for chunk in [0, chunks) on up to omp_get_max_threads() threads,
// a static contiguous split (thread t gets one fixed range of chunks); `first` marks the first
// chunk of its thread. Returns the number of threads used. (Nothing in body may throw.)
template <typename Body>
int parallel_chunks(int64_t chunks, Body body) {
  const int threads = static_cast<int>(std::min<int64_t>(chunks, std::max(1, omp_get_max_threads())));
  if (threads <= 1) {
    for (int64_t c = 0; c < chunks; ++c) body(c, 0, c == 0);
    return 1;
  }
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    const int64_t lo = chunks * t / threads, hi = chunks * (t + 1) / threads;
    for (int64_t c = lo; c < hi; ++c) body(c, t, c == lo);
  }
  return threads;
}

// Weight gradients: each thread sums its chunks into its own [cout, K] slice of `partial`
// (threads x cout x K); then gw = the slices added in thread order.
template <typename T>
void reduce_partials(const T* partial, int threads, int64_t size, T* gw) {
  std::copy(partial, partial + size, gw);
  for (int t = 1; t < threads; ++t)
    for (int64_t i = 0; i < size; ++i) gw[i] += partial[t * size + i];
}

// A 1x1 stride-1 unpadded convolution skips im2col and multiplies each image's x[n] directly —
// when the images are large enough (P >= 1024) for per-image gemms to be efficient. For small
// images (ResNet's 7x7 and 14x14 stages) copying a chunk of images into one column matrix and
// running one wide gemm measured ~30% faster.
bool is_direct(const ConvShape& s) {
  return s.k == 1 && s.stride == 1 && s.pad == 0 && (s.ho * s.wo >= 1024 || s.n == 1);
}

// Images per chunk: enough columns for an efficient gemm (~4096), within a column buffer of
// ~8M elements, at least one image, and few enough that every OpenMP thread gets a chunk.
int64_t chunk_images(const ConvShape& s) {
  const int64_t P = s.ho * s.wo, K = s.cin * s.k * s.k;
  int64_t nb = std::max<int64_t>(1, (4096 + P - 1) / std::max<int64_t>(P, 1));
  nb = std::min(nb, std::max<int64_t>(1, (int64_t{8} << 20) / std::max<int64_t>(K * P, 1)));
  const int64_t threads = std::max(1, omp_get_max_threads());
  nb = std::min(nb, (s.n + threads - 1) / threads);
  return std::max<int64_t>(1, std::min(nb, s.n));
}

// The output columns [lo, hi) whose input column ow*stride - pad + kj lies inside [0, w).
inline void valid_range(int64_t kj, const ConvShape& s, int64_t& lo, int64_t& hi) {
  // iw >= 0  <=>  ow >= ceil((pad - kj) / stride);  iw <= w-1  <=>  ow <= floor((w-1+pad-kj) / stride)
  int64_t a = s.pad - kj;
  lo = a <= 0 ? 0 : (a + s.stride - 1) / s.stride;
  int64_t b = s.w - 1 + s.pad - kj;
  hi = b < 0 ? 0 : std::min(s.wo, b / s.stride + 1);
  if (lo > hi) lo = hi;
}

// x: the chunk's first image [nb, cin, h, w] -> col [K, nb*P].
template <typename T>
void im2col(const ConvShape& s, const T* x, int64_t nb, T* col) {
  const int64_t P = s.ho * s.wo, ld = nb * P;
  for (int64_t c = 0; c < s.cin; ++c)
    for (int64_t j = 0; j < nb; ++j) {
      const T* xp = x + (j * s.cin + c) * s.h * s.w;
      for (int64_t ki = 0; ki < s.k; ++ki)
        for (int64_t kj = 0; kj < s.k; ++kj) {
          T* dst = col + ((c * s.k + ki) * s.k + kj) * ld + j * P;
          int64_t lo, hi;
          valid_range(kj, s, lo, hi);
          for (int64_t oh = 0; oh < s.ho; ++oh) {
            T* d = dst + oh * s.wo;
            int64_t ih = oh * s.stride - s.pad + ki;
            if (ih < 0 || ih >= s.h) {
              std::fill(d, d + s.wo, T(0));
              continue;
            }
            const T* row = xp + ih * s.w;
            const int64_t off = kj - s.pad;  // d[ow] = row[ow * stride + off]
            std::fill(d, d + lo, T(0));
            if (s.stride == 1) {
              if (lo < hi) std::memcpy(d + lo, row + lo + off, (hi - lo) * sizeof(T));
            } else {
              for (int64_t ow = lo; ow < hi; ++ow) d[ow] = row[ow * s.stride + off];
            }
            std::fill(d + hi, d + s.wo, T(0));
          }
        }
    }
}

// col [K, nb*P] -> gx: the chunk's first image [nb, cin, h, w], overwritten; each element sums
// its taps in a fixed order (deterministic).
template <typename T>
void col2im(const ConvShape& s, const T* col, int64_t nb, T* gx) {
  const int64_t P = s.ho * s.wo, ld = nb * P;
  for (int64_t c = 0; c < s.cin; ++c)
    for (int64_t j = 0; j < nb; ++j) {
      T* gp = gx + (j * s.cin + c) * s.h * s.w;
      std::fill(gp, gp + s.h * s.w, T(0));
      for (int64_t ki = 0; ki < s.k; ++ki)
        for (int64_t kj = 0; kj < s.k; ++kj) {
          const T* src = col + ((c * s.k + ki) * s.k + kj) * ld + j * P;
          int64_t lo, hi;
          valid_range(kj, s, lo, hi);
          for (int64_t oh = 0; oh < s.ho; ++oh) {
            int64_t ih = oh * s.stride - s.pad + ki;
            if (ih < 0 || ih >= s.h) continue;
            T* row = gp + ih * s.w;
            const int64_t off = kj - s.pad;
            const T* sr = src + oh * s.wo;
            for (int64_t ow = lo; ow < hi; ++ow) row[ow * s.stride + off] += sr[ow];
          }
        }
    }
}

// tmp [cout, nb, P] -> y [nb, cout, P] (+ b[co]).
template <typename T>
void unshuffle_bias(const T* tmp, const T* b, int64_t cout, int64_t nb, int64_t P, T* y) {
  for (int64_t j = 0; j < nb; ++j)
    for (int64_t co = 0; co < cout; ++co) {
      const T* src = tmp + (co * nb + j) * P;
      T* dst = y + (j * cout + co) * P;
      T bias = b ? b[co] : T(0);
      for (int64_t p = 0; p < P; ++p) dst[p] = src[p] + bias;
    }
}

// gy [nb, cout, P] -> tmp [cout, nb, P].
template <typename T>
void shuffle(const T* gy, int64_t cout, int64_t nb, int64_t P, T* tmp) {
  for (int64_t co = 0; co < cout; ++co)
    for (int64_t j = 0; j < nb; ++j) std::memcpy(tmp + (co * nb + j) * P, gy + (j * cout + co) * P, P * sizeof(T));
}

// Sum of g[0..n): eight independent partial sums (the compiler vectorises them), then in double.
template <typename T>
double row_sum(const T* g, int64_t n) {
  T lane[8] = {};
  int64_t p = 0;
  for (; p + 8 <= n; p += 8)
    for (int j = 0; j < 8; ++j) lane[j] += g[p + j];
  double s = 0;
  for (int j = 0; j < 8; ++j) s += static_cast<double>(lane[j]);
  for (; p < n; ++p) s += static_cast<double>(g[p]);
  return s;
}

template <typename T>
void add_bias(const T* b, int64_t n, int64_t cout, int64_t P, T* y) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t co = 0; co < cout; ++co) {
      T* d = y + (i * cout + co) * P;
      T v = b[co];
      for (int64_t p = 0; p < P; ++p) d[p] += v;
    }
}

template <typename T>
void forward_impl(const ConvShape& s, const T* x, const T* w, const T* b, T* y) {
  const int64_t P = s.ho * s.wo, K = s.cin * s.k * s.k, HW = s.h * s.w;
  if (s.n == 0 || P == 0) return;
  if (is_direct(s)) {
    parallel_chunks(s.n, [&](int64_t i, int, bool) {
      gemm(false, false, s.cout, P, K, T(1), w, K, x + i * s.cin * HW, P, T(0), y + i * s.cout * P, P);
      if (b) add_bias(b, 1, s.cout, P, y + i * s.cout * P);
    });
    return;
  }
  const int64_t nb = chunk_images(s), chunks = (s.n + nb - 1) / nb;
  parallel_chunks(chunks, [&](int64_t c, int, bool) {
    const int64_t n0 = c * nb, cur = std::min(nb, s.n - n0);
    T* col = scratch<T>(0, static_cast<size_t>(K * nb * P));  // per thread
    T* yc = y + n0 * s.cout * P;
    im2col(s, x + n0 * s.cin * HW, cur, col);
    if (cur == 1) {
      gemm(false, false, s.cout, P, K, T(1), w, K, col, P, T(0), yc, P);
      if (b) add_bias(b, 1, s.cout, P, yc);
    } else {
      T* tmp = scratch<T>(1, static_cast<size_t>(s.cout * nb * P));
      gemm(false, false, s.cout, cur * P, K, T(1), w, K, col, cur * P, T(0), tmp, cur * P);
      unshuffle_bias(tmp, b, s.cout, cur, P, yc);
    }
  });
}

template <typename T>
void backward_impl(const ConvShape& s, const T* x, const T* w, const T* gy, T* gx, T* gw, T* gb) {
  const int64_t P = s.ho * s.wo, K = s.cin * s.k * s.k, HW = s.h * s.w;
  if (gb) {
    // Per channel: each image's row summed in 8 independent lanes (vectorised), the row sums
    // added in double.
#pragma omp parallel for schedule(static) if (s.n * s.cout * P > 65536)
    for (int64_t co = 0; co < s.cout; ++co) {
      double acc = 0;
      for (int64_t i = 0; i < s.n; ++i) acc += row_sum(gy + (i * s.cout + co) * P, P);
      gb[co] = static_cast<T>(acc);
    }
  }
  if (!gx && !gw) return;
  if (s.n == 0 || P == 0) {  // nothing reaches the weights; the input gets zeros
    if (gw) std::fill(gw, gw + s.cout * K, T(0));
    if (gx) std::fill(gx, gx + s.n * s.cin * HW, T(0));
    return;
  }
  const int64_t wsize = s.cout * K;
  const int threads = static_cast<int>(std::max(1, omp_get_max_threads()));
  // Per-thread weight-gradient sums (slice t for thread t); slice 0 is gw itself when one thread runs.
  std::vector<T> partial(gw && threads > 1 ? static_cast<size_t>(threads * wsize) : 0);
  auto gw_slice = [&](int t) { return partial.empty() ? gw : partial.data() + t * wsize; };
  int used = 1;
  if (is_direct(s)) {
    used = parallel_chunks(s.n, [&](int64_t i, int t, bool first) {
      const T* g = gy + i * s.cout * P;
      if (gw) gemm(false, true, s.cout, K, P, T(1), g, P, x + i * s.cin * HW, P, first ? T(0) : T(1), gw_slice(t), K);
      if (gx) gemm(true, false, K, P, s.cout, T(1), w, K, g, P, T(0), gx + i * s.cin * HW, P);
    });
  } else {
    const int64_t nb = chunk_images(s), chunks = (s.n + nb - 1) / nb;
    used = parallel_chunks(chunks, [&](int64_t c, int t, bool first) {
      const int64_t n0 = c * nb, cur = std::min(nb, s.n - n0), ld = cur * P;
      T* col = scratch<T>(0, static_cast<size_t>(K * nb * P));  // per thread
      const T* g = gy + n0 * s.cout * P;  // [cout, ld] when cur == 1
      if (cur > 1) {
        T* tmp = scratch<T>(1, static_cast<size_t>(s.cout * nb * P));
        shuffle(g, s.cout, cur, P, tmp);
        g = tmp;
      }
      if (gw) {
        im2col(s, x + n0 * s.cin * HW, cur, col);
        gemm(false, true, s.cout, K, ld, T(1), g, ld, col, ld, first ? T(0) : T(1), gw_slice(t), K);
      }
      if (gx) {
        gemm(true, false, K, ld, s.cout, T(1), w, K, g, ld, T(0), col, ld);  // col now holds gcol
        col2im(s, col, cur, gx + n0 * s.cin * HW);
      }
    });
  }
  if (gw && !partial.empty()) reduce_partials(partial.data(), used, wsize, gw);
}

}  // namespace

// float: oneDNN where it is built in and chosen (kernels/conv_dnnl.h), else im2col; double: im2col.
void conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y) {
  if (cpu_conv_backend() == CpuConvBackend::OneDnn) return dnnl_conv2d_forward(s, x, w, b, y);
  forward_impl(s, x, w, b, y);
}
void conv2d_backward(const ConvShape& s, const float* x, const float* w, const float* gy, float* gx, float* gw,
                     float* gb) {
  if (cpu_conv_backend() == CpuConvBackend::OneDnn) {
    // The bias gradient as im2col computes it (float lanes per row, rows in double): oneDNN's own
    // float sums lost the exact zero of a bias before batch norm under AVX2 (2.4e-7 where the
    // tolerance is 1.3e-7, TrainTiny.TrajectoryMatchesPyTorch with DNNL_MAX_CPU_ISA=AVX2).
    if (gb) backward_impl<float>(s, nullptr, nullptr, gy, nullptr, nullptr, gb);
    if (gx || gw) dnnl_conv2d_backward(s, x, w, gy, gx, gw, nullptr);
    return;
  }
  backward_impl(s, x, w, gy, gx, gw, gb);
}
void conv2d_forward(const ConvShape& s, const double* x, const double* w, const double* b, double* y) {
  forward_impl(s, x, w, b, y);
}
void conv2d_backward(const ConvShape& s, const double* x, const double* w, const double* gy, double* gx,
                     double* gw, double* gb) {
  backward_impl(s, x, w, gy, gx, gw, gb);
}

}  // namespace ff::cpu
