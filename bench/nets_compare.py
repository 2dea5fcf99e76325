#!/usr/bin/python3
"""Whole networks, faceforge against one or more PyTorch installs, interleaved and repeated:
each round runs every case once on each side, one process per case and side (so each case's peak
memory is its own), and the table gives the median over the rounds with the range of the ratio.

    /usr/bin/python3 bench/nets_compare.py --ff build/ff_bench [--rounds 3] [--threads 2]
        [--torch debian=/usr/bin/python3] [--torch pypi=~/.cache/faceforge/torch-pypi/bin/python]
        [--filter REGEX] [--csv out.csv]
(bench/run_cpu_bench.sh runs it against Debian's torch 1.13 and PyPI's current torch.)

Our side: ff_bench --benchmark_filter=^CASE$ (bench/bench_nets.cpp), which reports the step time
and peak_MB, the resident peak above the resident size before the network was made. PyTorch's
side: bench/torch_nets_bench.py on that case's JSON, timing the same network, batch, loss and
optimizer, and measuring peak memory the same way. Both sides inherit this process's environment
(OMP_NUM_THREADS and OMP_WAIT_POLICY are printed with the table)."""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def list_cases(ff, pattern):
    out = subprocess.run([ff, "--benchmark_list_tests", f"--benchmark_filter={pattern}"], check=True,
                         capture_output=True, text=True).stdout.split()
    return [c for c in out if c.startswith("BM_Net")]


def run_ours(ff, case, tmp):
    path = os.path.join(tmp, "ours.json")
    filt = "^" + case.replace("/", "/") + "$"
    subprocess.run([ff, f"--benchmark_filter={filt}", "--benchmark_format=json", f"--benchmark_out={path}"],
                   check=True, stdout=subprocess.DEVNULL)
    with open(path) as f:
        b = [x for x in json.load(f)["benchmarks"] if x.get("label", "").startswith("kind=")]
    if len(b) != 1:
        sys.exit(f"nets_compare: case {case} gave {len(b)} results")
    return path, b[0]


def run_torch(python, ours_json, threads, tmp):
    path = os.path.join(tmp, "torch.json")
    subprocess.run([python, os.path.join(HERE, "torch_nets_bench.py"), ours_json, "--threads", str(threads),
                    "--json", path], check=True, stdout=subprocess.DEVNULL)
    with open(path) as f:
        r = json.load(f)
    return r[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ff", default="build/ff_bench")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--torch", action="append", default=[], help="NAME=PYTHON (repeatable)")
    ap.add_argument("--filter", default="BM_Net")
    ap.add_argument("--csv", default="")
    a = ap.parse_args()
    torches = [t.split("=", 1) for t in (a.torch or ["debian=/usr/bin/python3"])]
    torches = [(n, os.path.expanduser(p)) for n, p in torches]
    cases = list_cases(a.ff, a.filter)
    if not cases:
        sys.exit(f"nets_compare: no case of {a.ff} matches {a.filter}")
    ours = {c: [] for c in cases}
    theirs = {(c, n): [] for c in cases for n, _ in torches}
    labels, versions, batch = {}, {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            for c in cases:
                path, b = run_ours(a.ff, c, tmp)
                labels[c] = b["label"]
                batch[c] = int(dict(kv.split("=", 1) for kv in b["label"].split(";"))["batch"])
                ours[c].append((b["real_time"] / 1e3, b.get("peak_MB", 0.0)))
                line = f"round {r + 1}/{a.rounds} {c}: ours {b['real_time']:.1f} ms"
                for n, py in torches:
                    t = run_torch(py, path, a.threads, tmp)
                    versions[n] = t["torch"]
                    theirs[(c, n)].append((t["seconds"], t["peak_MB"]))
                    line += f", {n} {t['seconds'] * 1e3:.1f} ms"
                print(line, flush=True)
    header = ["case", "batch", "faceforge ms/img", "peak MB"]
    for n, _ in torches:
        header += [f"{n} torch {versions[n]} ms/img", "peak MB", "torch/ours (min-max)"]
    rows = []
    for c in cases:
        name = c.replace("/real_time", "").split("/iterations")[0].split("/min_time")[0]
        t_ours = statistics.median(t for t, _ in ours[c])
        m_ours = max(m for _, m in ours[c])
        row = [name, str(batch[c]), f"{t_ours / batch[c] * 1e3:.2f}", f"{m_ours:.0f}"]
        for n, _ in torches:
            ts = theirs[(c, n)]
            ratios = sorted(t / o for (t, _), (o, _) in zip(ts, ours[c]))
            row += [f"{statistics.median(t for t, _ in ts) / batch[c] * 1e3:.2f}", f"{max(m for _, m in ts):.0f}",
                    f"{statistics.median(ratios):.2f}x ({ratios[0]:.2f}-{ratios[-1]:.2f})"]
        rows.append(row)
    env = ", ".join(f"{k}={os.environ.get(k, '(unset)')}" for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY"))
    print(f"\nWhole networks, {a.threads} threads, {a.rounds} interleaved rounds, medians ({env}); "
          "torch/ours > 1: faceforge faster; per image = per step / batch; peak MB = resident peak of the "
          "case above the process's size before the network was made (the largest over the rounds)")
    sys.path.insert(0, HERE)
    from bench_common import print_table  # noqa: E402
    print_table(rows, header)
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(rows)


if __name__ == "__main__":
    main()
