// layers/heads.cpp — see heads.h.
#include "layers/heads.h"

#include <cmath>

namespace ff {

Head::Head(int64_t dim, int64_t classes) : dim_(dim), classes_(classes) {
  FF_CHECK(dim >= 1 && classes >= 1, "head: dim and classes must be positive, got dim ", dim, ", classes ", classes);
}

void Head::check(const char* op, const Tensor& emb, const Tensor& labels) const {
  FF_CHECK(emb.defined() && emb.dim() == 2 && emb.size(1) == dim_, op, ": embeddings must be [N, ", dim_, "], got ",
           emb.defined() ? emb.str() : std::string("undefined"));
  if (!labels.defined()) return;
  FF_CHECK(labels.dtype() == DType::I64 && labels.dim() == 1 && labels.size(0) == emb.size(0), op,
           ": labels must be int64 [", emb.size(0), "] (one per embedding), got ", labels.str());
  FF_CHECK(labels.device() == emb.device(), op, ": labels ", labels.str(), " and embeddings ", emb.str(),
           " are on different devices");
}

SoftmaxHead::SoftmaxHead(int64_t dim, int64_t classes, Rng& rng)
    : Head(dim, classes),
      weight_(register_parameter("weight", Tensor::empty({classes, dim}))),
      bias_(register_parameter("bias", Tensor::empty({classes}))) {
  // torch.nn.Linear: kaiming_uniform(a = sqrt(5)) weight, U(-1/sqrt(in), 1/sqrt(in)) bias.
  Tensor w = weight_.detach(), b = bias_.detach();
  kaiming_uniform_(w, std::sqrt(5.0), rng);
  double bound = 1.0 / std::sqrt(static_cast<double>(dim));
  uniform_(b, -bound, bound, rng);
}

Tensor SoftmaxHead::logits(const Tensor& emb) {
  check("SoftmaxHead", emb, Tensor());
  return linear(emb, weight_, bias_);
}

Tensor SoftmaxHead::forward(const Tensor& emb, const Tensor& labels) {
  check("SoftmaxHead", emb, labels);
  return cross_entropy(linear(emb, weight_, bias_), labels);
}

ArcFaceHead::ArcFaceHead(int64_t classes, int64_t dim, double s, double m, Rng& rng)
    : Head(dim, classes), s(s), m(m), weight_(register_parameter("weight", Tensor::empty({classes, dim}))) {
  FF_CHECK(s > 0 && std::isfinite(s) && m >= 0 && m < std::acos(-1.0) / 2, "ArcFaceHead: need s > 0 and 0 <= m < pi/2, got s ", s, ", m ", m);
  Tensor w = weight_.detach();
  xavier_uniform_(w, rng);
}

Tensor ArcFaceHead::cosine(const Tensor& emb) {
  check("ArcFaceHead", emb, Tensor());
  return linear(l2_normalize(emb), l2_normalize(weight_), Tensor());
}

Tensor ArcFaceHead::forward(const Tensor& emb, const Tensor& labels) {
  check("ArcFaceHead", emb, labels);
  return arcface_loss(linear(l2_normalize(emb), l2_normalize(weight_), Tensor()), labels, s, m);
}

}  // namespace ff
