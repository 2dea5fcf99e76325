// engine/tensor.cpp — Storage, Tensor construction, copies, views and autograd entry points.
#include "engine/tensor.h"
#include "engine/trace.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <sstream>

#include "engine/autograd.h"
#include "engine/cuda_runtime.h"
#include "engine/dispatch.h"
#include "engine/ops.h"

namespace ff {

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) FF_CHECK(!__builtin_mul_overflow(n, d, &n), "shape too large: ", shape_str(s));
  return n;
}

// ------------------------------------------------------------------ Storage
namespace {

// The host block cache (tensor.h): blocks of kCachedMin bytes and more are anonymous mappings,
// kept on free in a list per exact (page-rounded) size and handed out again for that size.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr size_t kCachedMin = SIZE_MAX;  // sanitizers watch malloc's blocks, not our mappings
#else
constexpr size_t kCachedMin = size_t{64} << 10;
#endif
constexpr size_t kPage = 4096;
struct HostCache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free;
  int64_t cached = 0, hits = 0, misses = 0;
  int64_t limit = [] {
    const char* e = std::getenv("FF_HOST_CACHE_MB");
    const long long mb = e && *e ? std::atoll(e) : 2048;
    return static_cast<int64_t>(std::max(0LL, mb)) << 20;
  }();
};
HostCache& host_cache() {
  static HostCache* c = new HostCache;  // never destroyed: tensors may be freed during exit
  return *c;
}
void* cached_alloc(size_t bytes) {
  HostCache& c = host_cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free.find(bytes);
    if (it != c.free.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.cached -= static_cast<int64_t>(bytes);
      ++c.hits;
      return p;
    }
    ++c.misses;
  }
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}
void cached_free(void* p, size_t bytes) {
  HostCache& c = host_cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.cached + static_cast<int64_t>(bytes) <= c.limit) {
      c.free[bytes].push_back(p);
      c.cached += static_cast<int64_t>(bytes);
      return;
    }
  }
  munmap(p, bytes);
}
// Size classes of four steps per power of two (at most 25% above the request), in whole pages:
// blocks of neighbouring sizes (one layer's activation and the next's) serve each other.
size_t cached_size(size_t n) {
  size_t top = kPage;
  while (top < n) top <<= 1;
  const size_t step = std::max(kPage, top / 8);  // classes top/2 + k * top/8, k = 1..4
  return (n + step - 1) / step * step;
}

bool g_poison = false;
std::atomic<int64_t> g_host_bytes{0};
std::atomic<int64_t> g_host_peak{0};
}
int64_t host_bytes_in_use() { return g_host_bytes.load(); }

bool host_block_is_mapped(size_t nbytes) { return nbytes >= kCachedMin; }

HostCacheStats host_cache_stats() {
  HostCache& c = host_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return {c.cached, c.hits, c.misses, c.limit};
}

void release_host_cache() {
  HostCache& c = host_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& [bytes, blocks] : c.free)
    for (void* p : blocks) munmap(p, bytes);
  c.free.clear();
  c.cached = 0;
}
int64_t host_peak_bytes() { return g_host_peak.load(); }
void reset_host_peak() { g_host_peak = g_host_bytes.load(); }
void set_poison_allocations(bool on) { g_poison = on; }
bool poison_allocations() { return g_poison; }

// Host tensors come from glibc's malloc. By default glibc serves blocks above its mmap threshold
// (128 KiB, adapting up to 32 MiB) with fresh mmaps and trims freed heap tops back to the kernel,
// so a training step's activations were page-faulted in anew on every step (perf: kernel time
// ~16% of the small hourglass's step). Raising both thresholds once keeps freed blocks in the
// process for reuse, like a caching allocator, at the cost of holding the peak working set:
// small-network training steps measured ~10% faster (bench BM_NetTrainStep, 2 threads).
static void tune_host_malloc_once() {
#ifdef __GLIBC__
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_MMAP_THRESHOLD, 256 << 20);  // blocks up to 256 MiB from the reusable heap
    mallopt(M_TRIM_THRESHOLD, 1 << 30);    // return heap memory only when 1 GiB sits free at its top
  });
