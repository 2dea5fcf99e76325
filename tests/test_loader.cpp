// tests/test_loader.cpp — the batch loader (train/loader.h): determinism whatever the worker count,
// shuffling, drop_last, exact resume, error propagation, shutdown mid-epoch, batches kept by the
// caller, waiting for an asynchronous upload before a buffer is reused or freed, labels checked
// against the class count, and argument checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "train/loader.h"

namespace ff {
namespace {

// A sample whose every value comes from the generator, so any change of seed stream shows:
// image [3, 5, 4] uniform draws plus the item index, points [6, 2] draws, label item % 5.
Sample random_sample(int64_t item, Rng& rng) {
  Sample s;
  s.image = Tensor::empty({3, 5, 4});
  float* p = s.image.data<float>();
  for (int64_t i = 0; i < s.image.numel(); ++i) p[i] = static_cast<float>(rng.uniform()) + item;
  s.points = Tensor::empty({6, 2});
  float* q = s.points.data<float>();
  for (int64_t i = 0; i < s.points.numel(); ++i) q[i] = static_cast<float>(rng.normal());
  s.label = item % 5;
  return s;
}

std::vector<uint8_t> bytes_of(const Tensor& t) {
  std::vector<uint8_t> b(t.nbytes());
  if (!b.empty()) std::memcpy(b.data(), t.raw(), b.size());
  return b;
}

// Everything a batch holds, as bytes, for exact comparisons.
struct BatchBytes {
  std::vector<int64_t> indices;
  Shape image_shape, points_shape;
  std::vector<uint8_t> images, points, labels;
  bool operator==(const BatchBytes& o) const {
    return indices == o.indices && image_shape == o.image_shape && points_shape == o.points_shape &&
           images == o.images && points == o.points && labels == o.labels;
  }
};
BatchBytes capture(const Batch& b) {
  BatchBytes c;
  c.indices = b.indices;
  c.image_shape = b.images.shape();
  c.images = bytes_of(b.images);
  c.labels = bytes_of(b.labels);
  if (b.points.defined()) {
    c.points_shape = b.points.shape();
    c.points = bytes_of(b.points);
  }
  return c;
}

std::vector<BatchBytes> run_epoch(Loader& loader, int64_t epoch, int64_t first_batch = 0) {
  loader.start_epoch(epoch, first_batch);
  std::vector<BatchBytes> out;
  Batch b;
  while (loader.next(&b)) out.push_back(capture(b));
  return out;
}

LoaderOptions options(int workers, int64_t batch_size = 4, uint64_t seed = 7) {
  LoaderOptions o;
  o.batch_size = batch_size;
  o.seed = seed;
  o.workers = workers;
  o.prefetch = 3;
  o.drop_last = false;
  return o;
}

TEST(Loader, SameBatchesWhateverTheWorkerCount) {
  const int64_t n = 37;
  std::vector<std::vector<BatchBytes>> reference;  // [epoch][batch] with 0 workers
  {
    Loader loader(n, random_sample, options(0));
    for (int64_t e = 0; e < 2; ++e) reference.push_back(run_epoch(loader, e));
  }
  ASSERT_EQ(reference[0].size(), 10u);  // 9 full batches + 1 of 1
  EXPECT_EQ(reference[0].back().indices.size(), 1u);
  EXPECT_EQ(reference[0][0].image_shape, (Shape{4, 3, 5, 4}));
  EXPECT_EQ(reference[0][0].points_shape, (Shape{4, 6, 2}));
  for (int workers : {1, 2, 4}) {
    LoaderOptions o = options(workers);
    o.pin_memory = workers != 2;  // plain and page-aligned (pinnable) buffers hold the same bytes
    Loader loader(n, random_sample, o);
    for (int64_t e = 0; e < 2; ++e) {
      std::vector<BatchBytes> got = run_epoch(loader, e);
      ASSERT_EQ(got.size(), reference[e].size()) << workers << " workers, epoch " << e;
      for (size_t b = 0; b < got.size(); ++b)
        EXPECT_TRUE(got[b] == reference[e][b]) << workers << " workers, epoch " << e << ", batch " << b;
    }
  }
}

TEST(Loader, LabelsAndIndicesMatchTheItems) {
  Loader loader(13, random_sample, options(2));
  loader.start_epoch(0);
  Batch b;
  std::vector<int64_t> seen;
  while (loader.next(&b)) {
    ASSERT_EQ(b.labels.dtype(), DType::I64);
    ASSERT_EQ(b.labels.shape(), (Shape{b.size()}));
    const int64_t* labels = b.labels.data<int64_t>();
    const float* images = b.images.data<float>();
    for (int64_t i = 0; i < b.size(); ++i) {
      EXPECT_EQ(labels[i], b.indices[i] % 5);
      // Pixel values are uniform draws + the item index: the integer part names the item.
      EXPECT_EQ(static_cast<int64_t>(images[i * 60]), b.indices[i]);
      seen.push_back(b.indices[i]);
    }
  }
  std::sort(seen.begin(), seen.end());
  for (int64_t i = 0; i < 13; ++i) EXPECT_EQ(seen[i], i);  // every item exactly once
  EXPECT_GT(loader.images_per_second(), 0.0);
}

std::vector<int64_t> order_of(const std::vector<BatchBytes>& epoch) {
  std::vector<int64_t> order;
  for (const BatchBytes& b : epoch) order.insert(order.end(), b.indices.begin(), b.indices.end());
  return order;
}

TEST(Loader, ShuffleDiffersPerEpochAndSeed) {
  const int64_t n = 50;
  Loader a(n, random_sample, options(2, 5, 1)), b(n, random_sample, options(2, 5, 2));
  std::vector<int64_t> a0 = order_of(run_epoch(a, 0)), a1 = order_of(run_epoch(a, 1));
  std::vector<int64_t> b0 = order_of(run_epoch(b, 0));
  EXPECT_NE(a0, a1);
  EXPECT_NE(a0, b0);
  std::vector<int64_t> identity(n);
  for (int64_t i = 0; i < n; ++i) identity[i] = i;
  EXPECT_NE(a0, identity);
  for (std::vector<int64_t> o : {a0, a1, b0}) {  // each epoch is a permutation
    std::sort(o.begin(), o.end());
    EXPECT_EQ(o, identity);
  }
  // Same (seed, epoch) again: same order, and same sample contents.
  Loader a_again(n, random_sample, options(1, 5, 1));
  std::vector<BatchBytes> first = run_epoch(a, 1), again = run_epoch(a_again, 1);
  ASSERT_EQ(first.size(), again.size());
  for (size_t i = 0; i < first.size(); ++i) EXPECT_TRUE(first[i] == again[i]) << "batch " << i;

  LoaderOptions plain = options(2, 5, 1);
  plain.shuffle = false;
  Loader c(n, random_sample, plain);
  EXPECT_EQ(order_of(run_epoch(c, 3)), identity);
}

TEST(Loader, DropLastCounts) {
  for (int workers : {0, 2}) {
    LoaderOptions o = options(workers, 4);
    o.drop_last = true;
    Loader drop(10, random_sample, o);
    EXPECT_EQ(drop.batches_per_epoch(), 2);
    std::vector<BatchBytes> d = run_epoch(drop, 0);
    ASSERT_EQ(d.size(), 2u);
    for (const BatchBytes& b : d) EXPECT_EQ(b.image_shape[0], 4);

    o.drop_last = false;
    Loader keep(10, random_sample, o);
    EXPECT_EQ(keep.batches_per_epoch(), 3);
    std::vector<BatchBytes> k = run_epoch(keep, 0);
    ASSERT_EQ(k.size(), 3u);
    EXPECT_EQ(k[2].indices.size(), 2u);
    EXPECT_EQ(k[2].image_shape, (Shape{2, 3, 5, 4}));
    EXPECT_EQ(k[2].points_shape, (Shape{2, 6, 2}));
    EXPECT_EQ(k[2].labels.size(), 2 * sizeof(int64_t));

    o.drop_last = true;  // fewer items than one batch: an empty epoch
    Loader none(3, random_sample, o);
    EXPECT_EQ(none.batches_per_epoch(), 0);
    EXPECT_TRUE(run_epoch(none, 0).empty());
  }
}

TEST(Loader, ResumeGivesTheRemainingBatches) {
  const int64_t n = 29;
  Loader whole(n, random_sample, options(2));
  std::vector<BatchBytes> full = run_epoch(whole, 4);
  ASSERT_EQ(full.size(), 8u);
  for (int workers : {0, 3}) {
    for (int64_t first : {0, 1, 5, 7, 8}) {
      Loader resumed(n, random_sample, options(workers));
      // Interrupt another epoch halfway first: its pending work must not leak into the resume.
      resumed.start_epoch(1);
      Batch b;
      ASSERT_TRUE(resumed.next(&b));
      ASSERT_TRUE(resumed.next(&b));
      std::vector<BatchBytes> rest = run_epoch(resumed, 4, first);
      ASSERT_EQ(rest.size(), full.size() - first) << "first_batch " << first;
      for (size_t i = 0; i < rest.size(); ++i)
        EXPECT_TRUE(rest[i] == full[first + i]) << workers << " workers, first_batch " << first;
    }
  }
}

TEST(Loader, MakerErrorNamesTheItem) {
  for (int workers : {0, 1, 2}) {
    LoaderOptions o = options(workers, 4);
    o.shuffle = false;  // item 7 is in batch 1
    auto make = [](int64_t item, Rng& rng) {
      if (item == 7) throw Error("corrupt JPEG header");
      return random_sample(item, rng);
    };
    Loader loader(20, make, o);
    loader.start_epoch(0);
    Batch b;
    ASSERT_TRUE(loader.next(&b));
    try {
      loader.next(&b);
      ADD_FAILURE() << "no error from the item-7 batch with " << workers << " workers";
    } catch (const Error& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find("item 7"), std::string::npos) << msg;
      EXPECT_NE(msg.find("corrupt JPEG header"), std::string::npos) << msg;
    }
    // The failed batch is consumed; the epoch goes on with the next one.
    ASSERT_TRUE(loader.next(&b));
    EXPECT_EQ(b.indices.front(), 8);
  }  // and the loader is destroyed cleanly with work pending
}

TEST(Loader, NonStandardExceptionIsReported) {
  auto make = [](int64_t item, Rng& rng) {
    if (item == 2) throw 42;
    return random_sample(item, rng);
  };
  LoaderOptions o = options(2, 4);
  o.shuffle = false;
  Loader loader(8, make, o);
  Batch b;
  try {
    loader.next(&b);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("item 2"), std::string::npos) << e.what();
  }
}

