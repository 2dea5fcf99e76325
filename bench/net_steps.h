// bench/net_steps.h — one network, its loss and its optimizer on a fixed random batch, for the
// whole-network benchmarks (bench/bench_nets.cpp on the CPU, bench/cuda/bench_cuda.cpp on the GPU;
// bench/torch_nets_bench.py and bench/torch_gpu_bench.py build the same in PyTorch).
//
//   forward()     eval mode, no autograd: the inference cost of a batch
//   train_step()  training mode: zero_grad, forward, loss, backward, SGD step (momentum 0.9,
//                 weight decay 5e-4). Hourglass: MSE of every stack against a fixed target
//                 (intermediate supervision). Embedding: the fused ArcFace head (s 45, m 0.1) over
//                 `classes` classes, its weights trained with the network's.
// Nothing is read back to the host, so on the GPU a step is queued work only (time it with events):
// the batch and the labels are uploaded once, at construction, and the CUDA losses do not read their
// labels back (engine/checks.h). tests/test_step_syncs.cpp counts the same for fit's steps: zero.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "layers/heads.h"
#include "models/hourglass.h"
#include "models/resnet.h"
#include "train/optim.h"

namespace ff::bench {

class NetSteps {
 public:
  // kind "hourglass" (config: HourglassConfig string) or "embedding" (EmbeddingConfig string).
  NetSteps(const std::string& kind, const std::string& config, int64_t batch, int64_t classes, Device device)
      : kind_(kind), batch_(batch) {
    Rng rng(1);
    int64_t size = 0;
    if (kind == "hourglass") {
      HourglassConfig c = HourglassConfig::parse(config);
      hg_ = std::make_shared<StackedHourglass>(c, rng);
      net_ = hg_;
      size = c.input_size;
      target_ = Tensor::empty({batch, c.landmarks, size / 4, size / 4});
      uniform_(target_, 0, 1, rng);
    } else if (kind == "embedding") {
      EmbeddingConfig c = EmbeddingConfig::parse(config);
      net_ = std::make_shared<EmbeddingNet>(c, rng);
      head_ = std::make_shared<ArcFaceHead>(classes, c.embedding_dim, rng);
      size = c.resnet.input_size;
      std::vector<int64_t> l(static_cast<size_t>(batch));
      for (auto& v : l) v = rng.randint(classes);
      labels_ = Tensor::from_vector(l, {batch});
    } else {
      FF_FAIL("NetSteps: unknown network kind '", kind, "' (hourglass or embedding)");
    }
    x_ = Tensor::empty({batch, 3, size, size});
    uniform_(x_, -1, 1, rng);
    net_->to(device);
    x_ = x_.to(device);
    if (target_.defined()) target_ = target_.to(device);
    if (head_) {
      head_->to(device);
      labels_ = labels_.to(device);
    }
    std::vector<Tensor*> params = net_->parameters();
    if (head_)
      for (Tensor* p : head_->parameters()) params.push_back(p);
    SGDOptions o;
    o.lr = 1e-4;  // small: the timed steps must not drive the weights to NaN
    o.momentum = 0.9;
    o.weight_decay = 5e-4;
    opt_ = std::make_unique<SGD>(params, o);
  }

  void forward() {
    net_->eval();
    NoGradGuard ng;
    out_ = hg_ ? hg_->forward_all(x_).back() : net_->forward(x_);
  }

  void train_step() {
    net_->train();
    opt_->zero_grad();
    Tensor loss;
    if (hg_) {
      for (const Tensor& o : hg_->forward_all(x_)) loss = loss.defined() ? add(loss, mse_loss(o, target_)) : mse_loss(o, target_);
    } else {
      loss = head_->forward(net_->forward(x_), labels_);
    }
    loss.backward();
    opt_->step();
    out_ = loss.detach();
  }

  int64_t batch() const { return batch_; }
  const std::string& kind() const { return kind_; }
  Module& net() { return *net_; }

 private:
  std::string kind_;
  int64_t batch_;
  std::shared_ptr<Module> net_;
  std::shared_ptr<StackedHourglass> hg_;
  std::shared_ptr<ArcFaceHead> head_;
  std::unique_ptr<SGD> opt_;
  Tensor x_, target_, labels_, out_;
};

}  // namespace ff::bench
