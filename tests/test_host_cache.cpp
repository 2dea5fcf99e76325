// tests/test_host_cache.cpp — the cache of large host blocks behind CPU tensors (engine/tensor.h):
// a freed block serves the next request of its size class, small blocks stay with malloc, the
// cache can be emptied, and reused blocks hold what is written to them.
#include <gtest/gtest.h>

#include "engine/tensor.h"
#include "tests/test_util.h"

namespace ff {
namespace {

TEST(HostCache, FreedLargeBlockIsReusedForTheSameSize) {
  if (!host_block_is_mapped(size_t{1} << 20)) GTEST_SKIP() << "not applicable: sanitizer build (every block from malloc)";
  release_host_cache();
  const HostCacheStats s0 = host_cache_stats();
  const void* first = nullptr;
  {
    Tensor a = Tensor::empty({256, 1024});  // 1 MiB of float32
    first = a.raw();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(first) % 4096, 0u) << "a mapped block is page-aligned";
  }
  EXPECT_EQ(host_cache_stats().cached_bytes, s0.cached_bytes + (int64_t{1} << 20));
  Tensor b = Tensor::full({256, 1024}, 3.0);
  EXPECT_EQ(b.raw(), first) << "the freed block serves the next request of its size";
  EXPECT_EQ(host_cache_stats().hits, s0.hits + 1);
  EXPECT_EQ(b.to_vector<float>()[12345], 3.0f);
  Tensor small = Tensor::empty({16});
  EXPECT_FALSE(host_block_is_mapped(small.nbytes()));
  b = Tensor();
  release_host_cache();
  EXPECT_EQ(host_cache_stats().cached_bytes, 0);
  EXPECT_GT(host_cache_stats().limit_bytes, 0);
}

}  // namespace
}  // namespace ff
