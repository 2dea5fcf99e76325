// train/loader.cpp — the batch loader: worker threads fill a small ring of batch slots ahead of
// the training loop (see train/loader.h for the contract).
//
// Design. One mutex guards all shared state; two condition variables wake the workers (work to
// claim) and the consumer (a batch became ready). The unit of work is one whole batch: a worker
// claims batch number b of the current epoch, takes a free slot, makes its samples without the
// lock, then marks the slot ready. The consumer hands out slots strictly in batch order, so the
// result never depends on which worker made what. There are prefetch + 1 slots: up to `prefetch`
// ready or being made, plus the one lent to the caller until its next call to next().
//
// Every epoch has a generation number; start_epoch() and the destructor bump it, and a worker whose
// batch belongs to an older generation gives up between two samples and frees its slot, so old work
// is dropped quickly and shutdown never waits for more than one sample per worker.
//
// Memory. A slot owns three host buffers (images, points, labels) sized for a full batch, reused
// from batch to batch and page-locked once when a CUDA device is present. The caller's batch
// tensors share those buffers, so before a slot is refilled the loader checks that nobody holds
// them any more (shared_ptr use count); if the caller kept a batch, the slot gets fresh buffers
// and the old ones are "retired" until their last user lets go (then unpinned and freed). An
// upload from a pinned buffer is asynchronous (Tensor::copy_from) and leaves an event with the
// buffer (Storage::readers): the loader waits on it before it refills or unpins the buffer.
//
// Threads. Each worker limits OpenMP to one thread for itself (see worker()).
//
// Errors. A maker exception (or a malformed sample) is caught in the worker, recorded in the slot
// with the item index, and thrown as ff::Error from the next() call that reaches that batch. The
// batch is then consumed: a later next() continues with the following batch.
#include "train/loader.h"

#include "engine/random.h"  // derive_seed

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <thread>

#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef FF_HAS_CUDA
#include "engine/cuda_runtime.h"
#endif

namespace ff {

namespace {

// Seeds of the generators: the tag keeps the shuffle stream apart from the per-sample streams.
constexpr uint64_t kSampleTag = 1, kShuffleTag = 2;

// A reusable host block, page-locked when possible.
struct Buffer {
  std::shared_ptr<Storage> storage;
  bool pinned = false;

  size_t capacity() const { return storage ? storage->nbytes : 0; }
  // True when only the loader refers to the block (the caller dropped every batch tensor on it).
  bool unshared() const { return !storage || storage.use_count() == 1; }
  // page_aligned: the block gets whole pages of its own (see below); pin: page-lock it (needs
  // page_aligned and a CUDA device).
  void allocate(size_t nbytes, bool page_aligned, bool pin) {
    pinned = false;
    if (!page_aligned || nbytes == 0) {
      storage = std::make_shared<Storage>(nbytes, Device::cpu());
      return;
    }
    // The driver pins whole pages and refuses a range that shares a page with one already
    // registered, which two neighbouring heap blocks can. So a block to pin gets pages of its own:
    // a small Storage's heap block is swapped for a page-aligned one of whole pages (Storage frees
    // a small block with std::free, which takes aligned_alloc's blocks too).
    const size_t page = 4096, rounded = (nbytes + page - 1) / page * page;
    storage = std::make_shared<Storage>(rounded, Device::cpu());
    if (!host_block_is_mapped(rounded)) {  // a mapped block already is whole pages of its own (tensor.h)
      void* aligned = std::aligned_alloc(page, rounded);
      FF_CHECK(aligned != nullptr, "Loader: out of host memory allocating ", rounded, " bytes");
      std::free(storage->data);
      storage->data = aligned;
    }
#ifdef FF_HAS_CUDA
    if (pin) pinned = cudart::host_register(storage->data, rounded);
    storage->pinned = pinned;  // Tensor::copy_from uploads from it asynchronously (Storage::readers)
#else
    (void)pin;
#endif
  }
  // Unpins and drops the loader's reference (the memory is freed by whoever lets go last).
  void release() {
#ifdef FF_HAS_CUDA
    if (pinned) {
      try {
        storage->wait_for_readers();  // an upload still reading the block: let it finish first
        storage->pinned = false;
        cudart::host_unregister(storage->data);
      } catch (const std::exception&) {
        // A failing unregister (driver shutting down) leaves nothing to repair; never throw here.
      }
    }
#endif
    pinned = false;
    storage.reset();
  }
};

// A tensor of `shape` over the start of a buffer (the buffer may be larger: a short last batch).
Tensor view(const Buffer& b, const Shape& shape, DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = b.storage;
  impl->shape = shape;
  impl->dtype = dtype;
  return Tensor(impl);
}

Shape prepend(int64_t n, const Shape& s) {
  Shape out{n};
  out.insert(out.end(), s.begin(), s.end());
  return out;
}

}  // namespace

struct Loader::Impl {
  enum class State { kFree, kFilling, kReady, kLent };
  struct Slot {
    State state = State::kFree;
    uint64_t generation = 0;
    int64_t batch = -1;
    // Written by the filling worker, read by the consumer once the slot is ready.
    std::vector<int64_t> indices;
    Shape image_shape, points_shape, targets_shape;  // of one sample; empty when samples have none
    bool has_points = false, has_targets = false;
    std::string error;  // non-empty: making this batch failed
    Buffer images, points, targets, labels;
  };

