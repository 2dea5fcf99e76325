#!/usr/bin/python3
"""Reference data for tests/test_mtcnn.cpp from facenet-pytorch 2.6.0's MTCNN (the reference
notebooks' detector):

  tests/data/models/mtcnn_nets.safetensors   P-Net, R-Net and O-Net outputs on random inputs (the
                                             trained weights), and F.interpolate(mode="area")
                                             of random uint8 images to several sizes
  tests/data/mtcnn_reference.json            MTCNN(keep_all=True, device="cpu").detect(img,
                                             landmarks=True) on PHOTOS below (PIL, RGB): boxes
                                             (x1, y1, x2, y2), probabilities, five points, and
                                             the cascade's counts after each stage

    bash scripts/mtcnn_weights.sh     # the wheel, unpacked in ~/.cache/faceforge
    PYTHONPATH=~/.cache/faceforge/facenet-pytorch-2.6.0 /usr/bin/python3 tools/make_mtcnn_reference.py \
        [--data ../shared/data/celeba_wild_val] [--trace FILE...]

--trace FILE... prints facenet's stage counts and faces for any photos (to compare with
MtcnnTrace, face/mtcnn.h) and writes nothing.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from facenet_mtcnn_detect import import_mtcnn  # noqa: E402
from safetensors_io import write_safetensors  # noqa: E402

# 25 photos of celeba_wild_val/img_celeba, chosen from MTCNN's detections of the first 200 (by
# name): the ten with three faces (3) or two (7 of 14), and 15 of the one-face photos spread
# evenly over their sizes (203x152 to 594x640 pixels).
PHOTOS = ['082365.jpg', '104288.jpg', '105052.jpg', '107062.jpg', '108254.jpg', '111608.jpg', '115385.jpg',
          '120457.jpg', '122737.jpg', '125526.jpg', '125570.jpg', '126469.jpg', '128734.jpg', '129147.jpg',
          '131962.jpg', '133175.jpg', '133287.jpg', '133827.jpg', '134102.jpg', '134242.jpg', '135075.jpg',
          '136224.jpg', '136238.jpg', '136321.jpg', '136852.jpg']


class Recorder(torch.nn.Module):
    """Wraps a net: records its input batch sizes (R-Net: faces after stage 1, O-Net: after 2)."""

    def __init__(self, net, name, log):
        super().__init__()
        self.net, self.name, self.log = net, name, log

    def forward(self, x):
        out = self.net(x)
        if self.name == "pnet":
            self.log.setdefault("pnet_cells", []).append(int((out[1][:, 1] >= 0.6).sum()))
        else:
            self.log[self.name] = self.log.get(self.name, 0) + int(x.shape[0])
        return out


def detect(mtcnn, path):
    img = Image.open(path).convert("RGB")
    log = {}
    nets = mtcnn.pnet, mtcnn.rnet, mtcnn.onet
    mtcnn.pnet, mtcnn.rnet, mtcnn.onet = (Recorder(n, k, log) for n, k in zip(nets, ("pnet", "rnet", "onet")))
    try:
        boxes, probs, points = mtcnn.detect(img, landmarks=True)
    finally:
        mtcnn.pnet, mtcnn.rnet, mtcnn.onet = nets
    faces = []
    if boxes is not None:
        for b, p, pts in zip(boxes, probs, points):
            faces.append({"box": [float(v) for v in b], "prob": float(p),
                          "landmarks": [[float(q[0]), float(q[1])] for q in pts]})
    return {"file": os.path.basename(path), "width": img.width, "height": img.height,
            "stage1": log.get("rnet", 0), "stage2": log.get("onet", 0), "pnet_cells": log.get("pnet_cells", []),
            "faces": faces}


def nets_golden(mtcnn, out):
    gen = torch.Generator().manual_seed(11)
    t = []
    with torch.no_grad():
        for name, net, shape in (("pnet", mtcnn.pnet, (2, 3, 23, 31)), ("rnet", mtcnn.rnet, (3, 3, 24, 24)),
                                 ("onet", mtcnn.onet, (2, 3, 48, 48))):
            x = torch.rand(shape, generator=gen) * 2 - 1
            outs = net(x)
            t.append((f"{name}/in", x))
            for i, o in enumerate(outs):
                t.append((f"{name}/out{i}", o))
        # area resizing of uint8 images (as float, facenet's dtype) to smaller, equal and larger sizes
        img = (torch.rand((1, 3, 37, 53), generator=gen) * 256).floor().clamp(0, 255)
        t.append(("area/in", img.to(torch.uint8)))
        for k, (oh, ow) in enumerate(((24, 24), (17, 29), (37, 53), (48, 48), (60, 71), (5, 3))):
            t.append((f"area/out{k}", F.interpolate(img.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2),
                                                     size=(oh, ow), mode="area")))
    write_safetensors(out, [(n, v.contiguous().numpy()) for n, v in t],
                      {"torch": torch.__version__, "source": "facenet-pytorch 2.6.0"})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "celeba_wild_val"))
    ap.add_argument("--trace", nargs="+")
    a = ap.parse_args()
    torch.set_num_threads(1)
    mtcnn = import_mtcnn()(keep_all=True, device="cpu")
    if a.trace:
        for p in a.trace:
            print(json.dumps(detect(mtcnn, p)))
        return
    nets = os.path.join(ROOT, "tests", "data", "models", "mtcnn_nets.safetensors")
    nets_golden(mtcnn, nets)
    print("wrote", os.path.relpath(nets, ROOT))
    photos = [detect(mtcnn, os.path.join(a.data, "img_celeba", f)) for f in PHOTOS]
    doc = {"source": "facenet-pytorch 2.6.0 MTCNN(keep_all=True, device='cpu').detect(img, landmarks=True), "
                     "PIL RGB, torch " + torch.__version__,
           "boxes": "x1, y1, x2, y2 (photo pixels)", "photos": photos}
    out = os.path.join(ROOT, "tests", "data", "mtcnn_reference.json")
    with open(out + ".tmp", "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(out + ".tmp", out)
    print("wrote", os.path.relpath(out, ROOT), f"({len(photos)} photos, {sum(len(p['faces']) for p in photos)} faces)")


if __name__ == "__main__":
    main()
