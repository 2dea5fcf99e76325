// kernels/conv_dnnl.cpp — float32 convolution through oneDNN; see kernels/conv_dnnl.h.
//
// One Plan per geometry (every ConvShape field and whether there is a bias): the forward primitive
// descriptor (made on the first call, with tag::any so oneDNN picks its own blocked layouts), the
// two backward ones (made on the first backward call, hinted by the forward), and a reorder
// between our plain NCHW / OIHW arrays and each layout a primitive asked for. A reorder is skipped
// where the primitive's layout already is the plain one. The blocked copies and the primitive's
// scratchpad (scratchpad_mode::user) live in a kept scratch mapping per direction. Calls are
// serialised by one mutex (the plans and the scratch are shared); oneDNN still runs each call on
// all OpenMP threads.
#include "kernels/conv_dnnl.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>

#include <sys/mman.h>
#include <tuple>

#include "engine/error.h"

#ifdef FF_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace ff::cpu {

namespace {

int backend_from_env() {
  const char* e = std::getenv("FF_CPU_CONV");
  const std::string v = e ? e : "";
  if (v == "im2col") return static_cast<int>(CpuConvBackend::Im2col);
  if (v.empty() || v == "onednn")
    return static_cast<int>(onednn_built() ? CpuConvBackend::OneDnn : CpuConvBackend::Im2col);
  FF_FAIL("FF_CPU_CONV='", v, "': expected im2col or onednn");
}

std::atomic<int>& backend_slot() {
  static std::atomic<int> b{backend_from_env()};
  return b;
}

}  // namespace

bool onednn_built() {
#ifdef FF_HAVE_DNNL
  return true;
#else
  return false;
#endif
}

CpuConvBackend cpu_conv_backend() { return static_cast<CpuConvBackend>(backend_slot().load()); }

void set_cpu_conv_backend(CpuConvBackend b) {
  FF_CHECK(b != CpuConvBackend::OneDnn || onednn_built(),
           "set_cpu_conv_backend: this build has no oneDNN (install libdnnl-dev and rebuild)");
  backend_slot().store(static_cast<int>(b));
}

#ifndef FF_HAVE_DNNL

std::string cpu_conv_describe() { return "im2col + OpenBLAS (oneDNN not built in)"; }
void dnnl_conv2d_forward(const ConvShape&, const float*, const float*, const float*, float*) {
  FF_FAIL("dnnl_conv2d_forward: this build has no oneDNN");
}
void dnnl_conv2d_backward(const ConvShape&, const float*, const float*, const float*, float*, float*, float*) {
  FF_FAIL("dnnl_conv2d_backward: this build has no oneDNN");
}
DnnlConvStats dnnl_conv_stats() { return {}; }

#else

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

dnnl::engine& eng() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}
dnnl::stream& strm() {
  static dnnl::stream s(eng());
  return s;
}

// The scratch of the calls of one direction (forward, backward): the blocked copies and the
// primitive's scratchpad, by slot, each an anonymous mapping that grows to the largest call's need
// and is kept (the calls are serialised by State::mu). Outside malloc's heap on purpose: per-call
// heap blocks of up to ~20 MB fragmented it (measured on a ResNet50 w1/4 b64 step: resident peak
// 619 MB with per-call heap scratch, 515 MB with these mappings, for 348 MB of tensors), and
// per-call mappings were page-faulted anew on every call (the step 1.7x slower).
enum Slot { kSrc, kWei, kDst, kDst2, kPad, kSlots };
struct Arena {
  void* bufs[kSlots] = {};
  size_t sizes[kSlots] = {};
  int64_t total = 0;
  void* get(Slot s, size_t bytes) {
    if (bytes > sizes[s]) {
      if (bufs[s]) munmap(bufs[s], sizes[s]);
      const size_t rounded = (bytes + 4095) / 4096 * 4096;
      void* p = mmap(nullptr, rounded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      FF_CHECK(p != MAP_FAILED, "oneDNN convolution: out of memory for a ", rounded, "-byte scratch buffer");
      bufs[s] = p;
      total += static_cast<int64_t>(rounded - sizes[s]);
      sizes[s] = rounded;
    }
    return bufs[s];
  }
};

// A tensor of ours (plain layout, at `user`) as the layout `want` a primitive asked for: the user
// pointer itself when the layouts agree, else a reorder into `slot` (or, for outputs, a buffer in
// `slot` that is reordered back after the primitive ran).
struct Move {
  memory::desc want;
  bool reorder = false;
  dnnl::reorder to_prim, from_prim;  // plain -> want (inputs), want -> plain (outputs)
  void init(const memory::desc& plain, const memory::desc& w, bool input) {
    want = w;
    reorder = plain != w;
    if (!reorder) return;
    if (input)
      to_prim = dnnl::reorder(dnnl::reorder::primitive_desc(eng(), plain, eng(), w));
    else
      from_prim = dnnl::reorder(dnnl::reorder::primitive_desc(eng(), w, eng(), plain));
  }
};

struct Plan {
  ConvShape s;
  bool bias = false;
  memory::desc src_md, wei_md, dst_md, bia_md;  // plain: nchw, oihw, nchw, x
  dnnl::convolution_forward::primitive_desc fwd_pd;
  dnnl::convolution_forward fwd;
  Move f_src, f_wei, f_dst;
  bool bwd_ready = false;
  dnnl::convolution_backward_data::primitive_desc bwd_data_pd;
  dnnl::convolution_backward_data bwd_data;
  Move bd_ddst, bd_wei, bd_dsrc;
  dnnl::convolution_backward_weights::primitive_desc bwd_w_pd;
  dnnl::convolution_backward_weights bwd_w;
  Move bw_src, bw_ddst, bw_dwei;
};

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr a;
  a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return a;
}

