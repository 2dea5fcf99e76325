// tests/test_train_tiny.cpp — end-to-end training of a small conv-bn-relu-pool-linear net
// (tests/support/tiny_cnn.h):
//   - TrajectoryMatchesPyTorch: from PyTorch's initial weights, 5 SGD steps (momentum, weight
//     decay) on 5 fixed batches give PyTorch's float64 losses and final parameters to 1e-12, at 1
//     and 2 threads; one step's float32 gradients match on a gate-safe batch
//     (tests/data/models/tiny_cnn.safetensors, tools/make_model_goldens.py tiny()). This is the
//     test that notices a wrong gradient or optimizer step anywhere along the way;
//   - LossFallsBelowBoundIn200Steps is a convergence smoke test, not a correctness test: a network
//     learns its toy task with many gradient bugs (a wrong momentum, a gradient off by a factor,
//     a weight gradient summed over half the batch), so it only says that training runs, the
//     loss falls and held-out accuracy exceeds 0.9;
//   - two runs with the same seed give bit-identical losses; host memory stays flat.
#include <gtest/gtest.h>

#include <numeric>

#include "engine/autograd.h"
#include "engine/safetensors.h"
#include "layers/checkpoint.h"
#include "tests/param_grads.h"
#include "tests/support/tiny_cnn.h"
#include "tests/test_util.h"
#include "train/optim.h"

