// tests/test_optim.cpp — optimizers and learning-rate schedules against PyTorch.
//
// Golden data: tests/data/optim/*.safetensors, written by tools/make_optim_goldens.py (Debian's
// /usr/bin/python3 with torch). Checks:
//   - SGD (momentum + weight decay with two lr groups, Nesterov, dampening, plain) and Adam (with
//     and without weight decay, two groups) follow torch's trajectory over 10 steps in float32 to
//     1e-6 relative, with one parameter skipped (no gradient) at steps 3 and 6; the float64 CPU
//     kernels follow it to float32 rounding.
//   - StepLR, CosineAnnealingLR and ReduceLROnPlateau give torch's lr sequence over 30 steps to 1e-12.
//   - Saving optimizer and schedule state mid-run (through the safetensors bytes) and restoring it
//     into fresh objects continues bit for bit.
//   - Bad hyperparameters and bad state raise ff::Error; zero_grad drops gradients.
//   - CUDA optimizer steps agree with the CPU (skipped without a GPU).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <string>

#include "engine/safetensors.h"
#include "tests/test_util.h"
#include "train/lr_schedule.h"
#include "train/optim.h"

namespace ff::test {
namespace {

std::string optim_path(const std::string& name) {
  return std::string(FF_SOURCE_DIR) + "/tests/data/optim/" + name + ".safetensors";
}

constexpr int kSteps = 10, kParams = 3;

// The optimizer of each golden file, built as tools/make_optim_goldens.py builds torch's; the
// config string must match the file's metadata word for word.
struct Config {
  std::string name, config;
  std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>& p)> make;
};

std::vector<Config> configs() {
  return {
      {"sgd_momentum", "SGD groups {p0,p2: lr 0.1} {p1: lr 0.01}; momentum 0.9, weight_decay 5e-4",
       [](std::vector<Tensor>& p) -> std::unique_ptr<Optimizer> {
         SGDOptions o;
         o.lr = 0.1, o.momentum = 0.9, o.weight_decay = 5e-4;
         auto opt = std::make_unique<SGD>(std::vector<Tensor*>{&p[0], &p[2]}, o);
         opt->add_param_group({&p[1]}).lr = 0.01;
         return opt;
       }},
      {"sgd_nesterov", "SGD lr 0.05, momentum 0.8, weight_decay 1e-3, nesterov",
       [](std::vector<Tensor>& p) -> std::unique_ptr<Optimizer> {
         SGDOptions o;
         o.lr = 0.05, o.momentum = 0.8, o.weight_decay = 1e-3, o.nesterov = true;
         return std::make_unique<SGD>(std::vector<Tensor*>{&p[0], &p[1], &p[2]}, o);
       }},
      {"sgd_dampening", "SGD lr 0.1, momentum 0.9, dampening 0.3",
       [](std::vector<Tensor>& p) -> std::unique_ptr<Optimizer> {
         SGDOptions o;
         o.lr = 0.1, o.momentum = 0.9, o.dampening = 0.3;
         return std::make_unique<SGD>(std::vector<Tensor*>{&p[0], &p[1], &p[2]}, o);
       }},
      {"sgd_plain", "SGD lr 0.1, weight_decay 1e-2",
       [](std::vector<Tensor>& p) -> std::unique_ptr<Optimizer> {
         SGDOptions o;
         o.lr = 0.1, o.weight_decay = 1e-2;
         return std::make_unique<SGD>(std::vector<Tensor*>{&p[0], &p[1], &p[2]}, o);
       }},
      {"adam", "Adam lr 1e-2",
       [](std::vector<Tensor>& p) -> std::unique_ptr<Optimizer> {
         AdamOptions o;
         o.lr = 1e-2;
         return std::make_unique<Adam>(std::vector<Tensor*>{&p[0], &p[1], &p[2]}, o);
       }},
      {"adam_wd",
       "Adam groups {p0,p2: lr 5e-3, betas 0.8 0.99, eps 1e-6, weight_decay 1e-2} {p1: lr 1e-2, weight_decay 0}",
       [](std::vector<Tensor>& p) -> std::unique_ptr<Optimizer> {
         AdamOptions o;
         o.lr = 5e-3, o.beta1 = 0.8, o.beta2 = 0.99, o.eps = 1e-6, o.weight_decay = 1e-2;
         auto opt = std::make_unique<Adam>(std::vector<Tensor*>{&p[0], &p[2]}, o);
         ParamGroup& g = opt->add_param_group({&p[1]});
         g.lr = 1e-2, g.weight_decay = 0.0;
         return opt;
       }},
  };
}

std::string key(const char* what, int step, int i) {
  return std::string(what) + "." + std::to_string(step) + "." + std::to_string(i);
}

// Fresh parameters from the file's init values, in dtype dt on device d.
std::vector<Tensor> init_params(const SafeTensors& g, DType dt, Device d) {
  std::vector<Tensor> p;
  for (int i = 0; i < kParams; ++i) {
    // clone: to() returns the file's own tensor when nothing changes, and steps update in place
    p.push_back(g.at("init." + std::to_string(i)).to(dt).to(d).clone());
    p.back().requires_grad_(true);
  }
  return p;
}

// Runs steps [from, to] of the golden gradient sequence: sets (or drops) each gradient, steps.
void run_steps(Optimizer& opt, std::vector<Tensor>& p, const SafeTensors& g, int from, int to) {
  for (int s = from; s <= to; ++s) {
    for (int i = 0; i < kParams; ++i) {
      std::string k = key("grad", s, i);
      if (g.has(k))
        p[i].set_grad(g.at(k).to(p[i].dtype()).to(p[i].device()));
      else
        p[i].zero_grad();
    }
    opt.step();
  }
}

class OptimGolden : public ::testing::TestWithParam<Config> {};

TEST_P(OptimGolden, Float32TrajectoryMatchesPyTorch) {
  const Config& c = GetParam();
  SafeTensors g = read_safetensors(optim_path(c.name));
  ASSERT_EQ(g.metadata.at("config"), c.config) << "the C++ and Python configs of " << c.name << " drifted apart";
  std::vector<Tensor> p = init_params(g, DType::F32, Device::cpu());
  auto opt = c.make(p);
  for (int s = 1; s <= kSteps; ++s) {
    run_steps(*opt, p, g, s, s);
    for (int i = 0; i < kParams; ++i)
      // atol: where a value cancels to near zero, one rounding of its operands (magnitude ~1, one
      // float32 ulp ~1.2e-7) dominates its relative error.
      expect_close(p[i], g.at(key("param", s, i)), 1e-6, 2.5e-7,
                   c.name + " param " + std::to_string(i) + " after step " + std::to_string(s));
  }
}

TEST_P(OptimGolden, Float64FollowsTheSameTrajectory) {
  const Config& c = GetParam();
  SafeTensors g = read_safetensors(optim_path(c.name));
  std::vector<Tensor> p = init_params(g, DType::F64, Device::cpu());
  auto opt = c.make(p);
  run_steps(*opt, p, g, 1, kSteps);
  // The reference is float32: agreement to its rounding, no better.
  for (int i = 0; i < kParams; ++i)
    expect_close(p[i], g.at(key("param", kSteps, i)), 1e-5, 1e-6, c.name + " float64 param " + std::to_string(i));
}

// A run interrupted after step 4, its state saved through the safetensors bytes and restored into
// a fresh optimizer over fresh parameter tensors, ends bit-identical to an uninterrupted run.
TEST_P(OptimGolden, SaveRestoreContinuesBitIdentically) {
  const Config& c = GetParam();
  SafeTensors g = read_safetensors(optim_path(c.name));
  std::vector<Tensor> ref = init_params(g, DType::F32, Device::cpu());
  auto ref_opt = c.make(ref);
  StepLR ref_sched(*ref_opt, 3, 0.5);  // so the restored lr is not the configured one
  for (int s = 1; s <= kSteps; ++s) {
    run_steps(*ref_opt, ref, g, s, s);
    ref_sched.step();
  }

  std::vector<Tensor> a = init_params(g, DType::F32, Device::cpu());
  auto opt_a = c.make(a);
  StepLR sched_a(*opt_a, 3, 0.5);
  for (int s = 1; s <= 4; ++s) {
    run_steps(*opt_a, a, g, s, s);
    sched_a.step();
  }
  std::vector<std::pair<std::string, Tensor>> saved = opt_a->state_tensors();
  for (int i = 0; i < kParams; ++i) saved.emplace_back("model." + std::to_string(i), a[i]);
  for (auto& [k, t] : sched_a.state_tensors()) saved.emplace_back("sched." + k, t);
  SafeTensors file = parse_safetensors(serialize_safetensors(saved, {}), "checkpoint");
  opt_a.reset();  // nothing of the first run survives but the bytes

  std::vector<Tensor> b;
  for (int i = 0; i < kParams; ++i) {
    b.push_back(file.at("model." + std::to_string(i)).clone());
    b.back().requires_grad_(true);
  }
  auto opt_b = c.make(b);
  for (size_t k = 0; k < opt_b->num_groups(); ++k) opt_b->set_lr(k, 123.0);  // must be overwritten
  std::vector<std::pair<std::string, Tensor>> opt_state, sched_state;
  for (auto& [k, t] : file.tensors) {
    if (k.rfind("model.", 0) == 0) continue;
    if (k.rfind("sched.", 0) == 0)
      sched_state.emplace_back(k.substr(6), t);
    else
      opt_state.emplace_back(k, t);
  }
  opt_b->load_state(opt_state);
  StepLR sched_b(*opt_b, 3, 0.5);
  sched_b.load_state(sched_state);
  EXPECT_EQ(sched_b.last_epoch(), 4);
  for (int s = 5; s <= kSteps; ++s) {
    run_steps(*opt_b, b, g, s, s);
    sched_b.step();
  }
  for (int i = 0; i < kParams; ++i) {
    ASSERT_EQ(b[i].nbytes(), ref[i].nbytes());
    EXPECT_EQ(std::memcmp(b[i].raw(), ref[i].raw(), ref[i].nbytes()), 0)
        << c.name << " param " << i << " differs after resuming";
  }
  for (size_t k = 0; k < ref_opt->num_groups(); ++k) EXPECT_EQ(opt_b->lr(k), ref_opt->lr(k));
  // The state of the two optimizers is identical too, names and bytes.
  auto sa = ref_opt->state_tensors(), sb = opt_b->state_tensors();
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t k = 0; k < sa.size(); ++k) {
    EXPECT_EQ(sa[k].first, sb[k].first);
    ASSERT_EQ(sa[k].second.nbytes(), sb[k].second.nbytes()) << sa[k].first;
    EXPECT_EQ(std::memcmp(sa[k].second.raw(), sb[k].second.raw(), sa[k].second.nbytes()), 0) << sa[k].first;
  }
}