#endif
}

Storage::Storage(size_t n, Device d) : nbytes(n), device(d) {
  if (d.is_cpu()) {
    tune_host_malloc_once();
    if (n >= kCachedMin) {
      data = cached_alloc(cached_size(n));
    } else {
      size_t rounded = (n + 63) / 64 * 64;
      data = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
    }
    FF_CHECK(data != nullptr, "out of host memory allocating ", n, " bytes");
    if (g_poison) std::memset(data, 0xFF, n);
    int64_t now = g_host_bytes += static_cast<int64_t>(n);
    int64_t peak = g_host_peak.load();
    while (now > peak && !g_host_peak.compare_exchange_weak(peak, now)) {
    }
  } else {
#ifdef FF_HAS_CUDA
    data = cudart::alloc(n);
    if (g_poison) cudart::memset_bytes(data, 0xFF, n);
#else
    detail::no_cuda("allocating CUDA memory");
#endif
  }
}

Storage::Storage(void* external, size_t n, std::shared_ptr<void> owner)
    : data(external), nbytes(n), device(Device::cpu()), external_owner(std::move(owner)) {
  FF_CHECK(external != nullptr || n == 0, "Storage: external memory is null");
}

Storage::~Storage() {
  if (external_owner) {
    try {
      wait_for_readers();
    } catch (const std::exception&) {
    }
    return;  // the owner frees it (when its last reference goes)
  }
  if (device.is_cpu()) {
    try {
      wait_for_readers();  // an upload still reading the block must finish before it is freed
    } catch (const std::exception&) {
      // A failed wait (the device faulted) cannot be repaired here; never throw from a destructor.
    }
    if (nbytes >= kCachedMin)
      cached_free(data, cached_size(nbytes));
    else
      std::free(data);
    g_host_bytes -= static_cast<int64_t>(nbytes);
  } else {
#ifdef FF_HAS_CUDA
    cudart::free(data);
#endif
  }
}

void Storage::wait_for_readers() {
  if (!readers) return;
  readers->wait();
  readers.reset();
}

// ------------------------------------------------------------------ construction
Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape) FF_CHECK(d >= 0, "Tensor::empty: negative size in shape ", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  int64_t bytes = 0;
  FF_CHECK(!__builtin_mul_overflow(shape_numel(shape), static_cast<int64_t>(dtype_size(dtype)), &bytes),
           "shape too large: ", shape_str(shape), " of ", dtype_name(dtype));
  impl->storage = std::make_shared<Storage>(bytes, device);
  impl->shape = shape;
  impl->dtype = dtype;
  return Tensor(impl);
}

Tensor Tensor::from_external(void* data, const Shape& shape, DType dtype, std::shared_ptr<void> owner) {
  for (int64_t d : shape) FF_CHECK(d >= 0, "Tensor::from_external: negative size in shape ", shape_str(shape));
  int64_t bytes = 0;
  FF_CHECK(!__builtin_mul_overflow(shape_numel(shape), static_cast<int64_t>(dtype_size(dtype)), &bytes),
           "shape too large: ", shape_str(shape), " of ", dtype_name(dtype));
  FF_CHECK(reinterpret_cast<uintptr_t>(data) % dtype_size(dtype) == 0,
           "Tensor::from_external: the memory is not aligned to ", dtype_size(dtype), " bytes");
  FF_CHECK(owner != nullptr, "Tensor::from_external: no owner keeps the memory alive");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(data, static_cast<size_t>(bytes), std::move(owner));
  impl->shape = shape;
  impl->dtype = dtype;
  return Tensor(impl);
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0.0, dtype, device);
}
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) {
  return full(shape, 1.0, dtype, device);
}
Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}
Tensor Tensor::scalar(double value, DType dtype, Device device) {
  return full({}, value, dtype, device);
}

