#!/usr/bin/python3
"""PyTorch CPU baseline for bench/bench_nets.cpp: the same networks (tools/torch_models.py), batch,
loss and optimizer as each of our whole-network cases, at the same thread count; prints one table
of time per image, ours against PyTorch's.

    ./build/ff_bench --benchmark_filter=Net --benchmark_format=json --benchmark_out=ours.json
    /usr/bin/python3 bench/torch_nets_bench.py ours.json [--threads N] [--csv out.csv]
(bench/run_cpu_bench.sh does both.)

Each of our cases carries a label "kind=...;config=...;batch=...;mode=forward|train;classes=..."
(the configuration string of models/hourglass.h or models/resnet.h), from which the PyTorch twin
is built here: forward = eval mode under no_grad; train = zero_grad, forward, loss (hourglass: MSE
of every stack against a fixed target; embedding: the ArcFace head, s 45, m 0.1, unfused as
PyTorch has no fused one), backward, SGD step (momentum 0.9, weight decay 5e-4). One untimed
warm-up step, then at least as many timed steps as ours ran and at least 1 s of work.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import torch_models as tm  # noqa: E402
from bench_common import report, torch_arcface_loss  # noqa: E402


def parse_label(label):
    d = dict(kv.split("=", 1) for kv in label.split(";"))
    cfg = {}
    for kv in d["config"].split(","):
        k, v = kv.split("=", 1)
        cfg[k] = v
    return d["kind"], cfg, int(d["batch"]), d["mode"], int(d["classes"])


class TorchSteps:
    """The PyTorch twin of bench/net_steps.h's NetSteps."""

    def __init__(self, kind, cfg, batch, classes, device="cpu"):
        g = torch.Generator().manual_seed(1)
        self.kind = kind
        if kind == "hourglass":
            self.net = tm.StackedHourglass(int(cfg["stem"]), int(cfg["mid"]), int(cfg["channels"]),
                                           int(cfg["stacks"]), int(cfg["landmarks"]))
            size = int(cfg["input"])
            self.target = torch.rand((batch, int(cfg["landmarks"]), size // 4, size // 4), generator=g).to(device)
            params = list(self.net.parameters())
        elif kind == "embedding":
            blocks = tuple(int(b) for b in cfg["blocks"].split(":"))
            emb = int(cfg["embedding"])
            self.net = tm.EmbeddingNet(float(cfg["width"]), blocks, emb, float(cfg["dropout"]), cfg.get("bn") == "1")
            size = int(cfg["input"])
            w = torch.empty(classes, emb)
            torch.nn.init.xavier_uniform_(w)
            self.arc_w = torch.nn.Parameter(w.to(device))
            self.labels = torch.randint(0, classes, (batch,), generator=g).to(device)
            params = list(self.net.parameters()) + [self.arc_w]
        else:
            raise SystemExit(f"unknown network kind {kind}")
        self.net.to(device)
        self.x = (torch.rand((batch, 3, size, size), generator=g) * 2 - 1).to(device)
        self.opt = torch.optim.SGD(params, lr=1e-4, momentum=0.9, weight_decay=5e-4)

    def forward(self):
        self.net.eval()
        with torch.no_grad():
            out = self.net(self.x)
        return out

    def train_step(self):
        self.net.train()
        self.opt.zero_grad(set_to_none=True)
        if self.kind == "hourglass":
            loss = sum(F.mse_loss(o, self.target) for o in self.net(self.x))
        else:
            loss = torch_arcface_loss(torch, self.net(self.x), self.arc_w, self.labels, 45.0, 0.1)
        loss.backward()
        self.opt.step()
        return loss.detach()


def status_mb(key):
    """VmRSS (now) or VmHWM (peak since reset_peak_rss) of this process in MB; 0 without /proc."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def time_steps(fn, min_iters, min_time=1.0):
    fn()  # warm-up
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        dt = time.perf_counter() - t0
        if n >= min_iters and dt >= min_time:
            return dt / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ours", help="ff_bench JSON output")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--csv", default="")
    ap.add_argument("--json", default="", help="also write each case's time and peak memory here")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    with open(a.ours) as f:
        runs = [b for b in json.load(f)["benchmarks"] if b.get("label", "").startswith("kind=")]
    if not runs:
        print("torch_nets_bench: no whole-network cases in", a.ours)
        return
    rows, out = [], []
    for b in runs:
        kind, cfg, batch, mode, classes = parse_label(b["label"])
        reset_peak_rss()  # peak memory as bench/bench_nets.cpp measures ours
        base_mb = status_mb("VmRSS")
        steps = TorchSteps(kind, cfg, batch, classes)
        fn = steps.train_step if mode == "train" else steps.forward
        t_torch = time_steps(fn, max(2, int(b["iterations"])))
        peak_mb = status_mb("VmHWM") - base_mb
        out.append({"name": b["name"], "torch": torch.__version__, "seconds": t_torch, "peak_MB": peak_mb})
        t_ours = b["real_time"] / 1e3  # ms -> s
        name = b["name"].split("/")[0] + "/" + b["name"].split("/")[1] if "/" in b["name"] else b["name"]
        rows.append([name, str(batch), f"{t_ours / batch * 1e3:.2f}", f"{t_torch / batch * 1e3:.2f}",
                     f"{t_torch / t_ours:.2f}x", f"{batch / t_ours:.1f}"])
        del steps
    print(f"Whole networks on the CPU, {a.threads} threads, torch {torch.__version__} "
          "(ratio > 1: faceforge faster; per image = per step / batch)")
    header = ["case", "batch", "faceforge ms/img", "torch ms/img", "torch/ours", "faceforge img/s"]
    report(rows, header, a.csv)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f)


if __name__ == "__main__":
    main()