TEST_P(OptimGolden, CudaMatchesCpu) {
  const Config& c = GetParam();
  FF_SKIP_WITHOUT_CUDA(c.name << " CUDA-vs-CPU optimizer check");
  SafeTensors g = read_safetensors(optim_path(c.name));
  std::vector<Tensor> pc = init_params(g, DType::F32, Device::cpu());
  std::vector<Tensor> pg = init_params(g, DType::F32, Device::cuda());
  auto oc = c.make(pc), og = c.make(pg);
  run_steps(*oc, pc, g, 1, 5);
  run_steps(*og, pg, g, 1, 5);
  // State saved on the CPU side loads onto the CUDA side (buffers move to the parameters' device).
  std::vector<Tensor> ph;
  for (const Tensor& t : pc) {
    ph.push_back(t.clone().to(Device::cuda()));
    ph.back().requires_grad_(true);
  }
  auto oh = c.make(ph);
  oh->load_state(oc->state_tensors());
  run_steps(*oc, pc, g, 6, kSteps);
  run_steps(*og, pg, g, 6, kSteps);
  run_steps(*oh, ph, g, 6, kSteps);
  for (int i = 0; i < kParams; ++i) {
    ASSERT_TRUE(pg[i].device().is_cuda());
    expect_close(pg[i], pc[i], 1e-6, 1e-7, c.name + " cuda vs cpu param " + std::to_string(i));
    expect_close(ph[i], pc[i], 1e-6, 1e-7, c.name + " cuda (resumed from cpu state) vs cpu param " + std::to_string(i));
    // atol as in Float32TrajectoryMatchesPyTorch (values that cancel to near zero)
    expect_close(pg[i], g.at(key("param", kSteps, i)), 1e-6, 2.5e-7, c.name + " cuda vs PyTorch param " + std::to_string(i));
  }
}