TEST(Loader, DestructionMidEpochDropsPendingWork) {
  std::atomic<int64_t> calls{0};
  auto slow = [&calls](int64_t item, Rng& rng) {
    ++calls;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return random_sample(item, rng);
  };
  const int64_t n = 2000, batch = 4;
  {
    LoaderOptions o = options(3, batch);
    Loader loader(n, slow, o);
    loader.start_epoch(0);
    Batch b;
    ASSERT_TRUE(loader.next(&b));
  }  // destroyed with workers mid-batch: must return, not finish the epoch
  // At most the prefetch ring (prefetch + 1 slots) plus one batch per worker could have been
  // started; the rest of the 2,000 items must never have been made.
  EXPECT_LE(calls.load(), (3 + 1 + 3) * batch + 3);
  { Loader idle(n, slow, options(2, batch)); }  // never started
  {
    Loader started(n, slow, options(2, batch));
    started.start_epoch(0);  // started but never consumed
  }
}

TEST(Loader, PointsUndefinedGiveUndefinedBatchPoints) {
  auto no_points = [](int64_t item, Rng& rng) {
    Sample s = random_sample(item, rng);
    s.points = Tensor();
    return s;
  };
  Loader loader(9, no_points, options(2, 4));
  Batch b;
  int64_t batches = 0;
  loader.start_epoch(0);
  while (loader.next(&b)) {
    EXPECT_FALSE(b.points.defined());
    EXPECT_EQ(b.images.shape()[0], b.size());
    ++batches;
  }
  EXPECT_EQ(batches, 3);
}