  int64_t num_items;
  MakeSample make;
  LoaderOptions opt;
  bool page_aligned = false;  // options.pin_memory: buffers get whole pages (also without a device,
                              // so the CPU tests run the same allocation path)
  bool pin = false;           // ... and are page-locked: pin_memory and a CUDA device present

  std::mutex mu;
  std::condition_variable work_cv;   // workers: a batch may be claimable, or stop
  std::condition_variable ready_cv;  // consumer: a slot became ready
  std::vector<Slot> slots;
  std::vector<Buffer> retired;  // buffers the caller still holds; released when it lets go
  std::vector<std::thread> threads;

  bool started = false;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> generation{0};
  int64_t epoch = 0;
  std::shared_ptr<const std::vector<int64_t>> order;  // item of each position in the epoch
  int64_t next_claim = 0;    // next batch a worker will make
  int64_t next_consume = 0;  // next batch next() hands out
  std::atomic<int64_t> made{0};
  std::chrono::steady_clock::time_point epoch_start;

  Impl(int64_t n, MakeSample m, const LoaderOptions& o) : num_items(n), make(std::move(m)), opt(o) {}

  int64_t batches() const {
    return opt.drop_last ? num_items / opt.batch_size
                         : (num_items + opt.batch_size - 1) / opt.batch_size;
  }

  std::shared_ptr<const std::vector<int64_t>> make_order(int64_t e) const {
    auto v = std::make_shared<std::vector<int64_t>>(num_items);
    for (int64_t i = 0; i < num_items; ++i) (*v)[i] = i;
    if (opt.shuffle) {  // Fisher-Yates
      Rng rng(derive_seed(opt.seed, {static_cast<uint64_t>(e), 0, kShuffleTag}));
      for (int64_t i = num_items - 1; i > 0; --i) std::swap((*v)[i], (*v)[rng.randint(i + 1)]);
    }
    return v;
  }

  int free_slot() const {
    for (size_t s = 0; s < slots.size(); ++s)
      if (slots[s].state == State::kFree) return static_cast<int>(s);
    return -1;
  }
  bool claimable() const {
    return started && next_claim < batches() && next_claim < next_consume + opt.prefetch &&
           free_slot() >= 0;
  }

  // Under the lock: frees retired buffers nobody uses any more.
  void sweep_retired() {
    for (size_t i = 0; i < retired.size();) {
      if (retired[i].unshared()) {
        retired[i].release();
        retired[i] = std::move(retired.back());
        retired.pop_back();
      } else {
        ++i;
      }
    }
  }
  // Makes `b` a private block of at least nbytes: reuses it when big enough and nobody else holds
  // it, otherwise retires it and allocates a new one.
  void ensure(Buffer& b, size_t nbytes) {
    if (b.storage && b.capacity() >= nbytes && b.unshared()) {
      // Pairs with the release decrement of the caller's last reference, so the caller's reads
      // of the old batch (and its setting of readers) happen before we overwrite it.
      std::atomic_thread_fence(std::memory_order_acquire);
      // THE GUARD of asynchronous uploads: the caller may have dropped the batch while the device
      // still copies from it (Tensor::copy_from from a pinned block). Wait for that copy, here in
      // the worker (in next() when there are no workers); it blocks only if the copy has not run
      // yet, prefetch + 1 batches after it was enqueued.
      b.storage->wait_for_readers();
      return;
    }
    if (b.storage) {
      std::lock_guard<std::mutex> lock(mu);
      retired.push_back(b);
      sweep_retired();
      b = Buffer();
    }
    b.allocate(nbytes, page_aligned, pin);
  }

