// kernels/batchnorm_cpu.cpp — CPU reference for kernels/batchnorm.h: one OpenMP task per channel,
// statistics and gradient sums in two passes (mean, then squared deviations, which avoids the
// cancellation of E[x^2] - E[x]^2). Each image's row of a channel is summed in eight independent
// lanes of T (vectorised), the row sums in double; the per-element maps run in T with constants
// prepared in double. (The first version did every element in double: scalar conversions, no
// vectorisation — 14% of the small hourglass's training step.)
#include <cmath>

#include "kernels/batchnorm.h"

namespace ff::cpu {

namespace {

// Sum over the N * HW elements of channel c of f(p, i) (p = the image's row): per row eight lanes
// of T, the row sums in double.
template <typename T, typename F>
double channel_sum(int64_t N, int64_t C, int64_t HW, int64_t c, F f) {
  double s = 0.0;
  for (int64_t n = 0; n < N; ++n) {
    const int64_t row = (n * C + c) * HW;
    T lane[8] = {};
    int64_t i = 0;
    for (; i + 8 <= HW; i += 8)
      for (int j = 0; j < 8; ++j) lane[j] += f(row, i + j);
    for (int j = 0; j < 8; ++j) s += static_cast<double>(lane[j]);
    for (; i < HW; ++i) s += static_cast<double>(f(row, i));
  }
  return s;
}

// Both sums of the backward in one pass over gy and x: sum(gy) and sum(gy * (x - mt)).
template <typename T>
void channel_sums_backward(int64_t N, int64_t C, int64_t HW, int64_t c, const T* gy, const T* x, T mt, double& sg,
                           double& sgx) {
  sg = sgx = 0.0;
  for (int64_t n = 0; n < N; ++n) {
    const int64_t row = (n * C + c) * HW;
    const T* g = gy + row;
    const T* v = x + row;
    T a[8] = {}, b[8] = {};
    int64_t i = 0;
    for (; i + 8 <= HW; i += 8)
      for (int j = 0; j < 8; ++j) {
        a[j] += g[i + j];
        b[j] += g[i + j] * (v[i + j] - mt);
      }
    for (int j = 0; j < 8; ++j) {
      sg += static_cast<double>(a[j]);
      sgx += static_cast<double>(b[j]);
    }
    for (; i < HW; ++i) {
      sg += static_cast<double>(g[i]);
      sgx += static_cast<double>(g[i] * (v[i] - mt));
    }
  }
}

template <typename T>
void forward_train_impl(const T* x, const T* gamma, const T* beta, T* y, T* running_mean,
                        T* running_var, T* save_mean, T* save_invstd, int64_t N, int64_t C,
                        int64_t HW, double momentum, double eps) {
  const double M = static_cast<double>(N * HW);
#pragma omp parallel for if (N * C * HW > 32768)
  for (int64_t c = 0; c < C; ++c) {
    const double mean = channel_sum<T>(N, C, HW, c, [x](int64_t r, int64_t i) { return x[r + i]; }) / M;
    const T mt = static_cast<T>(mean);
    const double var = channel_sum<T>(N, C, HW, c, [x, mt](int64_t r, int64_t i) {
                         const T d = x[r + i] - mt;
                         return d * d;
                       }) / M;
    const double invstd = 1.0 / std::sqrt(var + eps);
    const T a = static_cast<T>(invstd * static_cast<double>(gamma[c]));  // y = a (x - mean) + beta
    const T b = beta[c];
    for (int64_t n = 0; n < N; ++n) {
      const T* px = x + (n * C + c) * HW;
      T* py = y + (n * C + c) * HW;
      for (int64_t i = 0; i < HW; ++i) py[i] = a * (px[i] - mt) + b;
    }
    save_mean[c] = static_cast<T>(mean);
    save_invstd[c] = static_cast<T>(invstd);
    running_mean[c] = static_cast<T>((1.0 - momentum) * running_mean[c] + momentum * mean);
    running_var[c] = static_cast<T>((1.0 - momentum) * running_var[c] + momentum * var * M / (M - 1.0));
  }
}

template <typename T>
void forward_eval_impl(const T* x, const T* gamma, const T* beta, const T* running_mean,
                       const T* running_var, T* y, int64_t N, int64_t C, int64_t HW, double eps) {
#pragma omp parallel for collapse(2) if (N * C * HW > 32768)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      // The constants in double, the map in T (vectorised; in double it was scalar conversions).
      const double invstd = 1.0 / std::sqrt(static_cast<double>(running_var[c]) + eps);
      const double a = invstd * static_cast<double>(gamma[c]);
      const T at = static_cast<T>(a), bt = static_cast<T>(static_cast<double>(beta[c]) -
                                                          static_cast<double>(running_mean[c]) * a);
      const T* px = x + (n * C + c) * HW;
      T* py = y + (n * C + c) * HW;
      for (int64_t i = 0; i < HW; ++i) py[i] = at * px[i] + bt;
    }
}

// With xhat = (x - mean) * invstd, y = gamma * xhat + beta and mean, invstd functions of x:
//   gbeta = sum(gy), ggamma = sum(gy * xhat),
//   gx = gamma * invstd / M * (M * gy - gbeta - xhat * ggamma).
template <typename T>
void backward_train_impl(const T* gy, const T* x, const T* gamma, const T* save_mean,
                         const T* save_invstd, T* gx, T* ggamma, T* gbeta, int64_t N, int64_t C,
                         int64_t HW) {
  const double M = static_cast<double>(N * HW);
#pragma omp parallel for if (N * C * HW > 32768)
  for (int64_t c = 0; c < C; ++c) {
    const T mt = save_mean[c];
    const double invstd = static_cast<double>(save_invstd[c]);
    double sg = 0, sgx = 0;
    channel_sums_backward(N, C, HW, c, gy, x, mt, sg, sgx);
    const double dgamma = sgx * invstd;
    const double k = static_cast<double>(gamma[c]) * invstd;
    // gx = k (gy - sg / M - xhat dgamma / M) = k gy + c0 + c1 (x - mean)
    const T kt = static_cast<T>(k), c0 = static_cast<T>(-k * sg / M), c1 = static_cast<T>(-k * dgamma * invstd / M);
    for (int64_t n = 0; n < N; ++n) {
      const T* px = x + (n * C + c) * HW;
      const T* pg = gy + (n * C + c) * HW;
      T* pdx = gx + (n * C + c) * HW;
      for (int64_t i = 0; i < HW; ++i) pdx[i] = kt * pg[i] + c0 + c1 * (px[i] - mt);
    }
    ggamma[c] = static_cast<T>(dgamma);
    gbeta[c] = static_cast<T>(sg);
  }
}

// Running statistics are constants here: gx = gy * gamma * invstd.
template <typename T>
void backward_eval_impl(const T* gy, const T* x, const T* gamma, const T* running_mean,
                        const T* running_var, T* gx, T* ggamma, T* gbeta, int64_t N, int64_t C,
                        int64_t HW, double eps) {
#pragma omp parallel for if (N * C * HW > 32768)
  for (int64_t c = 0; c < C; ++c) {
    double mean = static_cast<double>(running_mean[c]);
    double invstd = 1.0 / std::sqrt(static_cast<double>(running_var[c]) + eps);
    double k = static_cast<double>(gamma[c]) * invstd;
    double sg = 0.0, sgx = 0.0;
    for (int64_t n = 0; n < N; ++n) {
      const T* px = x + (n * C + c) * HW;
      const T* pg = gy + (n * C + c) * HW;
      T* pdx = gx + (n * C + c) * HW;
      for (int64_t i = 0; i < HW; ++i) {
        double g = static_cast<double>(pg[i]);
        sg += g;
        sgx += g * (static_cast<double>(px[i]) - mean);
        pdx[i] = static_cast<T>(k * g);
      }
    }
    ggamma[c] = static_cast<T>(sgx * invstd);
    gbeta[c] = static_cast<T>(sg);
  }
}

}  // namespace