std::unique_ptr<Plan> make_plan(const ConvShape& s, bool bias) {
  auto p = std::make_unique<Plan>();
  p->s = s;
  p->bias = bias;
  const memory::dims src{s.n, s.cin, s.h, s.w}, wei{s.cout, s.cin, s.k, s.k}, dst{s.n, s.cout, s.ho, s.wo};
  const memory::dims strides{s.stride, s.stride}, pad{s.pad, s.pad};
  p->src_md = memory::desc(src, dt::f32, tag::nchw);
  p->wei_md = memory::desc(wei, dt::f32, tag::oihw);
  p->dst_md = memory::desc(dst, dt::f32, tag::nchw);
  p->bia_md = memory::desc({s.cout}, dt::f32, tag::x);
  const memory::desc src_any(src, dt::f32, tag::any), wei_any(wei, dt::f32, tag::any),
      dst_any(dst, dt::f32, tag::any);
  auto d = bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training,
                                                  dnnl::algorithm::convolution_direct, src_any, wei_any,
                                                  p->bia_md, dst_any, strides, pad, pad)
                : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training,
                                                  dnnl::algorithm::convolution_direct, src_any, wei_any,
                                                  dst_any, strides, pad, pad);
  p->fwd_pd = dnnl::convolution_forward::primitive_desc(d, user_scratchpad(), eng());
  p->fwd = dnnl::convolution_forward(p->fwd_pd);
  p->f_src.init(p->src_md, p->fwd_pd.src_desc(), true);
  p->f_wei.init(p->wei_md, p->fwd_pd.weights_desc(), true);
  p->f_dst.init(p->dst_md, p->fwd_pd.dst_desc(), false);
  return p;
}

void make_backward(Plan& p) {
  const ConvShape& s = p.s;
  const memory::dims src{s.n, s.cin, s.h, s.w}, wei{s.cout, s.cin, s.k, s.k}, dst{s.n, s.cout, s.ho, s.wo};
  const memory::dims strides{s.stride, s.stride}, pad{s.pad, s.pad};
  const memory::desc src_any(src, dt::f32, tag::any), wei_any(wei, dt::f32, tag::any),
      dst_any(dst, dt::f32, tag::any);
  dnnl::convolution_backward_data::desc bd(dnnl::algorithm::convolution_direct, src_any, wei_any, dst_any,
                                           strides, pad, pad);
  p.bwd_data_pd = dnnl::convolution_backward_data::primitive_desc(bd, user_scratchpad(), eng(), p.fwd_pd);
  p.bwd_data = dnnl::convolution_backward_data(p.bwd_data_pd);
  p.bd_ddst.init(p.dst_md, p.bwd_data_pd.diff_dst_desc(), true);
  p.bd_wei.init(p.wei_md, p.bwd_data_pd.weights_desc(), true);
  p.bd_dsrc.init(p.src_md, p.bwd_data_pd.diff_src_desc(), false);
  auto bw = p.bias ? dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, src_any,
                                                              wei_any, p.bia_md, dst_any, strides, pad, pad)
                   : dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, src_any,
                                                              wei_any, dst_any, strides, pad, pad);
  p.bwd_w_pd = dnnl::convolution_backward_weights::primitive_desc(bw, user_scratchpad(), eng(), p.fwd_pd);
  p.bwd_w = dnnl::convolution_backward_weights(p.bwd_w_pd);
  p.bw_src.init(p.src_md, p.bwd_w_pd.src_desc(), true);
  p.bw_ddst.init(p.dst_md, p.bwd_w_pd.diff_dst_desc(), true);
  p.bw_dwei.init(p.wei_md, p.bwd_w_pd.diff_weights_desc(), false);
  p.bwd_ready = true;
}

struct State {
  std::mutex mu;
  std::map<std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, bool>,
           std::unique_ptr<Plan>>
      plans;
  int64_t scratch_forward = 0, scratch_backward = 0;  // bytes each direction's scratch holds
};
State& state() {
  static State st;
  return st;
}

Plan& plan_for(State& st, const ConvShape& s, bool bias) {
  auto key = std::make_tuple(s.n, s.cin, s.h, s.w, s.cout, s.k, s.stride, s.pad, bias);
  auto it = st.plans.find(key);
  if (it == st.plans.end()) it = st.plans.emplace(key, make_plan(s, bias)).first;
  return *it->second;
}