namespace ff::test {
namespace {

// Worst |ours - ref| / max|ref| over m's state (parameters and buffers) named in g as
// "<prefix><name>", printed.
double worst_state_error(Module& m, const SafeTensors& g, const std::string& prefix, const std::string& what) {
  double worst = 0;
  std::string where;
  int compared = 0;
  for (auto& [name, t] : m.state_dict()) {
    if (!g.has(prefix + name)) continue;
    ++compared;
    const Tensor& ref = g.at(prefix + name);
    std::vector<double> a = t->to_vector<double>(), r = ref.to_vector<double>();
    EXPECT_EQ(a.size(), r.size()) << name;
    double scale = std::max(max_abs(ref), 1e-300);
    for (size_t i = 0; i < a.size() && i < r.size(); ++i)
      if (!(std::fabs(a[i] - r[i]) / scale <= worst)) worst = std::fabs(a[i] - r[i]) / scale, where = name;
  }
  EXPECT_GT(compared, 10) << what;
  std::printf("%s: %d tensors, worst |error| / max|ref| %.3g (%s)\n", what.c_str(), compared, worst, where.c_str());
  return worst;
}

// Worst errors measured over OpenBLAS's AVX-512 kernel and OPENBLAS_CORETYPE=Haswell at 1 and 2
// threads, and the tolerances (about 10x): float64 losses 1.7e-16 relative -> 2e-15; final state
// 6.5e-15 of max|ref| -> 1e-13; float64 gradients 6.5e-15 -> 1e-13, exact zeros 4.3e-16 of the
// largest -> 1e-14; float32 loss 1.2e-8 -> 2e-7; float32 gradients 9.6e-7 -> 1e-5, exact zeros
// 2e-7 -> 2e-6.
constexpr double kLossTol = 2e-15, kFinalTol = 1e-13, kLossF32Tol = 2e-7;
constexpr GradTol kGradF64{1e-13, 1e-14}, kGradF32{1e-5, 2e-6};

TEST(TrainTiny, TrajectoryMatchesPyTorch) {
  SafeTensors g = read_safetensors(std::string(FF_SOURCE_DIR) + "/tests/data/models/tiny_cnn.safetensors");
  SafeTensors w;
  for (auto& [n, t] : g.tensors)
    if (n.rfind("w/", 0) == 0) w.tensors.emplace_back(n.substr(2), t);
  const int steps = std::stoi(g.metadata.at("sgd_steps"));
  const Tensor &xs = g.at("sgd/x"), &ys = g.at("sgd/labels");
  ASSERT_EQ(xs.size(0), steps);
  for (int nt : {1, 2}) {
    OmpThreads threads(nt);
    std::string at = " at " + std::to_string(nt) + " thread(s)";
    Rng rng(0);
    TinyCnn net(4, rng);
    load_module(net, w);
    net.to(DType::F64);
    {  // step 0's gradients alone, where a wrong one shows first
      Tensor loss = cross_entropy(net.forward(g.at("x").to(DType::F64)), g.at("labels"));
      loss.backward();
      EXPECT_NEAR(loss.item(), g.at("train/loss").item(), kLossTol * g.at("train/loss").item()) << "step 0" << at;
      expect_grads(net, g, "", kGradF64, "tiny CNN float64 gradients" + at);
      net.to(DType::F32);
      load_module(net, w);  // the running statistics moved: back to the initial state
      net.zero_grad();
      net.to(DType::F64);
    }
    SGDOptions o;
    o.lr = std::stod(g.metadata.at("sgd_lr"));
    o.momentum = std::stod(g.metadata.at("sgd_momentum"));
    o.weight_decay = std::stod(g.metadata.at("sgd_weight_decay"));
    SGD opt(net.parameters(), o);
    std::vector<double> ref = g.at("sgd/losses").to_vector<double>();
    double worst = 0;
    const int64_t per = xs.numel() / steps;
    Shape batch(xs.shape().begin() + 1, xs.shape().end());
    std::vector<float> xv = xs.to_vector<float>();
    std::vector<int64_t> yv = ys.to_vector<int64_t>();
    for (int s = 0; s < steps; ++s) {
      Tensor x = Tensor::from_vector(std::vector<float>(xv.begin() + s * per, xv.begin() + (s + 1) * per), batch);
      Tensor y = Tensor::from_vector(std::vector<int64_t>(yv.begin() + s * batch[0], yv.begin() + (s + 1) * batch[0]),
                                     {batch[0]});
      Tensor loss = cross_entropy(net.forward(x.to(DType::F64)), y);
      opt.zero_grad();
      loss.backward();
      opt.step();
      double e = std::fabs(loss.item() - ref[s]) / std::fabs(ref[s]);
      worst = std::max(worst, e);
      EXPECT_LE(e, kLossTol) << "step " << s << at << ": loss " << loss.item() << " vs PyTorch's " << ref[s];
    }
    std::printf("tiny CNN%s: %d float64 SGD losses, worst relative error %.3g (tolerance %.3g)\n", at.c_str(), steps,
                worst, kLossTol);
    EXPECT_LE(worst_state_error(net, g, "sgd/final/", "tiny CNN final parameters and statistics" + at), kFinalTol);
  }
  // One float32 step's gradients on the gate-safe batch, against PyTorch's float64.
  Rng rng(0);
  TinyCnn net(4, rng);
  load_module(net, w);
  net.train();
  Tensor loss = cross_entropy(net.forward(g.at("f32/x")), g.at("f32/labels"));
  loss.backward();
  double e = std::fabs(loss.item() - g.at("f32/loss").item()) / g.at("f32/loss").item();
  std::printf("tiny CNN float32 loss: relative error %.3g (tolerance %.3g)\n", e, kLossF32Tol);
  EXPECT_LE(e, kLossF32Tol);
  expect_grads(net, g, "f32/", kGradF32, "tiny CNN float32 gradients");
}

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

TEST(TrainTiny, FF_STAND_IN_NAME(CudaTrainsToo)) {  // convolutions and batch norm are cuDNN
  FF_SKIP_WITHOUT_CUDA("tiny CNN CUDA training");
  TinyTrainResult r = train_tiny_cnn(200, 32, 5, Device::cuda());
  double last = std::accumulate(r.losses.end() - 20, r.losses.end(), 0.0) / 20;
  EXPECT_LT(last, 0.35);
}

}  // namespace
}  // namespace ff::test
