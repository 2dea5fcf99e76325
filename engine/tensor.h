// engine/tensor.h — the Tensor: shared storage + shape + dtype + device, and its autograd fields.
//
// Storage is contiguous and row-major; a tensor may start at a byte offset into its storage (views
// made by reshape share the storage). Copying a Tensor copies a handle, not the data: use clone().
// Autograd: a tensor that requires a gradient either is a leaf (a parameter: grad accumulates in
// .grad()) or was produced by an op that recorded a Node (grad_fn) saying how to push the gradient
// back to its inputs. See engine/autograd.h.
#pragma once
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/dtype.h"
#include "engine/error.h"

namespace ff {

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);  // "[2, 3, 4]"
int64_t shape_numel(const Shape& s);

// Something still reading a host block, which must finish before the block is overwritten or
// freed: an asynchronous upload (a cudart::Event behind it, see Tensor::copy_from). wait() blocks
// until it has finished; it may be called more than once.
struct HostReader {
  virtual ~HostReader() = default;
  virtual void wait() = 0;
};

// A block of memory on one device. Device memory comes from the caching allocator
// (engine/cuda_runtime.h), host memory from aligned malloc (64-byte alignment).
struct Storage {
  Storage(size_t nbytes, Device device);
  // Host memory that belongs to someone else (a numpy array, python/): `owner` keeps it alive and
  // is released with the block; nothing is freed or counted in host_bytes_in_use().
  Storage(void* external, size_t nbytes, std::shared_ptr<void> owner);
  ~Storage();  // a host block first waits for its readers
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data = nullptr;
  size_t nbytes = 0;
  Device device;
  // Host blocks only. pinned: page-locked (cudart::host_register; set by whoever registered it, the
  // loader for its batch buffers), so Tensor::copy_from uploads from it asynchronously instead of
  // waiting for the copy. readers: the latest such upload still possibly reading the block (the
  // stream runs in order, so it finishes after every earlier one), or null. Whoever overwrites a
  // pinned block calls wait_for_readers() first: train/loader.cpp before it refills a batch slot.
  bool pinned = false;
  std::shared_ptr<HostReader> readers;
  std::shared_ptr<void> external_owner;  // set for external host memory (see above)
  void wait_for_readers();  // waits for `readers`, then drops it
};

struct Node;

// Test aid: when on, every new allocation (host and device) is filled with 0xFF bytes (NaN for
// floats), so an output element a kernel forgot to write fails the comparison.
void set_poison_allocations(bool on);
bool poison_allocations();
// Bytes of host memory held by live Storage objects (tests use it to prove nothing leaks).
int64_t host_bytes_in_use();
// The most host_bytes_in_use() reached since the last reset (memory reports of the benchmarks).
int64_t host_peak_bytes();
void reset_host_peak();
// Host blocks of 64 KiB and more come from a cache of page-aligned mappings kept by exact size
// (engine/tensor.cpp): a training step asks for the same sizes every step, so after the first
// steps it reuses blocks instead of going through malloc, whose heap fragmented under that
// pattern (measured: resident peak 666 MB for 348 MB of tensors on a ResNet50 w1/4 step). Free
// blocks held for reuse are capped at host_cache_limit() bytes (FF_HOST_CACHE_MB, default 2048);
// beyond it a freed block is unmapped.
// Whether a host block of nbytes is such a mapping (page-aligned, whole pages of its own): 64 KiB
// and more, except in AddressSanitizer and ThreadSanitizer builds, where every block comes from
// malloc so the sanitizers see them.
bool host_block_is_mapped(size_t nbytes);
struct HostCacheStats {
  int64_t cached_bytes = 0;  // free blocks held for reuse
  int64_t hits = 0, misses = 0;
  int64_t limit_bytes = 0;
};
HostCacheStats host_cache_stats();
// Unmaps every free block the cache holds (e.g. between two workloads of different shapes).
void release_host_cache();

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  size_t offset = 0;  // bytes from storage->data
  Shape shape;
  DType dtype = DType::F32;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // accumulated gradient (leaves only)
  std::shared_ptr<Node> grad_fn;     // the op that produced this tensor (non-leaves only)
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- construction (contents of empty() are undefined)
  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::F32,
                     Device device = Device::cpu());
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape,
                            Device device = Device::cpu()) {
    FF_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "Tensor::from_vector: ",
             values.size(), " values for shape ", shape_str(shape));
    Tensor t = empty(shape, dtype_of<T>(), Device::cpu());
    if (!values.empty()) std::memcpy(t.raw(), values.data(), values.size() * sizeof(T));
    return device.is_cpu() ? t : t.to(device);
  }
  // A 0-dim tensor holding one value.
  static Tensor scalar(double value, DType dtype = DType::F32, Device device = Device::cpu());
  // A tensor over host memory it does not own (no copy): `data` must hold shape_numel(shape)
  // contiguous elements of `dtype`, aligned to the element size, alive as long as `owner` is.
  static Tensor from_external(void* data, const Shape& shape, DType dtype, std::shared_ptr<void> owner);

  // ---- metadata
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return shape_numel(shape()); }
  DType dtype() const;
  Device device() const;
  size_t nbytes() const { return numel() * dtype_size(dtype()); }
  std::string str() const;  // "float32[2, 3] on cpu" — for error messages

  // ---- data access (host pointers only for CPU tensors; device pointers for CUDA tensors)
  void* raw() const;
  template <typename T>
  T* data() const {
    FF_CHECK(dtype() == dtype_of<T>(), "Tensor::data: tensor is ", dtype_name(dtype()),
             ", asked for ", dtype_name(dtype_of<T>()));
    return static_cast<T*>(raw());
  }
  template <typename T>
  std::vector<T> to_vector() const {  // copies to the host, converting to T
    Tensor c = to(Device::cpu()).to(dtype_of<T>());
    const T* p = c.data<T>();
    return std::vector<T>(p, p + c.numel());
  }
  double item() const;  // value of a one-element tensor

  // ---- copies and views
  Tensor to(Device device) const;  // no copy when already there
  Tensor to(DType dtype) const;    // converts (on the CPU, or float32<->float64 on either)
  Tensor cpu() const { return to(Device::cpu()); }
  Tensor clone() const;                    // deep copy, no autograd history
  Tensor detach() const;                   // shares storage, no autograd history
  Tensor reshape(const Shape& shape) const;  // a view; one dim may be -1; differentiable
  void copy_from(const Tensor& src);       // same shape and dtype; any devices
  void fill_(double value);

  // ---- autograd
  bool requires_grad() const;
  Tensor& requires_grad_(bool on = true);  // leaves only
  Tensor grad() const;                     // undefined until a backward reached it
  void set_grad(const Tensor& g);
  void zero_grad();                        // drops the gradient
  void backward() const;                   // from a one-element tensor, seed 1
  void backward(const Tensor& grad_output) const;
  bool is_leaf() const;
  const std::shared_ptr<Node>& grad_fn() const;

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& o) const { return impl_ == o.impl_; }

 private:
  const TensorImpl& checked() const;
  std::shared_ptr<TensorImpl> impl_;
};

}  // namespace ff
