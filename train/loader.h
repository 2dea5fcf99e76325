// train/loader.h — batches for the training loops, made by worker threads ahead of time.
//
// A Loader knows nothing about faces: the caller gives it the number of items and a function that
// makes one sample (decode, crop, augment, normalise) from an item index and a random generator.
// Workers fill ready batches (pinned host memory when CUDA is present: uploading a batch is then
// asynchronous, and the loader waits for the upload before it reuses the buffer) while the
// training loop consumes them. Deterministic for a seed whatever the number of workers: the order of an epoch is
// a shuffle seeded by (seed, epoch), and sample i of epoch e draws from Rng(derive_seed(seed, {e, i, tag})), so
// what a sample looks like never depends on which thread made it or when.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "engine/random.h"
#include "engine/tensor.h"

namespace ff {

// One sample as the maker returns it. image: float32 [C, H, W]; points: float32 [K, 2] or
// undefined; targets: float32 of any shape (dense training targets, e.g. the detector's heatmaps)
// or undefined; label: a class index or -1.
struct Sample {
  Tensor image;
  Tensor points;
  Tensor targets;
  int64_t label = -1;
};

// A batch: images [B, C, H, W], points [B, K, 2] and targets [B, ...] (undefined when samples
// have none), labels [B] int64, and the item indices it holds (in order).
struct Batch {
  Tensor images, points, targets, labels;
  std::vector<int64_t> indices;
  int64_t size() const { return static_cast<int64_t>(indices.size()); }
};

struct LoaderOptions {
  int64_t batch_size = 32;
  bool shuffle = true;
  bool drop_last = true;
  uint64_t seed = 0;
  int workers = 2;        // threads making samples (0: made on the calling thread)
  int prefetch = 4;       // batches kept ready ahead of the consumer
  bool pin_memory = true; // page-locked host batches when a CUDA device is present
  // > 0: every sample's label must lie in [0, num_classes), checked on the host as the sample is
  // made (an error naming the item, its batch and row). The CUDA losses do not check device labels
  // (that would be a host synchronisation per step, engine/checks.h): this is where they are.
  int64_t num_classes = 0;
};

class Loader {
 public:
  using MakeSample = std::function<Sample(int64_t index, Rng& rng)>;
  Loader(int64_t num_items, MakeSample make, const LoaderOptions& options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Starts epoch `epoch` at batch `first_batch` (for resume); the previous epoch's pending work is
  // dropped.
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  // The next batch of the current epoch; false at its end. Errors thrown by the maker (a corrupt
  // image, say) come out here, naming the item.
  bool next(Batch* batch);
  int64_t batches_per_epoch() const;
  // Samples made per second of wall time since the epoch started.
  double images_per_second() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ff
