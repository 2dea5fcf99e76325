#!/usr/bin/python3
"""OpenCV baseline for the warp benchmark of bench/bench_data.cpp: times cv2.warpAffine (bilinear,
border replicate) on the same shapes as each BM_WarpAffine/<faces>/<out> case — <faces> uint8 RGB
images of 250 x 250 to <out> x <out> under random similarities of the same distribution — with the
same thread count, and prints our time, OpenCV's and the ratio.

    ./build/ff_bench --benchmark_filter=WarpAffine --benchmark_format=json --benchmark_out=ours.json
    /usr/bin/python3 bench/opencv_warp_bench.py ours.json [--threads N] [--csv out.csv]
(bench/run_cpu_bench.sh does both.) GB/s counts the source and destination bytes once each, as the
C++ benchmark does."""
import argparse
import json
import math
import os

import cv2
import numpy as np

from bench_common import report, time_cpu

SOURCE = 250  # the CelebA subset's longer side; bench_data.cpp's kSourceSize


def random_similarity(src, out, rng):
    """The C++ benchmark's random_similarity: source centre to output centre (shifted up to 5%),
    scale out/src x [0.8, 1.25], rotation up to 30 degrees."""
    c_in, c_out = (src - 1) / 2.0, (out - 1) / 2.0
    scale = out / src * rng.uniform(0.8, 1.25)
    angle = math.radians(rng.uniform(-30, 30))
    sx, sy = rng.uniform(-0.05, 0.05) * out, rng.uniform(-0.05, 0.05) * out
    c, s = scale * math.cos(angle), scale * math.sin(angle)
    m = np.array([[c, -s, 0.0], [s, c, 0.0]])
    m[:, 2] = np.array([c_out + sx, c_out + sy]) - m[:, :2] @ np.array([c_in, c_in])
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ours", help="ff_bench JSON output")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--csv", default="")
    a = ap.parse_args()
    cv2.setNumThreads(a.threads)
    with open(a.ours) as f:
        ours = {b["name"]: b for b in json.load(f)["benchmarks"] if b["name"].startswith("BM_WarpAffine/")}
    if not ours:
        raise SystemExit(f"{a.ours} has no BM_WarpAffine cases")
    rng = np.random.default_rng(1)
    rows = []
    for name, b in ours.items():
        faces, out = (int(v) for v in name.split("/")[1:3])
        src = rng.integers(0, 256, size=(faces, SOURCE, SOURCE, 3), dtype=np.uint8)
        mats = [random_similarity(SOURCE, out, rng) for _ in range(faces)]

        def run():
            for i in range(faces):
                cv2.warpAffine(src[i], mats[i], (out, out), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)

        t_cv = time_cpu(run)
        t_ours = b["real_time"] / 1e3  # ms -> s
        nbytes = faces * (SOURCE * SOURCE * 3 + out * out * 3)
        rows.append([f"warp {faces} x {SOURCE}^2 -> {out}^2", f"{t_ours * 1e3:.2f}", f"{t_cv * 1e3:.2f}",
                     f"{t_cv / t_ours:.2f}x", f"{nbytes / t_ours / 1e9:.2f}", f"{nbytes / t_cv / 1e9:.2f}"])
    print(f"affine warp uint8 HWC, {a.threads} threads, OpenCV {cv2.__version__} (ratio > 1: faceforge faster)")
    header = ["case", "faceforge ms", "opencv ms", "opencv/ours", "faceforge GB/s", "opencv GB/s"]
    report(rows, header, a.csv)


if __name__ == "__main__":
    main()
