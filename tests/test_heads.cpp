// tests/test_heads.cpp — the classification heads (layers/heads.h): the ArcFace head equals the
// unfused composition of ordinary ops (loss and both gradients, float32 and float64) and passes a
// float64 finite-difference check of the whole head; the softmax head equals cross_entropy of a
// linear layer; parameter names, shapes and initialisation ranges; gradients reach the embeddings
// and every parameter; bad arguments are named; CUDA against CPU (skips without a GPU).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>

#include "engine/autograd.h"
#include "layers/heads.h"
#include "tests/op_cases.h"
#include "tests/test_util.h"

namespace ff::test {
namespace {

std::vector<std::string> names(Module& m) {
  std::vector<std::string> out;
  for (auto& [n, t] : m.state_dict()) out.push_back(n);
  return out;
}

double max_abs(const Tensor& t) {
  double mx = 0;
  for (double v : t.to_vector<double>()) mx = std::max(mx, std::fabs(v));
  return mx;
}

// Loss and gradients of the head against the same function written with the unfused ops.
void expect_arcface_head_equals_unfused(DType dt, double rtol, double atol) {
  Rng rng(21);
  int64_t n = 6, classes = 11, dim = 8;
  ArcFaceHead head(classes, dim, 45.0, 0.1, rng);
  head.to(dt);
  Tensor e0 = rand_tensor(rng, {n, dim}, dt);
  Tensor labels = rand_labels(rng, n, classes);

  Tensor e = e0.clone().requires_grad_();
  Tensor loss = head.forward(e, labels);
  loss.backward();

  Tensor er = e0.clone().requires_grad_(), wr = head.weight().detach().clone().requires_grad_();
  Tensor ref = arcface_loss_unfused(linear(l2_normalize(er), l2_normalize(wr), Tensor()), labels, 45.0, 0.1);
  ref.backward();

  std::string what = std::string("ArcFaceHead ") + dtype_name(dt);
  expect_close(loss, ref, rtol, atol, what + " loss");
  expect_close(e.grad(), er.grad(), rtol, atol, what + " grad embeddings");
  expect_close(head.weight().grad(), wr.grad(), rtol, atol, what + " grad weight");
}

TEST(Heads, ArcFaceHeadEqualsUnfusedComposition) {
  expect_arcface_head_equals_unfused(DType::F32, 1e-4, 1e-6);  // float32: summation order differs
  expect_arcface_head_equals_unfused(DType::F64, 1e-10, 1e-12);
}

// Central differences of the loss with respect to every element of `x` (float64).
Tensor numerical_grad(Tensor& x, const std::function<double()>& f, double eps = 1e-6) {
  std::vector<double> g(x.numel());
  double* p = x.data<double>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    double keep = p[i];
    p[i] = keep + eps;
    double up = f();
    p[i] = keep - eps;
    double down = f();
    p[i] = keep;
    g[i] = (up - down) / (2 * eps);
  }
  return Tensor::from_vector(g, x.shape());
}

TEST(Heads, ArcFaceHeadGradientsReachEmbeddingsAndWeightFiniteDifferences) {
  Rng rng(22);
  int64_t n = 4, classes = 5, dim = 3;
  ArcFaceHead head(classes, dim, 8.0, 0.3, rng);  // a moderate scale keeps differences well conditioned
  head.to(DType::F64);
  Tensor e = rand_tensor(rng, {n, dim}, DType::F64).requires_grad_();
  Tensor labels = rand_labels(rng, n, classes);
  Tensor loss = head.forward(e, labels);
  loss.backward();
  ASSERT_TRUE(e.grad().defined()) << "no gradient reached the embeddings";
  ASSERT_TRUE(head.weight().grad().defined()) << "no gradient reached the class weights";
  EXPECT_GT(max_abs(e.grad()), 1e-6);
  EXPECT_GT(max_abs(head.weight().grad()), 1e-6);
  auto f = [&] {
    NoGradGuard ng;
    return head.forward(e, labels).item();
  };
  Tensor ed = e.detach(), wd = head.weight().detach();
  expect_close(e.grad(), numerical_grad(ed, f), 1e-6, 1e-8, "d loss / d embeddings");
  expect_close(head.weight().grad(), numerical_grad(wd, f), 1e-6, 1e-8, "d loss / d weight");
}

TEST(Heads, ArcFaceHeadNamesShapesAndXavierInit) {
  Rng rng(23);
  int64_t classes = 1000, dim = 64;
  ArcFaceHead head(classes, dim, rng);
  EXPECT_EQ(names(head), std::vector<std::string>{"weight"});
  EXPECT_EQ(head.weight().shape(), (Shape{classes, dim}));
  EXPECT_TRUE(head.weight().requires_grad());
  EXPECT_DOUBLE_EQ(head.s, 45.0);
  EXPECT_DOUBLE_EQ(head.m, 0.1);
  EXPECT_EQ(head.kind(), "arcface");
  EXPECT_EQ(head.classes(), classes);
  EXPECT_EQ(head.dim(), dim);
  // xavier_uniform: U(-b, b), b = sqrt(6 / (fan_in + fan_out)); variance b^2 / 3.
  double b = std::sqrt(6.0 / static_cast<double>(classes + dim));
  std::vector<double> v = head.weight().to_vector<double>();
  double mean = 0, var = 0, mx = 0;
  for (double x : v) mean += x, mx = std::max(mx, std::fabs(x));
  mean /= static_cast<double>(v.size());
  for (double x : v) var += (x - mean) * (x - mean);
  var /= static_cast<double>(v.size());
  EXPECT_LE(mx, b);
  EXPECT_GT(mx, 0.99 * b);
  EXPECT_NEAR(mean, 0.0, 0.01 * b);
  EXPECT_NEAR(var, b * b / 3, 0.03 * b * b / 3);
}

TEST(Heads, ArcFaceCosineIsTheNormalisedProduct) {
  Rng rng(24);
  ArcFaceHead head(7, 5, rng);
  Tensor e = rand_tensor(rng, {3, 5}, DType::F32);
  Tensor c = head.cosine(e);
  ASSERT_EQ(c.shape(), (Shape{3, 7}));
  std::vector<float> ev = e.to_vector<float>(), wv = head.weight().to_vector<float>(), cv = c.to_vector<float>();
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 7; ++k) {
      double dot = 0, ne = 0, nw = 0;
      for (int d = 0; d < 5; ++d) {
        dot += ev[i * 5 + d] * wv[k * 5 + d];
        ne += ev[i * 5 + d] * ev[i * 5 + d];
        nw += wv[k * 5 + d] * wv[k * 5 + d];
      }
      EXPECT_NEAR(cv[i * 7 + k], dot / std::sqrt(ne * nw), 1e-6) << "row " << i << " class " << k;
    }
  expect_close(head.scores(e), c, 0, 0, "scores() of the ArcFace head are its cosines");
  // A row equal to a class centre has cosine 1 there: the head predicts that class.
  std::vector<float> row(wv.begin() + 3 * 5, wv.begin() + 4 * 5);
  Tensor c3 = head.cosine(Tensor::from_vector(row, {1, 5}));
  std::vector<float> c3v = c3.to_vector<float>();
  EXPECT_NEAR(c3v[3], 1.0, 1e-6);
  EXPECT_EQ(std::max_element(c3v.begin(), c3v.end()) - c3v.begin(), 3);
}