#define FF_BATCHNORM_CPU_DEFS(T)                                                                \
  void batch_norm_forward_train(const T* x, const T* gamma, const T* beta, T* y,                \
                                T* running_mean, T* running_var, T* save_mean, T* save_invstd, \
                                int64_t N, int64_t C, int64_t HW, double momentum, double eps) { \
    forward_train_impl(x, gamma, beta, y, running_mean, running_var, save_mean, save_invstd, N,  \
                       C, HW, momentum, eps);                                                   \
  }                                                                                             \
  void batch_norm_forward_eval(const T* x, const T* gamma, const T* beta,                       \
                               const T* running_mean, const T* running_var, T* y, int64_t N,   \
                               int64_t C, int64_t HW, double eps) {                             \
    forward_eval_impl(x, gamma, beta, running_mean, running_var, y, N, C, HW, eps);             \
  }                                                                                             \
  void batch_norm_backward_train(const T* gy, const T* x, const T* gamma, const T* save_mean,   \
                                 const T* save_invstd, T* gx, T* ggamma, T* gbeta, int64_t N,   \
                                 int64_t C, int64_t HW, double /*eps: in save_invstd already*/) { \
    backward_train_impl(gy, x, gamma, save_mean, save_invstd, gx, ggamma, gbeta, N, C, HW);     \
  }                                                                                             \
  void batch_norm_backward_eval(const T* gy, const T* x, const T* gamma, const T* running_mean, \
                                const T* running_var, T* gx, T* ggamma, T* gbeta, int64_t N,    \
                                int64_t C, int64_t HW, double eps) {                            \
    backward_eval_impl(gy, x, gamma, running_mean, running_var, gx, ggamma, gbeta, N, C, HW, eps); \
  }

FF_BATCHNORM_CPU_DEFS(float)
FF_BATCHNORM_CPU_DEFS(double)

}  // namespace ff::cpu
