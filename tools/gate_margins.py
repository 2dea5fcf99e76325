"""How far the gates of a PyTorch forward pass sit from their edges (tools/check_gate_margins.py,
tools/make_model_goldens.py).

A gate is a decision the gradient depends on discontinuously: a ReLU's sign, a max-pool window's
argmax, a clamp's bounds, a comparison (the ArcFace margin's torch.where), F.normalize's eps. If
float32 rounding moves a decision's input across its edge, our float32 gradient and PyTorch's
differ by a whole term, however correct both engines are; the hourglass golden once had a ReLU
input at |x| = 1.2e-5 that every BLAS kernel change flipped.

Gates() patches those functions for the duration of a `with` block and records, per call, the
signed distance of every decision to its edge: the ReLU input x; x - lo and x - hi of a clamp;
a - b of a > b; the gap between the largest and second-largest value of every max-pool window
(windows whose two largest values are both exactly 0, ReLU zeros, are left out: whichever wins,
the gradient dies in the ReLU behind); ||x|| - eps of F.normalize.

measure(run) runs run(dtype) in float64 and in float32 and compares the records gate by gate:
  margin      the smallest |distance| in float64 (the true one, to float64 rounding)
  err32       the largest |float32 distance - float64 distance| of the same gate call: how far
              float32 rounding moves that gate's inputs (PyTorch's float32; another engine or
              BLAS kernel moves them by a similar amount, in another direction)
  f32 safety  min over gate calls of margin / err32: a float32 gradient comparison is safe when
              it is well above 1 (REQUIRED_F32_SAFETY)
  f64 safety  the same with err32 scaled by the ratio of the unit roundoffs, 2^-29
  flips       decisions that PyTorch's own float32 run takes the other way
"""
import math

import torch
import torch.nn.functional as F

REQUIRED_F32_SAFETY = 10.0  # inputs whose gradients are compared in float32
REQUIRED_F64_SAFETY = 1e4   # inputs whose gradients (or SGD trajectories) are compared in float64
ROUNDOFF_RATIO = 2.0 ** -29  # float64's unit roundoff over float32's


class Gates:
    """with Gates() as g: forward ... -> g.records, a list of (kind, float64 distances)."""

    def __init__(self):
        self.records = []

    def _add(self, kind, d):
        self.records.append((kind, d.detach().reshape(-1).to(torch.float64).clone()))

    def __enter__(self):
        self._saved = (F.relu, F.max_pool2d, torch.Tensor.clamp, torch.Tensor.__gt__, F.normalize)
        relu, pool, clamp, gt, normalize = self._saved
        gates = self

        def relu_(x, inplace=False):
            gates._add("relu", x)
            return relu(x, inplace=inplace)

        def pool_(x, kernel_size, stride=None, padding=0, *args, **kwargs):
            assert isinstance(kernel_size, int) and isinstance(padding, int), "square pools only"
            s = kernel_size if stride is None else stride
            n, c, h, w = x.shape
            xp = F.pad(x.detach().reshape(n * c, 1, h, w), (padding,) * 4, value=-math.inf)
            win = F.unfold(xp, kernel_size, stride=s)  # [n*c, k*k, windows]
            if win.shape[1] > 1:
                top = win.topk(2, dim=1).values
                gap = top[:, 0] - top[:, 1]
                zeros = (top[:, 0] == 0) & (top[:, 1] == 0)
                gates._add("max_pool", torch.where(zeros, torch.full_like(gap, math.inf), gap))
            return pool(x, kernel_size, stride, padding, *args, **kwargs)

        def clamp_(x, min=None, max=None):
            if min is not None:
                gates._add("clamp", x - min)
            if max is not None:
                gates._add("clamp", x - max)
            return clamp(x, min, max)

        def gt_(a, b):
            gates._add("compare", a - b)
            return gt(a, b)

        def normalize_(x, p=2.0, dim=1, eps=1e-12, out=None):
            gates._add("normalize", x.detach().norm(p, dim) - eps)
            return normalize(x, p, dim, eps, out)

        F.relu, F.max_pool2d, F.normalize = relu_, pool_, normalize_
        torch.Tensor.clamp, torch.Tensor.__gt__ = clamp_, gt_
        return self

    def __exit__(self, *exc):
        F.relu, F.max_pool2d, torch.Tensor.clamp, torch.Tensor.__gt__, F.normalize = self._saved
        return False