TEST(Heads, SoftmaxHeadNamesShapesAndLinearInit) {
  Rng rng(25);
  int64_t dim = 64, classes = 500;
  SoftmaxHead head(dim, classes, rng);
  EXPECT_EQ(names(head), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(head.weight().shape(), (Shape{classes, dim}));
  EXPECT_EQ(head.bias().shape(), (Shape{classes}));
  EXPECT_EQ(head.kind(), "softmax");
  // torch.nn.Linear: both U(-1/sqrt(in), 1/sqrt(in)).
  double b = 1.0 / std::sqrt(static_cast<double>(dim));
  EXPECT_LE(max_abs(head.weight()), b);
  EXPECT_GT(max_abs(head.weight()), 0.99 * b);
  EXPECT_LE(max_abs(head.bias()), b);
  EXPECT_GT(max_abs(head.bias()), 0.9 * b);
}

TEST(Heads, SoftmaxHeadIsCrossEntropyOfALinearLayerAndGradientsReachEverything) {
  Rng rng(26);
  int64_t n = 9, dim = 6, classes = 13;
  SoftmaxHead head(dim, classes, rng);
  Tensor e0 = rand_tensor(rng, {n, dim}, DType::F32);
  Tensor labels = rand_labels(rng, n, classes);
  Tensor e = e0.clone().requires_grad_();
  Tensor loss = head.forward(e, labels);
  loss.backward();
  Tensor er = e0.clone().requires_grad_();
  Tensor wr = head.weight().detach().clone().requires_grad_(), br = head.bias().detach().clone().requires_grad_();
  Tensor ref = cross_entropy(linear(er, wr, br), labels);
  ref.backward();
  expect_close(loss, ref, 1e-6, 0, "softmax head loss");
  expect_close(e.grad(), er.grad(), 1e-6, 1e-8, "softmax head grad embeddings");
  expect_close(head.weight().grad(), wr.grad(), 1e-6, 1e-8, "softmax head grad weight");
  expect_close(head.bias().grad(), br.grad(), 1e-6, 1e-8, "softmax head grad bias");
  EXPECT_GT(max_abs(e.grad()), 1e-4);
  EXPECT_GT(max_abs(head.weight().grad()), 1e-4);
  EXPECT_GT(max_abs(head.bias().grad()), 1e-4);
  NoGradGuard ng;
  expect_close(head.logits(e0), linear(e0, wr.detach(), br.detach()), 1e-6, 1e-7, "softmax logits");
  EXPECT_EQ(head.scores(e0).shape(), (Shape{n, classes}));
}

TEST(Heads, UsableThroughTheHeadInterface) {
  Rng rng(27);
  std::vector<std::unique_ptr<Head>> heads;
  heads.push_back(std::make_unique<SoftmaxHead>(4, 3, rng));
  heads.push_back(std::make_unique<ArcFaceHead>(3, 4, rng));
  Tensor e = rand_tensor(rng, {2, 4}, DType::F32);
  Tensor labels = Tensor::from_vector<int64_t>({2, 0}, {2});
  for (auto& h : heads) {
    Tensor l = h->forward(e, labels);
    EXPECT_EQ(l.dim(), 0) << h->kind();
    EXPECT_TRUE(std::isfinite(l.item())) << h->kind();
    EXPECT_GT(l.item(), 0) << h->kind();
    EXPECT_EQ(h->scores(e).shape(), (Shape{2, 3})) << h->kind();
    EXPECT_THROW(h->forward(e), Error) << h->kind() << ": the single-input forward is not a head's";
  }
}

TEST(Heads, BadArgumentsAreNamed) {
  Rng rng(28);
  ArcFaceHead arc(10, 8, rng);
  SoftmaxHead sm(8, 10, rng);
  Tensor e = rand_tensor(rng, {4, 8}, DType::F32);
  Tensor labels = rand_labels(rng, 4, 10);
  for (Head* h : std::vector<Head*>{&arc, &sm}) {
    auto expect_error = [&](const std::function<void()>& f, const std::string& needle) {
      try {
        f();
        ADD_FAILURE() << h->kind() << ": expected an error mentioning '" << needle << "'";
      } catch (const Error& err) {
        EXPECT_NE(std::string(err.what()).find(needle), std::string::npos) << err.what();
      }
    };
    expect_error([&] { h->forward(rand_tensor(rng, {4, 7}, DType::F32), labels); }, "[4, 7]");
    expect_error([&] { h->forward(rand_tensor(rng, {4, 8, 1}, DType::F32), labels); }, "embeddings");
    expect_error([&] { h->forward(e, rand_labels(rng, 3, 10)); }, "labels");
    expect_error([&] { h->forward(e, Tensor::zeros({4}, DType::F32)); }, "int64");
    expect_error([&] { h->forward(e, Tensor::from_vector<int64_t>({0, 1, 10, 2}, {4})); }, "label 10");
    expect_error([&] { h->scores(rand_tensor(rng, {4, 9}, DType::F32)); }, "[4, 9]");
  }
  EXPECT_THROW(ArcFaceHead(10, 8, 0.0, 0.1, rng), Error);
  EXPECT_THROW(ArcFaceHead(10, 8, 45.0, -0.1, rng), Error);
  EXPECT_THROW(ArcFaceHead(10, 8, 45.0, 2.0, rng), Error);
  EXPECT_THROW(ArcFaceHead(0, 8, rng), Error);
  EXPECT_THROW(SoftmaxHead(8, 0, rng), Error);
}

TEST(Heads, FF_STAND_IN_NAME(CudaMatchesCpu)) {  // the class-weight product is cuBLAS
  FF_SKIP_WITHOUT_CUDA("heads CUDA-vs-CPU check");
  PoisonGuard poison;
  Rng rng(29);
  int64_t n = 32, dim = 64, classes = 1000;
  Tensor e0 = rand_tensor(rng, {n, dim}, DType::F32);
  Tensor labels = rand_labels(rng, n, classes);
  ArcFaceHead cpu_arc(classes, dim, rng), gpu_arc(classes, dim, rng);
  SoftmaxHead cpu_sm(dim, classes, rng), gpu_sm(dim, classes, rng);
  std::vector<std::pair<Head*, Head*>> pairs{{&cpu_arc, &gpu_arc}, {&cpu_sm, &gpu_sm}};
  for (auto [hc, hg] : pairs) {
    {
      NoGradGuard ng;
      auto sc = hc->state_dict(), sg = hg->state_dict();
      for (size_t i = 0; i < sc.size(); ++i) sg[i].second->copy_from(*sc[i].second);
    }
    hg->to(Device::cuda());
    Tensor ec = e0.clone().requires_grad_(), eg = e0.to(Device::cuda()).detach().requires_grad_();
    Tensor lc = hc->forward(ec, labels), lg = hg->forward(eg, labels.to(Device::cuda()));
    lc.backward();
    lg.backward();
    expect_close(lg, lc, 1e-5, 1e-5, hc->kind() + " loss cuda");
    expect_close(eg.grad(), ec.grad(), 1e-4, 1e-6, hc->kind() + " grad embeddings cuda");
    auto pc = hc->named_parameters(), pg = hg->named_parameters();
    for (size_t i = 0; i < pc.size(); ++i)
      expect_close(pg[i].second->grad(), pc[i].second->grad(), 1e-4, 1e-6, hc->kind() + " grad " + pc[i].first + " cuda");
    NoGradGuard ng;
    expect_close(hg->scores(eg.detach()), hc->scores(e0), 1e-5, 1e-6, hc->kind() + " scores cuda");
  }
}

}  // namespace
}  // namespace ff::test