  // Claims the next batch (lock held): returns its slot index.
  int claim(int64_t* batch, uint64_t* gen, int64_t* ep,
            std::shared_ptr<const std::vector<int64_t>>* ord) {
    int s = free_slot();
    Slot& slot = slots[s];
    slot.state = State::kFilling;
    slot.generation = generation.load();
    slot.batch = next_claim++;
    *batch = slot.batch;
    *gen = slot.generation;
    *ep = epoch;
    *ord = order;
    return s;
  }

  // Fills slot s with batch b, lock not held. Returns false when the work went stale (new epoch or
  // shutdown) and the slot should just be freed.
  bool fill(Slot& slot, int64_t b, uint64_t gen, int64_t ep, const std::vector<int64_t>& ord) {
    const int64_t begin = b * opt.batch_size;
    const int64_t end = std::min(begin + opt.batch_size, num_items);
    slot.indices.assign(ord.begin() + begin, ord.begin() + end);
    slot.error.clear();
    size_t image_bytes = 0, points_bytes = 0, targets_bytes = 0;
    for (int64_t j = 0; j < end - begin; ++j) {
      if (stop.load() || generation.load() != gen) return false;
      const int64_t item = slot.indices[j];
      try {
        Rng rng(derive_seed(opt.seed, {static_cast<uint64_t>(ep), static_cast<uint64_t>(item), kSampleTag}));
        Sample s = make(item, rng);
        check_sample(s, slot, j, opt.num_classes);
        if (j == 0) {  // the first sample fixes the batch's shapes
          slot.image_shape = s.image.shape();
          slot.has_points = s.points.defined();
          slot.points_shape = slot.has_points ? s.points.shape() : Shape{};
          image_bytes = s.image.nbytes();
          points_bytes = slot.has_points ? s.points.nbytes() : 0;
          slot.has_targets = s.targets.defined();
          slot.targets_shape = slot.has_targets ? s.targets.shape() : Shape{};
          targets_bytes = slot.has_targets ? s.targets.nbytes() : 0;
          if (slot.has_targets) ensure(slot.targets, targets_bytes * opt.batch_size);
          ensure(slot.images, image_bytes * opt.batch_size);
          ensure(slot.labels, sizeof(int64_t) * opt.batch_size);
          if (slot.has_points) ensure(slot.points, points_bytes * opt.batch_size);
        }
        std::memcpy(static_cast<char*>(slot.images.storage->data) + j * image_bytes,
                    s.image.raw(), image_bytes);
        if (slot.has_points)
          std::memcpy(static_cast<char*>(slot.points.storage->data) + j * points_bytes,
                      s.points.raw(), points_bytes);
        if (slot.has_targets)
          std::memcpy(static_cast<char*>(slot.targets.storage->data) + j * targets_bytes,
                      s.targets.raw(), targets_bytes);
        static_cast<int64_t*>(slot.labels.storage->data)[j] = s.label;
      } catch (const std::exception& e) {
        slot.error = detail::cat("Loader: making item ", item, " (epoch ", ep, ", batch ", b,
                                 ") failed: ", e.what());
        return true;
      } catch (...) {
        slot.error = detail::cat("Loader: making item ", item, " (epoch ", ep, ", batch ", b,
                                 ") failed with a non-standard exception");
        return true;
      }
      if (generation.load() == gen) ++made;
    }
    return true;
  }