INSTANTIATE_TEST_SUITE_P(Optim, OptimGolden, ::testing::ValuesIn(configs()),
                         [](const ::testing::TestParamInfo<Config>& i) { return i.param.name; });

// ---------------------------------------------------------------- schedules

// Two groups with base lrs 0.1 and 0.02, as in the script.
struct TwoGroups {
  Tensor w0 = Tensor::zeros({1}), w1 = Tensor::zeros({1});
  std::unique_ptr<SGD> opt;
  TwoGroups() {
    SGDOptions o;
    o.lr = 0.1;
    opt = std::make_unique<SGD>(std::vector<Tensor*>{&w0}, o);
    opt->add_param_group({&w1}).lr = 0.02;
  }
};

void expect_lrs(const std::string& name, const std::function<void(Optimizer&, int)>& run) {
  SafeTensors g = read_safetensors(optim_path("schedules"));
  Tensor want = g.at(name);
  ASSERT_EQ(want.shape(), (Shape{31, 2}));
  TwoGroups t;
  std::vector<double> got;
  for (int e = 0; e <= 30; ++e) {
    run(*t.opt, e);  // e == 0: construction; e > 0: step e
    got.push_back(t.opt->lr(0));
    got.push_back(t.opt->lr(1));
  }
  expect_close(Tensor::from_vector(got, {31, 2}), want, 1e-12, 0.0, name + " lr sequence vs PyTorch");
}