// ------------------------------------------------------------------ metadata
const TensorImpl& Tensor::checked() const {
  FF_CHECK(impl_ != nullptr, "use of an undefined Tensor");
  return *impl_;
}
const Shape& Tensor::shape() const { return checked().shape; }
DType Tensor::dtype() const { return checked().dtype; }
Device Tensor::device() const { return checked().storage->device; }
int64_t Tensor::size(int64_t d) const {
  int64_t n = dim();
  int64_t i = d < 0 ? d + n : d;
  FF_CHECK(i >= 0 && i < n, "Tensor::size: dim ", d, " out of range for shape ", shape_str(shape()));
  return shape()[i];
}
std::string Tensor::str() const {
  if (!defined()) return "undefined";
  return detail::cat(dtype_name(dtype()), shape_str(shape()), " on ", device().str());
}
void* Tensor::raw() const {
  const TensorImpl& t = checked();
  return static_cast<char*>(t.storage->data) + t.offset;
}

double Tensor::item() const {
  FF_CHECK(numel() == 1, "Tensor::item: tensor has ", numel(), " elements ", str());
  return to_vector<double>()[0];
}

// ------------------------------------------------------------------ copies
namespace {
template <typename S, typename D>
void convert_loop(const S* s, D* d, int64_t n) {
  for (int64_t i = 0; i < n; ++i) d[i] = static_cast<D>(s[i]);
}
template <typename S>
void convert_from(const S* s, void* d, DType dt, int64_t n) {
  switch (dt) {
    case DType::F32: convert_loop(s, static_cast<float*>(d), n); break;
    case DType::F64: convert_loop(s, static_cast<double*>(d), n); break;
    case DType::I32: convert_loop(s, static_cast<int32_t*>(d), n); break;
    case DType::I64: convert_loop(s, static_cast<int64_t*>(d), n); break;
    case DType::U8: convert_loop(s, static_cast<uint8_t*>(d), n); break;
  }
}
#ifdef FF_HAS_CUDA
// The pending upload out of a pinned host block (Storage::readers).
struct UploadReader final : HostReader {
  explicit UploadReader(cudart::Event e) : done(std::move(e)) {}
  void wait() override { done.wait(); }
  cudart::Event done;
};
#endif
void convert_host(const void* s, DType st, void* d, DType dt, int64_t n) {
  switch (st) {
    case DType::F32: convert_from(static_cast<const float*>(s), d, dt, n); break;
    case DType::F64: convert_from(static_cast<const double*>(s), d, dt, n); break;
    case DType::I32: convert_from(static_cast<const int32_t*>(s), d, dt, n); break;
    case DType::I64: convert_from(static_cast<const int64_t*>(s), d, dt, n); break;
    case DType::U8: convert_from(static_cast<const uint8_t*>(s), d, dt, n); break;
  }
}
}  // namespace

void Tensor::copy_from(const Tensor& src) {
  FF_CHECK(defined() && src.defined(), "copy_from: undefined tensor");
  FF_CHECK(shape() == src.shape() && dtype() == src.dtype(), "copy_from: destination ", str(),
           " and source ", src.str(), " differ in shape or dtype");
  size_t n = nbytes();
  if (n == 0) return;
  Device d = device(), s = src.device();
  if (d.is_cpu() && s.is_cpu()) {
    std::memcpy(raw(), src.raw(), n);
  } else if (d.is_cuda() && s.is_cpu()) {
    Storage& host = *src.impl()->storage;
    if (host.pinned)  // asynchronous: the event recorded after the copy guards the host block's reuse
      FF_CUDA_CALL("copy_from", host.readers = std::make_shared<UploadReader>(
                                    cudart::memcpy_h2d_async(raw(), src.raw(), n)));
    else  // pageable: the copy has finished when this returns, the caller may reuse src at once
      FF_CUDA_CALL("copy_from", cudart::memcpy_h2d(raw(), src.raw(), n));
  } else if (d.is_cpu() && s.is_cuda()) {
    FF_CUDA_CALL("copy_from", cudart::memcpy_d2h(raw(), src.raw(), n));
  } else {
    FF_CUDA_CALL("copy_from", cudart::memcpy_d2d(raw(), src.raw(), n));
  }
}

