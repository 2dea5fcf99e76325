#!/usr/bin/python3
"""PyTorch's DataLoader doing what bench/bench_data.cpp's BM_EmbedLoader times: the embedding
network's training batches at 112x112 from celeba_subset's JPEGs — decode (PIL, or OpenCV), the
alignment similarity composed with the random augmentation (tools/torch_recipe.py, the same
recipe), one cv2.warpAffine, colour jitter, ImageNet normalisation, batches of 64 — with 0 and 2
workers, the photos decoded for every sample (cache 0) or kept decoded in each worker (cache 1).

    ./build/ff_bench --benchmark_filter=EmbedLoader --benchmark_format=json --benchmark_out=ours.json
    /usr/bin/python3 bench/torch_loader_bench.py ours.json [--data DIR] [--decoder pil|cv2] [--csv out.csv]
(bench/run_cpu_bench.sh does both.) Prints images/s for both sides and per core (the rate over
max(1, workers): the loader's workers are the cores it uses)."""
import argparse
import json
import os
import sys
import time

import cv2
import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
sys.path.insert(0, HERE)
import torch_recipe as tr  # noqa: E402
from bench_common import report  # noqa: E402


class Faces(torch.utils.data.Dataset):
    def __init__(self, data, decoder, cached, size=112):
        self.items = [it for it in tr.load(data) if it[4] is not None]
        self.dir = os.path.join(data, "img_celeba")
        self.decoder, self.cached, self.size = decoder, cached, size
        self.tmpl = tr.TEMPLATE112 * size / 112.0
        self.photos = {}

    def __len__(self):
        return len(self.items)

    def photo(self, name):
        if self.cached and name in self.photos:
            return self.photos[name]
        path = os.path.join(self.dir, name)
        if self.decoder == "pil":
            img = np.asarray(Image.open(path).convert("RGB"))[:, :, ::-1]  # BGR, as tr.warp expects
        else:
            img = cv2.imread(path, cv2.IMREAD_COLOR)
        if self.cached:
            self.photos[name] = img
        return img

    def __getitem__(self, i):
        it = self.items[i]
        rng = np.random.default_rng(i)
        aug, _ = tr.random_aug(rng, self.size, rot=10, scale=(0.9, 1.1), shift=0.05)
        m = tr.compose(aug, tr.similarity(it[4], self.tmpl))
        x = tr.warp(self.photo(it[0]), m, self.size)
        return tr.to_tensor(tr.jitter(x, rng)), it[1]


def rate(data, decoder, cached, workers, seconds=3.0, batch=64):
    ds = Faces(data, decoder, cached)
    dl = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers, drop_last=True,
                                     persistent_workers=workers > 0)
    if cached:  # warm: one epoch fills each worker's copy
        for _ in dl:
            pass
    n, t0 = 0, time.perf_counter()
    while True:
        for x, _ in dl:
            n += x.shape[0]
            if time.perf_counter() - t0 >= seconds:
                return n / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ours", help="ff_bench JSON output with the BM_EmbedLoader cases")
    ap.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data", "celeba_subset"))
    ap.add_argument("--decoder", choices=["pil", "cv2"], default="pil")
    ap.add_argument("--csv", default="")
    a = ap.parse_args()
    torch.set_num_threads(1)  # the loader's work is per sample; torch ops inside it stay single-threaded
    with open(a.ours) as f:
        ours = [b for b in json.load(f)["benchmarks"] if b["name"].startswith("BM_EmbedLoader")]
    rows = []
    for b in ours:
        kv = dict(x.split("=") for x in b["label"].split(";"))
        workers, cached = int(kv["workers"]), kv["cache"] == "1"
        r_ours = b["images/s"]
        r_torch = rate(a.data, a.decoder, cached, workers)
        cores = max(1, workers)
        rows.append([f"{workers} workers, cache {'warm' if cached else 'off'}", f"{r_ours:.0f}", f"{r_ours / cores:.0f}",
                     f"{r_torch:.0f}", f"{r_torch / cores:.0f}", f"{r_ours / r_torch:.2f}x"])
    print(f"Embedding training batches (112x112, batch 64) from {a.data}: faceforge's Loader against "
          f"torch {torch.__version__} DataLoader ({a.decoder} decoding, cv2.warpAffine); ours/torch > 1: faceforge faster")
    report(rows, ["case", "faceforge img/s", "per core", "torch img/s", "per core", "ours/torch"], a.csv)


if __name__ == "__main__":
    main()