TEST(LRSchedule, StepLRMatchesPyTorch) {
  std::unique_ptr<StepLR> s;
  expect_lrs("steplr", [&](Optimizer& o, int e) {
    if (e == 0) s = std::make_unique<StepLR>(o, 7, 0.3);
    else s->step();
  });
}

TEST(LRSchedule, CosineAnnealingMatchesPyTorch) {
  std::unique_ptr<CosineAnnealingLR> s;
  expect_lrs("cosine", [&](Optimizer& o, int e) {
    if (e == 0) s = std::make_unique<CosineAnnealingLR>(o, 10, 1e-3);
    else s->step();
  });
}

TEST(LRSchedule, ReduceLROnPlateauMatchesPyTorch) {
  SafeTensors g = read_safetensors(optim_path("schedules"));
  std::vector<double> metrics = g.at("plateau_metrics").to_vector<double>();
  ASSERT_EQ(metrics.size(), 30u);
  std::unique_ptr<ReduceLROnPlateau> s;
  expect_lrs("plateau", [&](Optimizer& o, int e) {
    if (e == 0) s = std::make_unique<ReduceLROnPlateau>(o, 0.5, 2, 1e-4, 1, 0.01);
    else s->step(metrics[e - 1]);
  });
}

TEST(LRSchedule, PlateauStateRestores) {
  SafeTensors g = read_safetensors(optim_path("schedules"));
  std::vector<double> metrics = g.at("plateau_metrics").to_vector<double>();
  TwoGroups ref, a;
  ReduceLROnPlateau sr(*ref.opt, 0.5, 2, 1e-4, 1, 0.01), sa(*a.opt, 0.5, 2, 1e-4, 1, 0.01);
  for (int e = 0; e < 30; ++e) sr.step(metrics[e]);
  for (int e = 0; e < 17; ++e) sa.step(metrics[e]);  // stop inside a cooldown-and-plateau stretch
  TwoGroups b;
  b.opt->load_state(a.opt->state_tensors());
  ReduceLROnPlateau sb(*b.opt, 0.5, 2, 1e-4, 1, 0.01);
  sb.load_state(parse_safetensors(serialize_safetensors(sa.state_tensors(), {}), "plateau").tensors);
  EXPECT_EQ(sb.best(), sa.best());
  EXPECT_EQ(sb.num_bad_epochs(), sa.num_bad_epochs());
  for (int e = 17; e < 30; ++e) sb.step(metrics[e]);
  EXPECT_EQ(b.opt->lr(0), ref.opt->lr(0));
  EXPECT_EQ(b.opt->lr(1), ref.opt->lr(1));
  EXPECT_EQ(sb.last_epoch(), 30);
}

