// layers/heads.h — the classification heads trained on top of a face embedding.
//
//   SoftmaxHead  logits = emb Wᵀ + b, loss = cross_entropy(logits, labels). Parameters "weight"
//                [classes, dim] and "bias" [classes] at the module root (a torch.nn.Linear).
//   ArcFaceHead  cos = normalize(emb) normalize(W)ᵀ, loss = arcface_loss(cos, labels, s, m) (the
//                fused op: additive angular margin m on the target class, scale s). Parameter
//                "weight" [classes, dim], xavier_uniform as the reference notebooks' nn.Parameter.
//
// Both share the Head interface, so a trainer holds either behind one pointer:
//   loss   = head.forward(emb, labels)   // emb [N, dim], labels int64 [N] in [0, classes) -> 0-dim
//   scores = head.scores(emb)            // [N, classes], argmax = predicted class
// Heads live beside the network, not inside it: the embedding network's weights stay the same
// whichever head trained them. models/factory.h saves a head with its network ("head.*" names).
#pragma once
#include <string>

#include "layers/module.h"

namespace ff {

class Head : public Module {
 public:
  using Module::forward;  // the single-input forward stays hidden behind the two-input one
  // emb [N, dim], labels int64 [N] in [0, classes) -> 0-dim mean loss over the batch.
  virtual Tensor forward(const Tensor& emb, const Tensor& labels) = 0;
  // emb [N, dim] -> [N, classes]: logits (softmax) or cosines (ArcFace); larger = more likely.
  virtual Tensor scores(const Tensor& emb) = 0;
  virtual std::string kind() const = 0;  // "softmax" or "arcface", as in a checkpoint's metadata
  int64_t dim() const { return dim_; }
  int64_t classes() const { return classes_; }

 protected:
  Head(int64_t dim, int64_t classes);
  // Checks emb (and labels when defined) against this head; `op` names the caller in the error.
  void check(const char* op, const Tensor& emb, const Tensor& labels) const;

 private:
  int64_t dim_, classes_;
};

class SoftmaxHead : public Head {
 public:
  // torch.nn.Linear(dim, classes) initialisation.
  SoftmaxHead(int64_t dim, int64_t classes, Rng& rng);
  Tensor forward(const Tensor& emb, const Tensor& labels) override;
  Tensor logits(const Tensor& emb);  // emb [N, dim] -> [N, classes]
  Tensor scores(const Tensor& emb) override { return logits(emb); }
  std::string kind() const override { return "softmax"; }
  Tensor& weight() { return weight_; }
  Tensor& bias() { return bias_; }

 private:
  Tensor &weight_, &bias_;
};

class ArcFaceHead : public Head {
 public:
  // The reference notebooks' head: s = 45, m = 0.1.
  ArcFaceHead(int64_t classes, int64_t dim, Rng& rng) : ArcFaceHead(classes, dim, 45.0, 0.1, rng) {}
  ArcFaceHead(int64_t classes, int64_t dim, double s, double m, Rng& rng);
  Tensor forward(const Tensor& emb, const Tensor& labels) override;
  // emb [N, dim] -> [N, classes] cosine similarity to each class centre (no margin, no scale):
  // evaluation and closed-set prediction.
  Tensor cosine(const Tensor& emb);
  Tensor scores(const Tensor& emb) override { return cosine(emb); }
  std::string kind() const override { return "arcface"; }
  Tensor& weight() { return weight_; }
  double s, m;

 private:
  Tensor& weight_;
};

}  // namespace ff
