// tests/support/tiny_cnn.h — a small conv-bn-relu-pool-linear classifier, the generated data it
// learns from and its SGD training loop: test support for tests/test_train_tiny.cpp (the engine
// trains end to end). Not a model of the product, hence not in models/ (which may not include
// train/).
//
//   x [N, 3, 16, 16] -> conv3x3 3->8 -> BN -> ReLU -> maxpool 2x2 -> conv3x3 8->16 -> BN -> ReLU
//     -> global average pool -> flatten [N, 16] -> linear 16 -> classes
#pragma once
#include <functional>

#include "layers/basic.h"

namespace ff::test {

class TinyCnn : public Sequential {
 public:
  TinyCnn(int64_t classes, Rng& rng);
};

// A batch of generated 16x16 RGB images of four shape classes — 0 horizontal bar, 1 vertical bar,
// 2 diagonal bar, 3 square ring — at random positions and colours on a noisy background.
// images [n, 3, 16, 16] float32, labels [n] int64.
void toy_shapes_batch(int64_t n, Rng& rng, Tensor* images, Tensor* labels);

struct TinyTrainResult {
  std::vector<double> losses;  // one per step
  double final_accuracy = 0;   // on a fresh held-out batch of 256
};
// Trains TinyCnn with SGD (momentum 0.9) for `steps` steps of batch `batch` on `device`.
// `on_step(step, loss)` is called after every step when given.
TinyTrainResult train_tiny_cnn(int steps, int64_t batch, uint64_t seed, Device device,
                               const std::function<void(int, double)>& on_step = nullptr);

}  // namespace ff::test
