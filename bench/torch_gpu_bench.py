#!/usr/bin/python3
"""PyTorch GPU baseline for bench/cuda/bench_cuda.cpp: the same cases (bench/shapes.json), timed
the same way (CUDA events, L2 flushed before each run, median), written as CSV; with --compare it
prints one table of ours vs PyTorch.

    python3 bench/torch_gpu_bench.py --csv torch.csv [--tf32]
    python3 bench/torch_gpu_bench.py --compare ours.csv torch.csv"""
import argparse
import csv

from bench_common import load_cases, print_table, torch_case


def run_torch(out, tf32):
    import torch
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = True
    flush = torch.empty(256 << 20, dtype=torch.uint8, device="cuda")
    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    rows = []
    for c in load_cases("gpu"):
        fn = torch_case(torch, c, "cuda")
        for _ in range(3):
            fn()
        torch.cuda.synchronize()
        times, total = [], 0.0
        while (total < 200 or len(times) < 5) and len(times) < 1000:
            flush.zero_()
            e0.record()
            fn()
            e1.record()
            e1.synchronize()
            ms = e0.elapsed_time(e1)
            times.append(ms)
            total += ms
        times.sort()
        rows.append([c["name"], "tf32" if tf32 else "fp32", times[len(times) // 2]])
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case", "math", "ms"])
        w.writerows(rows)


def compare(ours_csv, torch_csv):
    def load(p):
        with open(p) as f:
            return {(r["case"], r["math"]): r for r in csv.DictReader(f)}
    ours, ref = load(ours_csv), load(torch_csv)
    rows = []
    for key, r in ours.items():
        t = ref.get(key)
        ratio = f"{float(t['ms']) / float(r['ms']):.2f}x" if t else "n/a"
        rows.append([key[0], key[1], f"{float(r['ms']):.4f}", t["ms"][:8] if t else "n/a", ratio,
                     f"{float(r['rate']):.2f} {r['unit']}", f"{float(r['percent_of_limit']):.1f}%"])
    print_table(rows, ["case", "math", "faceforge ms", "torch ms", "torch/ours", "faceforge rate", "% of limit"])


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv")
    ap.add_argument("--tf32", action="store_true")
    ap.add_argument("--compare", nargs=2)
    a = ap.parse_args()
    if a.compare:
        compare(*a.compare)
    else:
        run_torch(a.csv, a.tf32)