def record(run, dtype):
    with Gates() as g:
        run(dtype)
    return g.records


def summarise(r64, errs, r32=None):
    """Figures of float64 records r64 given each gate call's float32 error errs[i % len(errs)]
    (a trajectory's later steps reuse its first step's errors); r32, the float32 records of the
    first len(errs) calls, for the flip count."""
    out = {"kinds": {}, "decisions": 0, "margin": math.inf, "where": None, "f32_safety": math.inf,
           "flips": 0, "calls": len(r64)}
    for i, (kind, d64) in enumerate(r64):
        fin = torch.isfinite(d64)
        out["kinds"][kind] = out["kinds"].get(kind, 0) + 1
        out["decisions"] += int(fin.sum())
        if not fin.any():
            continue
        err = errs[i % len(errs)]
        margin = d64[fin].abs().min().item()
        if r32 is not None and i < len(r32) and kind != "max_pool":
            out["flips"] += int(((d64[fin] > 0) != (r32[i][1][fin] > 0)).sum())
        if margin < out["margin"]:
            out["margin"], out["where"] = margin, f"{kind}, gate call {i + 1} of {len(r64)}, float32 error there {err:.2g}"
        out["f32_safety"] = min(out["f32_safety"], margin / err)
    out["f64_safety"] = out["f32_safety"] / ROUNDOFF_RATIO
    return out


def measure(run):
    """run(dtype): the forward pass to check, in that dtype. Returns (figures, per-call float32
    errors); the errors serve summarise() for the later steps of a trajectory from that point."""
    r64, r32 = record(run, torch.float64), record(run, torch.float32)
    assert len(r64) == len(r32), f"gate calls differ between float64 ({len(r64)}) and float32 ({len(r32)})"
    errs = []
    for (_, a), (_, b) in zip(r64, r32):
        fin = torch.isfinite(a)
        errs.append(max((a[fin] - b[fin]).abs().max().item() if fin.any() else 0.0, 1e-300))
    return summarise(r64, errs, r32), errs


def forward_runner(model, state, loss):
    """run(dtype) for measure(): the training-mode forward of loss(dtype) from weights `state`."""
    def run(dt):
        model.load_state_dict(state)
        model.to(dt).train()
        with torch.no_grad():
            loss(dt)
        model.float()
        model.load_state_dict(state)
    return run


def sgd_trajectory(model, state, loss, lr, steps=10, weight_decay=0.0):
    """SGD (momentum 0.9) in float64 from weights `state` on loss(torch.float64, step) for `steps`
    steps: (the loss before each step, the gate records of every step's forward, the float64 state
    after the last step)."""
    model.load_state_dict(state)
    model.double().train()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    losses = []
    with Gates() as g:
        for step in range(steps):
            opt.zero_grad()
            l = loss(torch.float64, step)
            l.backward()
            opt.step()
            losses.append(l.item())
    final = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.float()
    model.load_state_dict(state)
    return losses, g.records, final


def describe(m):
    kinds = ", ".join(f"{v} {k}" for k, v in m["kinds"].items())
    return (f"{m['decisions']} decisions in {m['calls']} gate calls ({kinds}); smallest |distance| {m['margin']:.3g} "
            f"({m['where']}); float32 safety {m['f32_safety']:.3g}, float64 safety {m['f64_safety']:.3g}; "
            f"decisions PyTorch's float32 takes the other way: {m['flips']}")
