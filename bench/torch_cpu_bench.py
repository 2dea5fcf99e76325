#!/usr/bin/python3
"""PyTorch CPU baseline for bench/bench_cpu.cpp: times the same cases (bench/shapes.json) with the
same thread count and prints one table with our time, PyTorch's, the ratio and the fraction of the
machine's FP32 peak.

    ./build/ff_bench --benchmark_format=json --benchmark_out=ours.json
    /usr/bin/python3 bench/torch_cpu_bench.py ours.json [--threads N] [--csv out.csv]
(bench/run_cpu_bench.sh does both.)"""
import argparse
import json
import os

import torch

from bench_common import cpu_peak_gflops, load_cases, report, time_cpu, torch_case


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ours", help="ff_bench JSON output")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--csv", default="")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    with open(a.ours) as f:
        ours = {b["name"].split("/")[0]: b["real_time"] / 1e3 for b in json.load(f)["benchmarks"]}  # ms -> s
    peak = cpu_peak_gflops()
    rows = []
    for c in load_cases("cpu"):
        if c["name"] not in ours:
            continue
        t_torch = time_cpu(torch_case(torch, c, "cpu"))
        t_ours = ours[c["name"]]
        rate = ""
        if c.get("flops"):
            g = c["flops"] / t_ours / 1e9
            rate = f"{g:.1f} GFLOP/s ({100 * g / peak:.0f}% of ~{peak:.0f})"
        elif c.get("bytes"):
            rate = f"{c['bytes'] / t_ours / 1e9:.2f} GB/s"
        rows.append([c["name"], f"{t_ours * 1e3:.3f}", f"{t_torch * 1e3:.3f}", f"{t_torch / t_ours:.2f}x", rate])
    print(f"CPU benchmarks, {a.threads} threads, torch {torch.__version__} (ratio > 1: faceforge faster)")
    header = ["case", "faceforge ms", "torch ms", "torch/ours", "faceforge rate"]
    report(rows, header, a.csv)


if __name__ == "__main__":
    main()
