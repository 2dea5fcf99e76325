// tests/support/tiny_cnn.cpp — see tiny_cnn.h.
#include "tests/support/tiny_cnn.h"

#include <cmath>

#include "engine/autograd.h"
#include "train/optim.h"

namespace ff::test {

namespace {
class GlobalAvgPool : public Module {
 public:
  Tensor forward(const Tensor& x) override { return flatten(adaptive_avg_pool2d_1x1(x), 1); }
};
}  // namespace

TinyCnn::TinyCnn(int64_t classes, Rng& rng) {
  add(std::make_shared<Conv2d>(3, 8, 3, 1, 1, true, rng));
  add(std::make_shared<BatchNorm2d>(8));
  add(std::make_shared<ReLU>());
  add(std::make_shared<MaxPool2d>(2, 2));
  add(std::make_shared<Conv2d>(8, 16, 3, 1, 1, true, rng));
  add(std::make_shared<BatchNorm2d>(16));
  add(std::make_shared<ReLU>());
  add(std::make_shared<GlobalAvgPool>());
  add(std::make_shared<Linear>(16, classes, true, rng));
}

void toy_shapes_batch(int64_t n, Rng& rng, Tensor* images, Tensor* labels) {
  const int S = 16;
  *images = Tensor::empty({n, 3, S, S});
  *labels = Tensor::empty({n}, DType::I64);
  float* img = images->data<float>();
  int64_t* lab = labels->data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    int cls = static_cast<int>(rng.randint(4));
    lab[i] = cls;
    float col[3];
    for (float& c : col) c = static_cast<float>(rng.uniform(0.5, 1.0));
    int cx = 4 + static_cast<int>(rng.randint(8)), cy = 4 + static_cast<int>(rng.randint(8));
    float* im = img + i * 3 * S * S;
    for (int y = 0; y < S; ++y)
      for (int x = 0; x < S; ++x) {
        int dx = x - cx, dy = y - cy;
        bool on = false;
        switch (cls) {
          case 0: on = std::abs(dy) <= 1 && std::abs(dx) <= 4; break;
          case 1: on = std::abs(dx) <= 1 && std::abs(dy) <= 4; break;
          case 2: on = std::abs(dx - dy) <= 1 && std::abs(dx) <= 4; break;
          case 3: on = std::max(std::abs(dx), std::abs(dy)) == 3; break;
        }
        for (int c = 0; c < 3; ++c)
          im[(c * S + y) * S + x] = (on ? col[c] : 0.f) + static_cast<float>(rng.uniform(-0.15, 0.15));
      }
  }
}

TinyTrainResult train_tiny_cnn(int steps, int64_t batch, uint64_t seed, Device device,
                               const std::function<void(int, double)>& on_step) {
  Rng rng(seed);
  TinyCnn net(4, rng);
  net.to(device);
  SGDOptions o;
  o.lr = 0.05;
  o.momentum = 0.9;
  o.weight_decay = 5e-4;
  SGD opt(net.parameters(), o);
  TinyTrainResult r;
  for (int step = 0; step < steps; ++step) {
    Tensor x, y;
    toy_shapes_batch(batch, rng, &x, &y);
    Tensor loss = cross_entropy(net.forward(x.to(device)), y.to(device));
    opt.zero_grad();
    loss.backward();
    opt.step();
    r.losses.push_back(loss.item());
    if (on_step) on_step(step, r.losses.back());
  }
  net.eval();
  NoGradGuard no_grad;
  Tensor x, y;
  toy_shapes_batch(256, rng, &x, &y);
  std::vector<float> logits = net.forward(x.to(device)).to_vector<float>();
  std::vector<int64_t> labels = y.to_vector<int64_t>();
  int correct = 0;
  for (int64_t i = 0; i < 256; ++i) {
    int best = 0;
    for (int k = 1; k < 4; ++k)
      if (logits[i * 4 + k] > logits[i * 4 + best]) best = k;
    correct += best == labels[i];
  }
  r.final_accuracy = correct / 256.0;
  return r;
}

}  // namespace ff::test