// The input at `user` in the primitive's layout (reordered into `slot` if need be).
memory input(Move& m, const memory::desc& plain, const void* user, Arena& a, Slot slot) {
  memory u(plain, eng(), const_cast<void*>(user));
  if (!m.reorder) return u;
  memory b(m.want, eng(), a.get(slot, m.want.get_size()));
  m.to_prim.execute(strm(), u, b);
  return b;
}
// Where the primitive writes an output meant for `user`.
memory output(Move& m, const memory::desc& plain, void* user, Arena& a, Slot slot) {
  if (!m.reorder) return memory(plain, eng(), user);
  return memory(m.want, eng(), a.get(slot, m.want.get_size()));
}
void finish(Move& m, const memory::desc& plain, memory& out, void* user) {
  if (!m.reorder) return;
  memory u(plain, eng(), user);
  m.from_prim.execute(strm(), out, u);
}
memory scratchpad(const memory::desc& d, Arena& a) {
  return memory(d, eng(), a.get(kPad, std::max<size_t>(d.get_size(), 64)));
}

}  // namespace

std::string cpu_conv_describe() {
  const dnnl_version_t* v = dnnl_version();
  return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) +
         " (" + (cpu_conv_backend() == CpuConvBackend::OneDnn ? "in use" : "built in, FF_CPU_CONV=im2col") + ")";
}

void dnnl_conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  Plan& p = plan_for(st, s, b != nullptr);
  static Arena arena;  // one per direction, serialised by st.mu
  memory src = input(p.f_src, p.src_md, x, arena, kSrc);
  memory wei = input(p.f_wei, p.wei_md, w, arena, kWei);
  memory dst = output(p.f_dst, p.dst_md, y, arena, kDst);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src},
                                       {DNNL_ARG_WEIGHTS, wei},
                                       {DNNL_ARG_DST, dst},
                                       {DNNL_ARG_SCRATCHPAD, scratchpad(p.fwd_pd.scratchpad_desc(), arena)}};
  if (b) args.emplace(DNNL_ARG_BIAS, memory(p.bia_md, eng(), const_cast<float*>(b)));
  p.fwd.execute(strm(), args);
  finish(p.f_dst, p.dst_md, dst, y);
  strm().wait();
  st.scratch_forward = arena.total;
}

void dnnl_conv2d_backward(const ConvShape& s, const float* x, const float* w, const float* gy, float* gx,
                          float* gw, float* gb) {
  if (!gx && !gw && !gb) return;
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  Plan& p = plan_for(st, s, false);  // the bias gradient is ours (below), never oneDNN's
  if (!p.bwd_ready) make_backward(p);
  static Arena arena;  // one per direction, serialised by st.mu
  memory ddst_d;  // gy in the backward-data layout, reused by backward-weights when it is the same
  if (gx) {
    FF_CHECK(w, "conv2d_backward: the input gradient needs the weight");
    ddst_d = input(p.bd_ddst, p.dst_md, gy, arena, kDst);
    memory wei = input(p.bd_wei, p.wei_md, w, arena, kWei);
    memory dsrc = output(p.bd_dsrc, p.src_md, gx, arena, kSrc);
    p.bwd_data.execute(strm(), {{DNNL_ARG_DIFF_DST, ddst_d},
                                {DNNL_ARG_WEIGHTS, wei},
                                {DNNL_ARG_DIFF_SRC, dsrc},
                                {DNNL_ARG_SCRATCHPAD, scratchpad(p.bwd_data_pd.scratchpad_desc(), arena)}});
    finish(p.bd_dsrc, p.src_md, dsrc, gx);
  }
  if (gb) {  // sums of gy per channel in double (conv_cpu.cpp passes none: it sums them itself)
    const int64_t P = s.ho * s.wo;
    for (int64_t o = 0; o < s.cout; ++o) {
      double acc = 0;
      for (int64_t n = 0; n < s.n; ++n) {
        const float* g = gy + (n * s.cout + o) * P;
        for (int64_t i = 0; i < P; ++i) acc += g[i];
      }
      gb[o] = static_cast<float>(acc);
    }
  }
  if (gw) {
    FF_CHECK(x, "conv2d_backward: the weight gradient needs the input");
    memory src = input(p.bw_src, p.src_md, x, arena, kSrc);
    memory ddst = (gx && p.bw_ddst.want == p.bd_ddst.want) ? ddst_d
                                                            : input(p.bw_ddst, p.dst_md, gy, arena, kDst2);
    memory dwei = output(p.bw_dwei, p.wei_md, gw, arena, kWei);
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, src},
        {DNNL_ARG_DIFF_DST, ddst},
        {DNNL_ARG_DIFF_WEIGHTS, dwei},
        {DNNL_ARG_SCRATCHPAD, scratchpad(p.bwd_w_pd.scratchpad_desc(), arena)}};
    p.bwd_w.execute(strm(), args);
    finish(p.bw_dwei, p.wei_md, dwei, gw);
  }
  strm().wait();
  st.scratch_backward = arena.total;
}

DnnlConvStats dnnl_conv_stats() {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  return {static_cast<int64_t>(st.plans.size()), st.scratch_forward + st.scratch_backward};
}

#endif  // FF_HAVE_DNNL

}  // namespace ff::cpu