// ---------------------------------------------------------------- behaviour and errors

template <typename F>
void expect_error(F f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "expected ff::Error containing '" << part << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(Optim, ZeroGradDropsGradientsAndStepSkipsThem) {
  Tensor w = Tensor::full({4}, 1.0);
  w.requires_grad_(true);
  AdamOptions o;
  Adam opt({&w}, o);
  w.set_grad(Tensor::full({4}, 0.5));
  opt.step();
  std::vector<float> after1 = w.to_vector<float>();
  EXPECT_NEAR(after1[0], 1.0 - 1e-3, 1e-7);  // Adam's first step moves by lr in the gradient's sign
  opt.zero_grad();
  EXPECT_FALSE(w.grad().defined());
  opt.step();
  EXPECT_EQ(w.to_vector<float>(), after1);
  // No step count recorded for a step without a gradient.
  for (auto& [k, t] : opt.state_tensors())
    if (k == "state.0.0.step") {
      EXPECT_EQ(t.data<int64_t>()[0], 1);
    }
}

TEST(Optim, BadHyperparametersRaise) {
  Tensor w = Tensor::zeros({2}), v = Tensor::zeros({3});
  SGDOptions s;
  s.lr = -1;
  expect_error([&] { SGD({&w}, s); }, "SGD: invalid learning rate");
  s = SGDOptions();
  s.nesterov = true;
  expect_error([&] { SGD({&w}, s); }, "Nesterov momentum requires a momentum");
  s.momentum = 0.9, s.dampening = 0.1;
  expect_error([&] { SGD({&w}, s); }, "zero dampening");
  AdamOptions a;
  a.beta2 = 1.0;
  expect_error([&] { Adam({&w}, a); }, "Adam: invalid beta2");
  a = AdamOptions();
  a.eps = -1;
  expect_error([&] { Adam({&w}, a); }, "Adam: invalid epsilon");
  // Checked again at step(), for values changed through the groups.
  Adam opt({&w}, AdamOptions());
  opt.param_groups()[0].weight_decay = -0.1;
  w.set_grad(Tensor::zeros({2}));
  expect_error([&] { opt.step(); }, "invalid weight_decay -0.1 in group 0");
  expect_error([&] { opt.add_param_group({&v, &w}); }, "already in a parameter group");
  Tensor labels = Tensor::zeros({2}, DType::I64);
  expect_error([&] { opt.add_param_group({&labels}); }, "not a float tensor");
  expect_error([&] { opt.lr(3); }, "no parameter group 3");
  expect_error([&] { StepLR(opt, 0); }, "step_size must be positive");
  expect_error([&] { CosineAnnealingLR(opt, 0); }, "T_max must be positive");
  expect_error([&] { ReduceLROnPlateau(opt, 1.5); }, "factor should be in [0, 1)");
}

TEST(Optim, BadStateRaisesAndLeavesOptimizerUntouched) {
  Tensor w = Tensor::zeros({2, 3}), w2 = Tensor::zeros({2, 3}), small = Tensor::zeros({5});
  SGDOptions s;
  s.lr = 0.1, s.momentum = 0.9;
  SGD opt({&w}, s);
  w.set_grad(Tensor::ones({2, 3}));
  opt.step();
  auto state = opt.state_tensors();

  SGD other({&small}, s);  // momentum buffer of the wrong shape
  expect_error([&] { other.load_state(state); }, "'state.0.0.momentum_buffer' is float32[2, 3] on cpu but parameter 0.0 is float32[5]");
  EXPECT_EQ(other.lr(), 0.1);

  Adam adam({&w2}, AdamOptions());  // SGD state into Adam
  expect_error([&] { adam.load_state(state); }, "missing 'param_groups.0.beta1'");

  SGD fresh({&w2}, s);
  auto extra = state;
  extra.emplace_back("state.0.1.momentum_buffer", Tensor::zeros({2, 3}));
  expect_error([&] { fresh.load_state(extra); }, "unexpected entry 'state.0.1.momentum_buffer'");
  auto bad_lr = state;
  for (auto& [k, t] : bad_lr)
    if (k == "param_groups.0.lr") t = Tensor::scalar(-3.0, DType::F64);
  expect_error([&] { fresh.load_state(bad_lr); }, "invalid learning rate -3");
  EXPECT_EQ(fresh.lr(), 0.1);
  EXPECT_TRUE(fresh.state_tensors().size() == 5u);  // the five hyperparameters, no buffers yet

  StepLR sched(fresh, 2);
  expect_error([&] { sched.load_state({{"last_epoch", Tensor::scalar(1.0, DType::F64)}}); }, "must be int64");
}

// The engine ops the optimizers call (engine/ops.h): their own tensor checks, buffers made on the
// first update and handed back, nothing changed by an update that throws.
TEST(Optim, EngineStepOpsCheckTensorsAndMakeBuffers) {
  Tensor p = Tensor::ones({3}), g = Tensor::ones({3}), short_g = Tensor::ones({2}), buf;
  expect_error([&] { sgd_step_(p, short_g, buf, 0.5, 0.9, 0, 0, false); }, "sgd_step_: shapes differ");
  EXPECT_FALSE(buf.defined());
  EXPECT_EQ(p.to_vector<float>(), std::vector<float>(3, 1.f));
  Tensor unused;
  sgd_step_(p, g, unused, 0.5, 0.0, 0, 0, false);  // momentum 0: p -= lr g, no buffer
  EXPECT_FALSE(unused.defined());
  EXPECT_EQ(p.to_vector<float>(), std::vector<float>(3, 0.5f));
  sgd_step_(p, g, buf, 0.5, 0.9, 0, 0, false);  // first momentum update: buf = g, p -= lr buf
  EXPECT_EQ(buf.to_vector<float>(), std::vector<float>(3, 1.f));
  EXPECT_EQ(p.to_vector<float>(), std::vector<float>(3, 0.f));
  Tensor g64 = Tensor::ones({3}, DType::F64);
  expect_error([&] { sgd_step_(p, g64, buf, 0.5, 0.9, 0, 0, false); }, "sgd_step_: dtypes differ");
  Tensor m, v, short_m = Tensor::zeros({2});
  expect_error([&] { adam_step_(p, g, m, v, 0, 1e-3, 0.9, 0.999, 1e-8, 0); }, "step must count this update");
  expect_error([&] { adam_step_(p, g, short_m, v, 1, 1e-3, 0.9, 0.999, 1e-8, 0); }, "adam_step_: shapes differ");
  EXPECT_FALSE(v.defined());
  adam_step_(p, g, m, v, 1, 1e-3, 0.9, 0.999, 1e-8, 0);  // first Adam update: p moves by lr
  EXPECT_TRUE(m.defined() && v.defined());
  EXPECT_NEAR(p.to_vector<float>()[0], -1e-3, 1e-7);
}

}  // namespace
}  // namespace ff::test