  // Throws when sample j does not fit the batch (its first sample's shapes).
  static void check_sample(const Sample& s, const Slot& slot, int64_t j, int64_t num_classes) {
    FF_CHECK(num_classes <= 0 || (s.label >= 0 && s.label < num_classes), "sample label ", s.label, " (row ", j,
             " of the batch) is outside [0, ", num_classes, ") (LoaderOptions::num_classes)");
    FF_CHECK(s.image.defined(), "sample image is undefined");
    FF_CHECK(s.image.dtype() == DType::F32 && s.image.device().is_cpu() && s.image.dim() == 3,
             "sample image must be a float32 [C, H, W] CPU tensor, got ", s.image.str());
    if (s.points.defined())
      FF_CHECK(s.points.dtype() == DType::F32 && s.points.device().is_cpu() &&
                   s.points.dim() == 2 && s.points.size(1) == 2,
               "sample points must be a float32 [K, 2] CPU tensor, got ", s.points.str());
    if (s.targets.defined())
      FF_CHECK(s.targets.dtype() == DType::F32 && s.targets.device().is_cpu() && s.targets.dim() >= 1,
               "sample targets must be a float32 CPU tensor, got ", s.targets.str());
    if (j == 0) return;
    FF_CHECK(s.image.shape() == slot.image_shape, "sample image ", s.image.str(),
             " does not match the batch's first image shape ", shape_str(slot.image_shape));
    FF_CHECK(s.points.defined() == slot.has_points, "sample points are ",
             s.points.defined() ? "defined" : "undefined", " but the batch's first sample's are ",
             slot.has_points ? "defined" : "undefined");
    if (slot.has_points)
      FF_CHECK(s.points.shape() == slot.points_shape, "sample points ", s.points.str(),
               " do not match the batch's first points shape ", shape_str(slot.points_shape));
    FF_CHECK(s.targets.defined() == slot.has_targets, "sample targets are ",
             s.targets.defined() ? "defined" : "undefined", " but the batch's first sample's are ",
             slot.has_targets ? "defined" : "undefined");
    if (slot.has_targets)
      FF_CHECK(s.targets.shape() == slot.targets_shape, "sample targets ", s.targets.str(),
               " do not match the batch's first targets shape ", shape_str(slot.targets_shape));
  }

  // Fills a claimed slot and publishes it (called without the lock).
  void run_claimed(int s, int64_t b, uint64_t gen, int64_t ep,
                   const std::shared_ptr<const std::vector<int64_t>>& ord) {
    bool fresh;
    try {
      fresh = fill(slots[s], b, gen, ep, *ord);
    } catch (const std::exception& e) {  // out of memory allocating a buffer, say
      slots[s].error = detail::cat("Loader: batch ", b, " (epoch ", ep, "): ", e.what());
      fresh = true;
    }
    std::lock_guard<std::mutex> lock(mu);
    Slot& slot = slots[s];
    slot.state = fresh && slot.generation == generation.load() ? State::kReady : State::kFree;
    ready_cv.notify_all();
    work_cv.notify_all();  // a freed slot may let another worker claim
  }

  void worker() {
#ifdef _OPENMP
    // Engine ops a maker calls (warp_affine, say) run single-threaded in a worker: the workers are
    // the parallelism, and an OpenMP team of every core per worker would oversubscribe the CPU.
    // The setting is per thread, so the training loop's own ops keep all threads.
    omp_set_num_threads(1);
#endif
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      work_cv.wait(lock, [&] { return stop.load() || claimable(); });
      if (stop.load()) return;
      int64_t b, ep;
      uint64_t gen;
      std::shared_ptr<const std::vector<int64_t>> ord;
      int s = claim(&b, &gen, &ep, &ord);
      lock.unlock();
      run_claimed(s, b, gen, ep, ord);
      lock.lock();
    }
  }

  void start_epoch_locked(int64_t e, int64_t first_batch) {
    ++generation;
    epoch = e;
    order = make_order(e);
    next_claim = next_consume = first_batch;
    for (Slot& slot : slots)  // filling slots are freed by their worker when it sees the new generation
      if (slot.state == State::kReady || slot.state == State::kLent) slot.state = State::kFree;
    made = 0;
    epoch_start = std::chrono::steady_clock::now();
    started = true;
    work_cv.notify_all();
  }
};

