# tools/make_jpeg_reference.py — what PIL (Debian python3-pil, libjpeg-turbo) decodes from a few
# JPEGs, as a 64-bit FNV-1a hash of the RGB bytes, so tests/test_image.cpp can check that our
# decoder (data/image.cpp, libjpeg-turbo's TurboJPEG API) gives the reference tools' exact pixels:
# facenet-pytorch's MTCNN and the PyTorch recipes read photos through PIL.
# Run: /usr/bin/python3 tools/make_jpeg_reference.py   (writes tests/data/images/pil_decoded.json)
import json
import os

import numpy as np
from PIL import Image

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
files = [
    "tests/data/images/smooth_48x32.jpg",
    "tests/data/images/smooth_48x32_progressive.jpg",
    "../shared/data/celeba_subset/img_celeba/000114.jpg",
    "../shared/data/celeba_wild_val/img_celeba/088892.jpg",
    "../shared/data/celeba_wild_val/img_celeba/125570.jpg",
]


def fnv1a64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


out = {}
for f in files:
    img = np.asarray(Image.open(os.path.join(root, f)).convert("RGB"))
    out[f] = {"width": img.shape[1], "height": img.shape[0], "fnv1a64": fnv1a64(img.tobytes())}
    print(f, out[f])
with open(os.path.join(root, "tests/data/images/pil_decoded.json"), "w") as fh:
    json.dump(out, fh, indent=1)
    fh.write("\n")
