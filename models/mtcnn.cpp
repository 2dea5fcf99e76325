// models/mtcnn.cpp — see mtcnn.h.
#include "models/mtcnn.h"

#include <cmath>

#include "engine/error.h"
#include "engine/random.h"
#include "layers/checkpoint.h"

namespace ff {

namespace {
// The layers are initialised as PyTorch would (the file's weights replace them).
Rng& init_rng() {
  static thread_local Rng rng(0);
  return rng;
}
std::shared_ptr<Conv2d> conv(int64_t in, int64_t out, int k) {
  return std::make_shared<Conv2d>(in, out, k, 1, 0, true, init_rng());
}
std::shared_ptr<Linear> dense(int64_t in, int64_t out) { return std::make_shared<Linear>(in, out, true, init_rng()); }
std::shared_ptr<PReLU> act(int64_t c) { return std::make_shared<PReLU>(c); }
}  // namespace

Tensor mtcnn_softmax2(const Tensor& logits) {
  FF_CHECK(logits.dim() >= 2 && logits.size(1) == 2 && logits.dtype() == DType::F32 && logits.device().is_cpu(),
           "mtcnn_softmax2: expects CPU float32 [N, 2, ...], got ", logits.str());
  const Tensor& x = logits;
  Tensor y = Tensor::empty(x.shape(), DType::F32);
  const int64_t n = x.size(0), inner = x.numel() / (2 * n);
  const float* p = x.data<float>();
  float* q = y.data<float>();
  for (int64_t b = 0; b < n; ++b)
    for (int64_t i = 0; i < inner; ++i) {
      const float a0 = p[(b * 2) * inner + i], a1 = p[(b * 2 + 1) * inner + i];
      const float m = a0 > a1 ? a0 : a1;
      const float e0 = std::exp(a0 - m), e1 = std::exp(a1 - m), s = e0 + e1;
      q[(b * 2) * inner + i] = e0 / s;
      q[(b * 2 + 1) * inner + i] = e1 / s;
    }
  return y;
}

Tensor flat_dense_weight(const Tensor& w, int64_t c, int64_t h, int64_t wd) {
  FF_CHECK(w.dim() == 2 && w.size(1) == c * h * wd && w.dtype() == DType::F32 && w.device().is_cpu(),
           "flat_dense_weight: expects a CPU float32 weight [out, ", c * h * wd, "], got ", w.str());
  Tensor src = w.detach();
  Tensor out = Tensor::empty(w.shape(), DType::F32);
  const int64_t rows = w.size(0), cols = w.size(1);
  const float* s = src.data<float>();
  float* d = out.data<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t ci = 0; ci < c; ++ci)
      for (int64_t hi = 0; hi < h; ++hi)
        for (int64_t wi = 0; wi < wd; ++wi)
          d[r * cols + (ci * h + hi) * wd + wi] = s[r * cols + (wi * h + hi) * c + ci];
  return out;
}

namespace {
// A dense layer on [N, C, H, W] features flattened in facenet's permuted order.
Tensor dense_permuted(Linear& l, const Tensor& x) {
  Tensor wf = flat_dense_weight(l.weight(), x.size(1), x.size(2), x.size(3));
  return linear(flatten(x, 1), wf, l.bias() ? *l.bias() : Tensor());
}
}  // namespace

// Registration order = facenet's state_dict order.
PNet::PNet() {
  conv1 = register_module("conv1", conv(3, 10, 3));
  prelu1 = register_module("prelu1", act(10));
  conv2 = register_module("conv2", conv(10, 16, 3));
  prelu2 = register_module("prelu2", act(16));
  conv3 = register_module("conv3", conv(16, 32, 3));
  prelu3 = register_module("prelu3", act(32));
  conv4_1 = register_module("conv4_1", conv(32, 2, 1));
  conv4_2 = register_module("conv4_2", conv(32, 4, 1));
  eval();
}

MtcnnOutput PNet::forward_all(const Tensor& x) {
  FF_CHECK(x.dim() == 4 && x.size(1) == 3 && x.size(2) >= 12 && x.size(3) >= 12,
           "PNet: input must be [N, 3, H, W] with H, W >= 12, got ", x.str());
  Tensor h = (*prelu1)((*conv1)(x));
  h = max_pool2d(h, 2, 2, 0, true);
  h = (*prelu2)((*conv2)(h));
  h = (*prelu3)((*conv3)(h));
  return {(*conv4_2)(h), mtcnn_softmax2((*conv4_1)(h)), Tensor()};
}

