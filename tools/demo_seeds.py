#!/usr/bin/env python3
"""Run `faceforge demo` under several seeds and print its figures with their spread.

    python3 tools/demo_seeds.py --seeds 1 2 3 --out /tmp/demo_seeds [--faceforge ./build/faceforge] [-- --quick]

Each seed runs in OUT/seed_<S> (a seed whose summary.json already exists is not run again, so an
interrupted series resumes). The table (markdown: one column per seed, then mean +- sample standard
deviation and the range) goes to stdout and to OUT/spread.md. Standard library only.
"""
import argparse
import json
import math
import os
import subprocess
import sys

FIGURES = [  # (key in summary.json, label, format)
    ("nme", "landmark NME (inter-ocular)", "{:.4f}"),
    ("failure_rate", "landmark failure rate (NME > 0.1)", "{:.3f}"),
    ("closed_acc_flip", "closed-set top-1, flip TTA", "{:.3f}"),
    ("auc", "held-out ROC AUC", "{:.3f}"),
    ("tar_at_far_1e2", "TAR @ FAR 1e-2", "{:.3f}"),
    ("acc10_mean", "10-fold accuracy", "{:.3f}"),
    ("acc_at_06", "accuracy at cosine 0.6", "{:.3f}"),
    ("same_cosine", "verify: same pair cosine", "{:.3f}"),
    ("different_cosine", "verify: different pair cosine", "{:.3f}"),
    ("seconds", "wall time, s", "{:.0f}"),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--out", required=True, help="folder for the runs (OUT/seed_S)")
    ap.add_argument("--faceforge", default="faceforge", help="the faceforge command [faceforge on PATH]")
    ap.add_argument("demo_args", nargs="*", help="more flags for faceforge demo (after --)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    runs = []
    for seed in a.seeds:
        d = os.path.join(a.out, f"seed_{seed}")
        summary = os.path.join(d, "summary.json")
        if not os.path.exists(summary):
            cmd = [a.faceforge, "demo", "--seed", str(seed), "--out", d] + a.demo_args
            print("==", " ".join(cmd), file=sys.stderr, flush=True)
            rc = subprocess.call(cmd)
            if rc != 0:
                sys.exit(f"demo_seeds: {' '.join(cmd)} exited {rc}")
        with open(summary) as f:
            runs.append(json.load(f))
    lines = ["| figure | " + " | ".join(f"seed {s}" for s in a.seeds) + " | mean +- sd | range |",
             "|---|" + "---|" * len(a.seeds) + "---|---|"]
    for key, label, f in FIGURES:
        v = [r[key] for r in runs]
        mean = sum(v) / len(v)
        sd = math.sqrt(sum((x - mean) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0
        lines.append(f"| {label} | " + " | ".join(f.format(x) for x in v) +
                     f" | {f.format(mean)} +- {f.format(sd)} | {f.format(min(v))} .. {f.format(max(v))} |")
    table = "\n".join(lines) + "\n"
    with open(os.path.join(a.out, "spread.md"), "w") as f:
        f.write(table)
    sys.stdout.write(table)


if __name__ == "__main__":
    main()