Loader::Loader(int64_t num_items, MakeSample make, const LoaderOptions& options) {
  FF_CHECK(num_items >= 0, "Loader: num_items must be >= 0, got ", num_items);
  FF_CHECK(static_cast<bool>(make), "Loader: no sample maker given");
  FF_CHECK(options.batch_size > 0, "Loader: batch_size must be > 0, got ", options.batch_size);
  FF_CHECK(options.workers >= 0, "Loader: workers must be >= 0, got ", options.workers);
  FF_CHECK(options.prefetch >= 1, "Loader: prefetch must be >= 1, got ", options.prefetch);
  FF_CHECK(options.num_classes >= 0, "Loader: num_classes must be >= 0, got ", options.num_classes);
  impl_ = std::make_unique<Impl>(num_items, std::move(make), options);
  impl_->page_aligned = options.pin_memory;
  impl_->pin = options.pin_memory && cuda_available();
  impl_->slots.resize(static_cast<size_t>(options.prefetch) + 1);
  try {
    for (int w = 0; w < options.workers; ++w) impl_->threads.emplace_back([this] { impl_->worker(); });
  } catch (...) {  // could not start a thread: stop the ones that did start before giving up
    {
      std::lock_guard<std::mutex> lock(impl_->mu);
      impl_->stop = true;
    }
    impl_->work_cv.notify_all();
    for (std::thread& t : impl_->threads) t.join();
    throw;
  }
}

Loader::~Loader() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop = true;
    ++impl_->generation;
  }
  impl_->work_cv.notify_all();
  for (std::thread& t : impl_->threads) t.join();
  for (auto& slot : impl_->slots) {
    slot.images.release();
    slot.points.release();
    slot.targets.release();
    slot.labels.release();
  }
  for (Buffer& b : impl_->retired) b.release();
}

void Loader::start_epoch(int64_t epoch, int64_t first_batch) {
  FF_CHECK(epoch >= 0, "Loader::start_epoch: epoch must be >= 0, got ", epoch);
  FF_CHECK(first_batch >= 0 && first_batch <= batches_per_epoch(), "Loader::start_epoch: first_batch ",
           first_batch, " outside [0, ", batches_per_epoch(), "]");
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->start_epoch_locked(epoch, first_batch);
}

bool Loader::next(Batch* batch) {
  FF_CHECK(batch != nullptr, "Loader::next: null batch");
  *batch = Batch();  // drop the caller's previous batch so its slot's buffers can be reused
  Impl& m = *impl_;
  std::unique_lock<std::mutex> lock(m.mu);
  if (!m.started) m.start_epoch_locked(0, 0);
  for (Impl::Slot& slot : m.slots)
    if (slot.state == Impl::State::kLent) slot.state = Impl::State::kFree;
  m.work_cv.notify_all();
  for (;;) {
    if (m.next_consume >= m.batches()) return false;
    for (Impl::Slot& slot : m.slots) {
      if (slot.state != Impl::State::kReady || slot.batch != m.next_consume ||
          slot.generation != m.generation.load())
        continue;
      ++m.next_consume;
      m.work_cv.notify_all();
      if (!slot.error.empty()) {
        slot.state = Impl::State::kFree;
        throw Error(slot.error);
      }
      slot.state = Impl::State::kLent;
      const int64_t n = static_cast<int64_t>(slot.indices.size());
      batch->indices = slot.indices;
      batch->images = view(slot.images, prepend(n, slot.image_shape), DType::F32);
      batch->labels = view(slot.labels, {n}, DType::I64);
      if (slot.has_points) batch->points = view(slot.points, prepend(n, slot.points_shape), DType::F32);
      if (slot.has_targets) batch->targets = view(slot.targets, prepend(n, slot.targets_shape), DType::F32);
      return true;
    }
    if (m.threads.empty() && m.claimable()) {  // no workers: make the batch here
      int64_t b, ep;
      uint64_t gen;
      std::shared_ptr<const std::vector<int64_t>> ord;
      int s = m.claim(&b, &gen, &ep, &ord);
      lock.unlock();
      m.run_claimed(s, b, gen, ep, ord);
      lock.lock();
      continue;
    }
    m.ready_cv.wait(lock);
  }
}

int64_t Loader::batches_per_epoch() const { return impl_->batches(); }

double Loader::images_per_second() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (!impl_->started) return 0.0;
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - impl_->epoch_start).count();
  return s > 0 ? static_cast<double>(impl_->made.load()) / s : 0.0;
}

}  // namespace ff