Tensor Tensor::to(Device device) const {
  if (this->device() == device) return *this;
  Tensor out = empty(shape(), dtype(), device);
  out.copy_from(*this);
  // Moving between devices is differentiable: the gradient moves back.
  Device from = this->device();
  return record(out, "to_device", {*this}, [from](const Tensor& g) {
    return std::vector<Tensor>{g.to(from)};
  });
}

Tensor Tensor::to(DType dt) const {
  if (dtype() == dt) return *this;
  Tensor host = device().is_cpu() ? *this : detach().to(Device::cpu());
  Tensor out = empty(shape(), dt, Device::cpu());
  convert_host(host.raw(), dtype(), out.raw(), dt, numel());
  if (device().is_cuda()) out = out.to(device());
  DType from = dtype();
  if (!is_floating(from) || !is_floating(dt)) return out;
  return record(out, "to_dtype", {*this}, [from](const Tensor& g) {
    return std::vector<Tensor>{g.to(from)};
  });
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype(), device());
  out.copy_from(*this);
  return out;
}

Tensor Tensor::detach() const {
  const TensorImpl& t = checked();
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.storage;
  impl->offset = t.offset;
  impl->shape = t.shape;
  impl->dtype = t.dtype;
  return Tensor(impl);
}

Tensor Tensor::reshape(const Shape& new_shape) const {
  TraceScope trace;  // engine/trace.h: a reshape in a model's forward is one node of its graph
  Shape s = new_shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      FF_CHECK(infer < 0, "reshape: more than one -1 in ", shape_str(new_shape));
      infer = static_cast<int64_t>(i);
    } else {
      FF_CHECK(s[i] >= 0, "reshape: bad size in ", shape_str(new_shape));
      known *= s[i];
    }
  }
  if (infer >= 0) {
    FF_CHECK(known > 0 && numel() % known == 0, "reshape: cannot view ", str(), " as ",
             shape_str(new_shape));
    s[infer] = numel() / known;
  }
  FF_CHECK(shape_numel(s) == numel(), "reshape: cannot view ", str(), " as ", shape_str(new_shape));
  Tensor out = detach();
  out.impl()->shape = s;
  Shape old = shape();
  out = record(out, "reshape", {*this}, [old](const Tensor& g) { return std::vector<Tensor>{g.reshape(old)}; });
  if (trace.outer()) trace.record(TraceRecord{"reshape", {*this}, out, {{"shape", s}}, {}});
  return out;
}

void Tensor::fill_(double value) { ff::fill_(*this, value); }

// ------------------------------------------------------------------ autograd
bool Tensor::requires_grad() const { return checked().requires_grad; }
Tensor& Tensor::requires_grad_(bool on) {
  FF_CHECK(checked().grad_fn == nullptr, "requires_grad_: only leaf tensors can be set; ", str(),
           " was produced by ", impl_->grad_fn->name);
  FF_CHECK(!on || is_floating(dtype()), "requires_grad_: only float tensors can require a gradient, got ", str());
  impl_->requires_grad = on;
  return *this;
}
Tensor Tensor::grad() const {
  const TensorImpl& t = checked();
  return t.grad ? Tensor(t.grad) : Tensor();
}
void Tensor::set_grad(const Tensor& g) {
  checked();
  if (g.defined())
    FF_CHECK(g.shape() == shape() && g.dtype() == dtype() && g.device() == device(),
             "set_grad: gradient ", g.str(), " does not match tensor ", str());
  impl_->grad = g.impl_ptr();
}
void Tensor::zero_grad() { checked(); impl_->grad.reset(); }
bool Tensor::is_leaf() const { return checked().grad_fn == nullptr; }
const std::shared_ptr<Node>& Tensor::grad_fn() const { return checked().grad_fn; }

void Tensor::backward() const {
  FF_CHECK(numel() == 1, "backward: implicit seed needs a one-element tensor, got ", str());
  backward(Tensor::ones(shape(), dtype(), device()));
}
void Tensor::backward(const Tensor& grad_output) const { run_backward(*this, grad_output); }

}  // namespace ff
