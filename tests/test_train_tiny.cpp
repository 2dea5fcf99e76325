// tests/test_train_tiny.cpp — the engine trains end to end: a small conv-bn-relu-pool-linear net
// (models/tiny_cnn.h) on generated data for 200 SGD steps on the CPU drives the loss below a fixed
// bound, and two runs with the same seed give bit-identical losses.
#include <gtest/gtest.h>

#include <numeric>

#include "engine/autograd.h"
#include "models/tiny_cnn.h"
#include "tests/test_util.h"

namespace ff::test {
namespace {

TEST(TrainTiny, LossFallsBelowBoundIn200Steps) {
  TinyTrainResult r = train_tiny_cnn(200, 32, /*seed=*/5, Device::cpu());
  ASSERT_EQ(r.losses.size(), 200u);
  double first = std::accumulate(r.losses.begin(), r.losses.begin() + 10, 0.0) / 10;
  double last = std::accumulate(r.losses.end() - 20, r.losses.end(), 0.0) / 20;
  std::printf("tiny CNN: mean loss of steps 1-10 %.4f, of steps 181-200 %.4f, held-out accuracy %.3f\n", first, last,
              r.final_accuracy);
  EXPECT_GT(first, 1.2);     // ln 4 = 1.386 at chance
  EXPECT_LT(last, 0.35);     // the fixed bound
  EXPECT_GT(r.final_accuracy, 0.9);
}

TEST(TrainTiny, SameSeedGivesBitIdenticalLosses) {
  TinyTrainResult a = train_tiny_cnn(30, 16, 9, Device::cpu());
  TinyTrainResult b = train_tiny_cnn(30, 16, 9, Device::cpu());
  ASSERT_EQ(a.losses.size(), b.losses.size());
  for (size_t i = 0; i < a.losses.size(); ++i) ASSERT_EQ(a.losses[i], b.losses[i]) << "step " << i;
  TinyTrainResult c = train_tiny_cnn(30, 16, 10, Device::cpu());
  EXPECT_NE(a.losses.back(), c.losses.back());  // and the seed matters
}

TEST(TrainTiny, HostMemorySteadyAcrossTrainingSteps) {
  int64_t after_first = -1;
  int64_t nodes = live_node_count();
  train_tiny_cnn(100, 8, 3, Device::cpu(), [&](int step, double) {
    if (step == 1) {
      after_first = host_bytes_in_use();
    } else if (step > 1) {
      ASSERT_EQ(host_bytes_in_use(), after_first) << "host memory grew at step " << step;
    }
  });
  EXPECT_EQ(live_node_count(), nodes);
}

TEST(TrainTiny, CudaTrainsToo) {
  FF_SKIP_WITHOUT_CUDA("tiny CNN CUDA training");
  TinyTrainResult r = train_tiny_cnn(200, 32, 5, Device::cuda());
  double last = std::accumulate(r.losses.end() - 20, r.losses.end(), 0.0) / 20;
  EXPECT_LT(last, 0.35);
}

}  // namespace
}  // namespace ff::test