TEST(Loader, MismatchedSamplesRaise) {
  LoaderOptions o = options(2, 4);
  o.shuffle = false;
  auto odd_image = [](int64_t item, Rng& rng) {
    Sample s = random_sample(item, rng);
    if (item == 5) s.image = Tensor::zeros({3, 8, 8});
    return s;
  };
  auto missing_points = [](int64_t item, Rng& rng) {
    Sample s = random_sample(item, rng);
    if (item == 2) s.points = Tensor();
    return s;
  };
  auto fewer_points = [](int64_t item, Rng& rng) {
    Sample s = random_sample(item, rng);
    if (item == 6) s.points = Tensor::zeros({5, 2});
    return s;
  };
  auto wrong_dtype = [](int64_t item, Rng& rng) {
    Sample s = random_sample(item, rng);
    if (item == 1) s.image = s.image.to(DType::F64);
    return s;
  };
  auto message = [&](Loader::MakeSample make, int64_t skip) -> std::string {
    Loader loader(12, make, o);
    Batch b;
    for (int64_t i = 0; i < skip; ++i) EXPECT_TRUE(loader.next(&b));
    try {
      loader.next(&b);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  std::string m = message(odd_image, 1);
  EXPECT_NE(m.find("item 5"), std::string::npos) << m;
  EXPECT_NE(m.find("does not match"), std::string::npos) << m;
  EXPECT_NE(m.find("[3, 8, 8]"), std::string::npos) << m;
  m = message(missing_points, 0);  // item 2: points missing where item 0 had some
  EXPECT_NE(m.find("item 2"), std::string::npos) << m;
  EXPECT_NE(m.find("points"), std::string::npos) << m;
  m = message(fewer_points, 1);  // item 6: 5 points where item 4 had 6
  EXPECT_NE(m.find("item 6"), std::string::npos) << m;
  EXPECT_NE(m.find("[5, 2]"), std::string::npos) << m;
  m = message(wrong_dtype, 0);
  EXPECT_NE(m.find("item 1"), std::string::npos) << m;
  EXPECT_NE(m.find("float32 [C, H, W]"), std::string::npos) << m;
}

TEST(Loader, BatchKeptByTheCallerIsNotOverwritten) {
  Loader loader(64, random_sample, options(2, 4));
  loader.start_epoch(0);
  Batch first;
  ASSERT_TRUE(loader.next(&first));
  Batch kept = first;  // the caller holds on to batch 0's tensors
  BatchBytes before = capture(kept);
  Batch b;
  int64_t count = 1;
  while (loader.next(&b)) ++count;  // cycles every slot of the ring several times
  EXPECT_EQ(count, 16);
  EXPECT_TRUE(capture(kept) == before);
  // A second epoch after the kept batch is released reuses memory without trouble.
  kept = Batch();
  first = Batch();
  EXPECT_EQ(run_epoch(loader, 1).size(), 16u);
}

TEST(Loader, PinnableBuffersArePageAlignedAndNothingLeaks) {
  const int64_t baseline = host_bytes_in_use();
  {
    Batch kept;  // declared first: destroyed after the loader
    Loader loader(30, random_sample, options(2, 4));  // pin_memory defaults to true
    for (int64_t e = 0; e < 3; ++e) {
      loader.start_epoch(e);
      Batch b;
      while (loader.next(&b)) {
        // Whole pages of its own, so the driver can pin it (see train/loader.cpp).
        EXPECT_EQ(reinterpret_cast<uintptr_t>(b.images.raw()) % 4096, 0u);
        if (e == 1 && b.indices.size() == 4) kept = b;  // a batch outliving its epoch and the loader
      }
    }
    EXPECT_GT(host_bytes_in_use(), baseline);
    ASSERT_TRUE(kept.images.defined());
  }
  EXPECT_EQ(host_bytes_in_use(), baseline);
}

// What an asynchronous upload leaves with a pinned host block (Storage::readers, set by
// Tensor::copy_from from a cudart::Event): here a fake that records when it is waited for and
// whether the block still held the uploaded bytes then.
struct FakeUpload : HostReader {
  const Storage* block;
  std::vector<uint8_t> uploaded;  // the block's bytes when the "upload" was enqueued
  int waits = 0;
  bool intact_at_wait = true;
  explicit FakeUpload(const Storage& s)
      : block(&s), uploaded(static_cast<const uint8_t*>(s.data), static_cast<const uint8_t*>(s.data) + s.nbytes) {}
  void wait() override {
    ++waits;
    intact_at_wait = intact_at_wait && std::memcmp(block->data, uploaded.data(), uploaded.size()) == 0;
  }
};

TEST(Loader, WaitsForTheUploadBeforeReusingABatchBuffer) {
  for (int workers : {0, 1}) {
    LoaderOptions o = options(workers, 2);
    o.shuffle = false;
    o.prefetch = 1;  // two slots: batch 2 refills batch 0's buffers
    Loader loader(8, random_sample, o);
    Batch b;
    ASSERT_TRUE(loader.next(&b));
    Storage& images = *b.images.impl()->storage;
    Storage& labels = *b.labels.impl()->storage;
    const void* images_block = images.data;
    auto up_images = std::make_shared<FakeUpload>(images), up_labels = std::make_shared<FakeUpload>(labels);
    images.readers = up_images;  // as if batch 0 had been uploaded and the copy were still running
    labels.readers = up_labels;
    ASSERT_TRUE(loader.next(&b));  // batch 1 (drops batch 0: its slot may be refilled from now on)
    bool reused = b.images.raw() == images_block;
    ASSERT_TRUE(loader.next(&b));  // batch 2
    ASSERT_EQ(b.indices.front(), 4);
    reused = reused || b.images.raw() == images_block;
    ASSERT_TRUE(reused) << workers << " workers: batch 0's buffer was not reused by batch 1 or 2";
    EXPECT_EQ(up_images->waits, 1) << workers << " workers: the loader must wait for the upload once before refilling";
    EXPECT_EQ(up_labels->waits, 1) << workers << " workers";
    EXPECT_TRUE(up_images->intact_at_wait) << workers << " workers: the buffer was overwritten before the wait";
    EXPECT_TRUE(up_labels->intact_at_wait) << workers << " workers";
    EXPECT_EQ(up_images.use_count(), 1) << "the loader must drop the reader once it has finished";
  }
}

TEST(Loader, WaitsForTheUploadBeforeFreeingABatchBuffer) {
  auto up = std::shared_ptr<FakeUpload>();
  {
    Loader loader(8, random_sample, options(0, 4));
    Batch b;
    ASSERT_TRUE(loader.next(&b));
    up = std::make_shared<FakeUpload>(*b.images.impl()->storage);
    b.images.impl()->storage->readers = up;
  }  // the loader (and with it the buffer) goes while the "upload" is pending
  EXPECT_EQ(up->waits, 1);
  EXPECT_TRUE(up->intact_at_wait);
  // A kept batch's block outlives the loader; it waits when its last user lets go.
  auto kept_up = std::shared_ptr<FakeUpload>();
  Batch kept;
  {
    Loader loader(8, random_sample, options(0, 4));
    ASSERT_TRUE(loader.next(&kept));
    kept_up = std::make_shared<FakeUpload>(*kept.images.impl()->storage);
    kept.images.impl()->storage->readers = kept_up;
  }
  kept = Batch();
  EXPECT_EQ(kept_up->waits, 1);
}

TEST(Loader, LabelsOutsideTheClassesRaiseNamingTheItem) {
  for (int workers : {0, 2}) {
    LoaderOptions o = options(workers, 4);
    o.shuffle = false;
    o.num_classes = 4;  // random_sample's labels are item % 5: item 4 has label 4
    Loader loader(8, random_sample, o);
    Batch b;
    ASSERT_TRUE(loader.next(&b));  // items 0..3, labels 0..3
    try {
      loader.next(&b);
      ADD_FAILURE() << "label 4 of item 4 is outside [0, 4) and must raise";
    } catch (const Error& e) {
      const std::string msg = e.what();
      for (const char* part : {"item 4", "batch 1", "label 4", "row 0", "[0, 4)"})
        EXPECT_NE(msg.find(part), std::string::npos) << part << " missing from: " << msg;
    }
    EXPECT_FALSE(loader.next(&b));
  }
  LoaderOptions o = options(1);
  o.num_classes = -1;
  EXPECT_THROW(Loader(10, random_sample, o), Error);
}

TEST(Loader, EpochEndsAndNeedsARestart) {
  Loader loader(8, random_sample, options(1, 4));
  Batch b;
  EXPECT_TRUE(loader.next(&b));  // implicitly epoch 0
  EXPECT_TRUE(loader.next(&b));
  EXPECT_FALSE(loader.next(&b));
  EXPECT_FALSE(loader.next(&b));
  EXPECT_FALSE(b.images.defined());
  loader.start_epoch(1);
  EXPECT_TRUE(loader.next(&b));
}

TEST(Loader, BadArgumentsRaise) {
  LoaderOptions o = options(1);
  o.batch_size = 0;
  EXPECT_THROW(Loader(10, random_sample, o), Error);
  o = options(-1);
  EXPECT_THROW(Loader(10, random_sample, o), Error);
  o = options(1);
  o.prefetch = 0;
  EXPECT_THROW(Loader(10, random_sample, o), Error);
  EXPECT_THROW(Loader(-1, random_sample, options(1)), Error);
  EXPECT_THROW(Loader(10, Loader::MakeSample(), options(1)), Error);
  Loader loader(10, random_sample, options(1, 4));
  EXPECT_THROW(loader.start_epoch(0, 4), Error);  // 3 batches: first_batch 0..3
  EXPECT_THROW(loader.start_epoch(-1), Error);
  EXPECT_THROW(loader.next(nullptr), Error);
  loader.start_epoch(0, 3);  // resume exactly at the end: nothing left
  Batch b;
  EXPECT_FALSE(loader.next(&b));
}

}  // namespace
}  // namespace ff
