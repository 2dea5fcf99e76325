#!/usr/bin/python3
"""Write PyTorch reference trajectories for tests/test_optim.cpp into tests/data/optim/.

Run with Debian's interpreter (python3-torch loads only there):

    /usr/bin/python3 tools/make_optim_goldens.py

Optimizers (one file each, <config>.safetensors): three float32 parameters of odd shapes
p0 [3, 5], p1 [7], p2 [2, 3, 4] and a fixed sequence of 10 gradients drawn uniform in [-1, 1);
p1 has no gradient at steps 3 and 6 (it is skipped there, its state does not advance). Tensors:
"init.<i>" the starting values, "grad.<s>.<i>" the gradient at step s (1..10; absent where skipped),
"param.<s>.<i>" the parameters after step s. Metadata "config" describes the groups and
hyperparameters; the C++ test builds the same optimizer and checks it reads the same string.

Schedules (schedules.safetensors): an optimizer with two groups (base lr 0.1 and 0.02), each
schedule stepped 30 times; "<name>" [31, 2] float64 holds the lrs after construction and after
every step. ReduceLROnPlateau is fed "plateau_metrics" [30].

The generator is seeded, so a rerun writes identical files.
"""
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "data", "optim")
sys.path.insert(0, HERE)

from make_goldens import write_safetensors  # noqa: E402

SHAPES = [(3, 5), (7,), (2, 3, 4)]
STEPS = 10
SKIP = {(3, 1), (6, 1)}  # (step, param) without a gradient

# name -> (config string, builder(params) -> optimizer). The config strings are repeated verbatim
# in tests/test_optim.cpp.
CONFIGS = {
    "sgd_momentum": (
        "SGD groups {p0,p2: lr 0.1} {p1: lr 0.01}; momentum 0.9, weight_decay 5e-4",
        lambda p: torch.optim.SGD([{"params": [p[0], p[2]], "lr": 0.1}, {"params": [p[1]], "lr": 0.01}],
                                  lr=0.1, momentum=0.9, weight_decay=5e-4)),
    "sgd_nesterov": (
        "SGD lr 0.05, momentum 0.8, weight_decay 1e-3, nesterov",
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, weight_decay=1e-3, nesterov=True)),
    "sgd_dampening": (
        "SGD lr 0.1, momentum 0.9, dampening 0.3",
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.3)),
    "sgd_plain": (
        "SGD lr 0.1, weight_decay 1e-2",
        lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=1e-2)),
    "adam": (
        "Adam lr 1e-2",
        lambda p: torch.optim.Adam(p, lr=1e-2)),
    "adam_wd": (
        "Adam groups {p0,p2: lr 5e-3, betas 0.8 0.99, eps 1e-6, weight_decay 1e-2} {p1: lr 1e-2, weight_decay 0}",
        lambda p: torch.optim.Adam([{"params": [p[0], p[2]]}, {"params": [p[1]], "lr": 1e-2, "weight_decay": 0.0}],
                                   lr=5e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=1e-2)),
}


def optimizer_golden(name, config, build, gen):
    params = [torch.nn.Parameter(torch.rand(s, generator=gen) * 2 - 1) for s in SHAPES]
    tensors = [(f"init.{i}", p.detach().clone()) for i, p in enumerate(params)]
    opt = build(params)
    for s in range(1, STEPS + 1):
        for i, p in enumerate(params):
            if (s, i) in SKIP:
                p.grad = None
            else:
                g = torch.rand(p.shape, generator=gen) * 2 - 1
                p.grad = g.clone()
                tensors.append((f"grad.{s}.{i}", g))
        opt.step()
        for i, p in enumerate(params):
            tensors.append((f"param.{s}.{i}", p.detach().clone()))
    path = os.path.join(OUT, name + ".safetensors")
    write_safetensors(path, tensors, {"config": config, "torch": torch.__version__})
    return path


def schedule_goldens():
    def fresh():
        w0, w1 = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
        return torch.optim.SGD([{"params": [w0], "lr": 0.1}, {"params": [w1], "lr": 0.02}], lr=0.1)

    def run(make_sched, metrics=None):
        opt = fresh()
        sched = make_sched(opt)
        lrs = [[g["lr"] for g in opt.param_groups]]
        for e in range(30):
            opt.step()  # no gradients: a no-op, keeps torch's call-order check quiet
            if metrics is None:
                sched.step()
            else:
                sched.step(metrics[e])
            lrs.append([g["lr"] for g in opt.param_groups])
        return torch.tensor(lrs, dtype=torch.float64)

    S = torch.optim.lr_scheduler
    # Metrics: improvements, a plateau, improvements smaller than the 1e-4 relative threshold
    # (not counted), a NaN (a bad epoch), and enough bad epochs to reach group 1's min_lr.
    metrics = [1.0, 0.9, 0.8, 0.8, 0.8, 0.8, 0.79995, 0.7, 0.7, 0.69999, 0.69998, 0.7, 0.5, float("nan"),
               0.6, 0.6, 0.6, 0.6, 0.6, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.3, 0.4, 0.4, 0.4]
    tensors = [
        ("steplr", run(lambda o: S.StepLR(o, step_size=7, gamma=0.3))),
        ("cosine", run(lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=1e-3))),
        ("plateau", run(lambda o: S.ReduceLROnPlateau(o, mode="min", factor=0.5, patience=2, threshold=1e-4,
                                                      threshold_mode="rel", cooldown=1, min_lr=0.01),
                        metrics)),
        ("plateau_metrics", torch.tensor(metrics, dtype=torch.float64)),
    ]
    # The C++ CosineAnnealingLR uses the closed form; torch steps a recursive form. Make sure the two
    # agree here far inside the test's 1e-12, so a failure there means our code is wrong.
    cos = tensors[1][1]
    for e in range(31):
        for g, base in enumerate([0.1, 0.02]):
            closed = 1e-3 + (base - 1e-3) * (1 + math.cos(math.pi * e / 10)) / 2
            assert abs(closed - cos[e, g].item()) < 1e-14, (e, g, closed, cos[e, g].item())
    path = os.path.join(OUT, "schedules.safetensors")
    write_safetensors(path, tensors, {"torch": torch.__version__})
    return path


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    for k, (name, (config, build)) in enumerate(CONFIGS.items()):
        gen = torch.Generator().manual_seed(1234 + k)
        print("wrote", os.path.relpath(optimizer_golden(name, config, build, gen)))
    print("wrote", os.path.relpath(schedule_goldens()))


if __name__ == "__main__":
    main()
