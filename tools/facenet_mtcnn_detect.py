#!/usr/bin/python3
"""facenet-pytorch's MTCNN (the reference notebooks' detector) over a folder of photos, written as
faceforge's detections file, so `faceforge eval-detector --data DATA --detections OUT` scores it
beside ours (`--detector build/mtcnn.safetensors`).

    PYTHONPATH=~/.cache/faceforge/facenet-pytorch-2.6.0 /usr/bin/python3 tools/facenet_mtcnn_detect.py \
        DATA_OR_PHOTO_DIR OUT.json [--threads 2] [--limit N]

DATA_OR_PHOTO_DIR: a CelebA-format folder (its img_celeba/ and list_eval_partition.txt or
list_bbox_celeba.txt name the photos) or a folder of photos. Photos are opened with PIL and
converted to RGB, as the notebooks did; MTCNN(keep_all=True, device="cpu") with facenet's defaults
(min_face 20, thresholds 0.6/0.7/0.7, factor 0.709); "ms" per photo is detect() alone (decoding
excluded, wall clock), at --threads torch threads; the summary line adds the CPU time of all threads
(load on the machine inflates the wall time, hardly the CPU time). scripts/mtcnn_weights.sh unpacks the wheel.
"""
import argparse
import json
import os
import sys
import time

# OpenMP threads that spin after a loop starve each other on a loaded machine (measured on 2 cores
# at load 4: 1603 ms/photo at 2 threads with spinning, 91.6 ms passive); as scripts/test.sh does.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
from PIL import Image  # noqa: E402


def import_mtcnn():
    """facenet_pytorch's MTCNN class. Its package __init__ imports the weight downloader, which
    needs tqdm (absent from Debian's torch set); MTCNN never downloads, so a stand-in will do."""
    import types
    try:
        import tqdm  # noqa: F401
    except ImportError:
        stub = types.ModuleType("tqdm")
        stub.tqdm = lambda *a, **k: None
        auto = types.ModuleType("tqdm.auto")
        auto.tqdm = stub.tqdm
        stub.auto = auto
        sys.modules["tqdm"], sys.modules["tqdm.auto"] = stub, auto
    from facenet_pytorch import MTCNN
    return MTCNN


def photo_list(root):
    img_dir = os.path.join(root, "img_celeba")
    if os.path.isdir(img_dir):
        for name in ("list_bbox_celeba.txt", "list_eval_partition.txt"):
            p = os.path.join(root, name)
            if os.path.exists(p):
                files = []
                with open(p) as f:
                    for line in f:
                        parts = line.split()
                        if parts and parts[0].lower().endswith((".jpg", ".jpeg", ".png")):
                            files.append(parts[0])
                return img_dir, sorted(set(files))
        root = img_dir
    return root, sorted(f for f in os.listdir(root) if f.lower().endswith((".jpg", ".jpeg", ".png")))


def faces_of(boxes, probs, points):
    out = []
    if boxes is None:
        return out
    for b, p, pts in zip(boxes, probs, points):
        x1, y1, x2, y2 = (float(v) for v in b)
        out.append({"box": [x1, y1, x2 - x1, y2 - y1], "score": float(p),
                    "landmarks": [[float(q[0]), float(q[1])] for q in pts]})
    out.sort(key=lambda f: -f["score"])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    MTCNN = import_mtcnn()
    import facenet_pytorch
    mtcnn = MTCNN(keep_all=True, device="cpu")
    img_dir, files = photo_list(a.data)
    if a.limit:
        files = files[:a.limit]
    photos, total_ms, total_cpu = [], 0.0, 0.0
    t_start = time.time()
    for i, f in enumerate(files):
        img = Image.open(os.path.join(img_dir, f)).convert("RGB")
        t0, c0 = time.perf_counter(), time.process_time()
        boxes, probs, points = mtcnn.detect(img, landmarks=True)
        ms = (time.perf_counter() - t0) * 1000
        total_ms += ms
        total_cpu += (time.process_time() - c0) * 1000
        photos.append({"file": f, "width": img.width, "height": img.height, "ms": ms,
                       "faces": faces_of(boxes, probs, points)})
        if (i + 1) % 100 == 0:
            print(f"facenet_mtcnn_detect: {i + 1} / {len(files)} ({time.time() - t_start:.0f} s)", file=sys.stderr)
    doc = {"format": "faceforge-detections-1",
           "detector": f"facenet-pytorch {getattr(facenet_pytorch, '__version__', '2.6.0')} MTCNN (torch "
                       f"{torch.__version__}, {a.threads} threads)",
           "photos": photos}
    tmp = a.out + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(doc, fh, indent=1)
    os.replace(tmp, a.out)
    n = max(1, len(photos))
    print(f"facenet_mtcnn_detect: {len(photos)} photos, {sum(len(p['faces']) for p in photos)} faces, "
          f"{total_ms / n:.1f} ms/photo wall, {total_cpu / n:.1f} ms/photo CPU of all threads (detect only, "
          f"{a.threads} threads) -> {a.out}")


if __name__ == "__main__":
    main()