RNet::RNet() {
  conv1 = register_module("conv1", conv(3, 28, 3));
  prelu1 = register_module("prelu1", act(28));
  conv2 = register_module("conv2", conv(28, 48, 3));
  prelu2 = register_module("prelu2", act(48));
  conv3 = register_module("conv3", conv(48, 64, 2));
  prelu3 = register_module("prelu3", act(64));
  dense4 = register_module("dense4", dense(576, 128));
  prelu4 = register_module("prelu4", act(128));
  dense5_1 = register_module("dense5_1", dense(128, 2));
  dense5_2 = register_module("dense5_2", dense(128, 4));
  eval();
}

MtcnnOutput RNet::forward_all(const Tensor& x) {
  FF_CHECK(x.dim() == 4 && x.size(1) == 3 && x.size(2) == 24 && x.size(3) == 24,
           "RNet: input must be [N, 3, 24, 24], got ", x.str());
  Tensor h = (*prelu1)((*conv1)(x));
  h = max_pool2d(h, 3, 2, 0, true);
  h = (*prelu2)((*conv2)(h));
  h = max_pool2d(h, 3, 2, 0, true);
  h = (*prelu3)((*conv3)(h));  // [N, 64, 3, 3]
  h = (*prelu4)(dense_permuted(*dense4, h));
  return {(*dense5_2)(h), mtcnn_softmax2((*dense5_1)(h)), Tensor()};
}

ONet::ONet() {
  conv1 = register_module("conv1", conv(3, 32, 3));
  prelu1 = register_module("prelu1", act(32));
  conv2 = register_module("conv2", conv(32, 64, 3));
  prelu2 = register_module("prelu2", act(64));
  conv3 = register_module("conv3", conv(64, 64, 3));
  prelu3 = register_module("prelu3", act(64));
  conv4 = register_module("conv4", conv(64, 128, 2));
  prelu4 = register_module("prelu4", act(128));
  dense5 = register_module("dense5", dense(1152, 256));
  prelu5 = register_module("prelu5", act(256));
  dense6_1 = register_module("dense6_1", dense(256, 2));
  dense6_2 = register_module("dense6_2", dense(256, 4));
  dense6_3 = register_module("dense6_3", dense(256, 10));
  eval();
}

MtcnnOutput ONet::forward_all(const Tensor& x) {
  FF_CHECK(x.dim() == 4 && x.size(1) == 3 && x.size(2) == 48 && x.size(3) == 48,
           "ONet: input must be [N, 3, 48, 48], got ", x.str());
  Tensor h = (*prelu1)((*conv1)(x));
  h = max_pool2d(h, 3, 2, 0, true);
  h = (*prelu2)((*conv2)(h));
  h = max_pool2d(h, 3, 2, 0, true);
  h = (*prelu3)((*conv3)(h));
  h = max_pool2d(h, 2, 2, 0, true);
  h = (*prelu4)((*conv4)(h));  // [N, 128, 3, 3]
  h = (*prelu5)(dense_permuted(*dense5, h));
  return {(*dense6_2)(h), mtcnn_softmax2((*dense6_1)(h)), (*dense6_3)(h)};
}

MtcnnNets::MtcnnNets() {
  pnet = register_module("pnet", std::make_shared<PNet>());
  rnet = register_module("rnet", std::make_shared<RNet>());
  onet = register_module("onet", std::make_shared<ONet>());
  eval();
}

std::shared_ptr<MtcnnNets> load_mtcnn(const std::string& path) {
  const SafeTensors st = read_safetensors(path);
  auto it = st.metadata.find("model");
  FF_CHECK(it != st.metadata.end() && it->second == "mtcnn", path,
           ": not an MTCNN file (metadata 'model' must be 'mtcnn'; write one with scripts/mtcnn_weights.sh)");
  auto nets = std::make_shared<MtcnnNets>();
  load_module(*nets, st, true, path);
  return nets;
}

}  // namespace ff
