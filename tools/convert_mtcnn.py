#!/usr/bin/python3
"""Convert facenet-pytorch's trained MTCNN weights (P-Net, R-Net, O-Net state dicts shipped in its
wheel as facenet_pytorch/data/{pnet,rnet,onet}.pt) into one faceforge safetensors file.

    /usr/bin/python3 tools/convert_mtcnn.py FACENET_DATA_DIR OUT.safetensors

Run it with Debian's interpreter (python3-torch). The .pt files are read with
torch.load(..., weights_only=True): tensors only, no pickled code runs. Tensor names are facenet's
state_dict keys prefixed pnet. / rnet. / onet. (models/mtcnn.h's MtcnnNets); metadata "model":
"mtcnn", so `--detector OUT.safetensors` selects the MTCNN cascade (face/mtcnn.h).
scripts/mtcnn_weights.sh downloads the wheel (pinned by sha256) and runs this.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402

# The shapes facenet_pytorch/models/mtcnn.py builds (a wheel of another layout is refused).
EXPECTED = {
    "pnet": {"conv1.weight": (10, 3, 3, 3), "conv1.bias": (10,), "prelu1.weight": (10,),
             "conv2.weight": (16, 10, 3, 3), "conv2.bias": (16,), "prelu2.weight": (16,),
             "conv3.weight": (32, 16, 3, 3), "conv3.bias": (32,), "prelu3.weight": (32,),
             "conv4_1.weight": (2, 32, 1, 1), "conv4_1.bias": (2,), "conv4_2.weight": (4, 32, 1, 1),
             "conv4_2.bias": (4,)},
    "rnet": {"conv1.weight": (28, 3, 3, 3), "conv1.bias": (28,), "prelu1.weight": (28,),
             "conv2.weight": (48, 28, 3, 3), "conv2.bias": (48,), "prelu2.weight": (48,),
             "conv3.weight": (64, 48, 2, 2), "conv3.bias": (64,), "prelu3.weight": (64,),
             "dense4.weight": (128, 576), "dense4.bias": (128,), "prelu4.weight": (128,),
             "dense5_1.weight": (2, 128), "dense5_1.bias": (2,), "dense5_2.weight": (4, 128),
             "dense5_2.bias": (4,)},
    "onet": {"conv1.weight": (32, 3, 3, 3), "conv1.bias": (32,), "prelu1.weight": (32,),
             "conv2.weight": (64, 32, 3, 3), "conv2.bias": (64,), "prelu2.weight": (64,),
             "conv3.weight": (64, 64, 3, 3), "conv3.bias": (64,), "prelu3.weight": (64,),
             "conv4.weight": (128, 64, 2, 2), "conv4.bias": (128,), "prelu4.weight": (128,),
             "dense5.weight": (256, 1152), "dense5.bias": (256,), "prelu5.weight": (256,),
             "dense6_1.weight": (2, 256), "dense6_1.bias": (2,), "dense6_2.weight": (4, 256),
             "dense6_2.bias": (4,), "dense6_3.weight": (10, 256), "dense6_3.bias": (10,)},
}


def convert(data_dir, out):
    tensors = []
    for net, shapes in EXPECTED.items():
        path = os.path.join(data_dir, net + ".pt")
        sd = torch.load(path, map_location="cpu", weights_only=True)
        got = {k: tuple(v.shape) for k, v in sd.items()}
        if got != shapes:
            sys.exit(f"{path}: unexpected tensors {sorted(set(got.items()) ^ set(shapes.items()))}")
        for k in shapes:  # facenet's state_dict order
            tensors.append((f"{net}.{k}", sd[k].detach().float().contiguous().numpy()))
    write_safetensors(out, tensors, {"model": "mtcnn", "source": "facenet-pytorch 2.6.0",
                                     "torch": torch.__version__})
    return len(tensors)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    n = convert(sys.argv[1], sys.argv[2])
    print(f"convert_mtcnn: wrote {sys.argv[2]} ({n} tensors)")


if __name__ == "__main__":
    main()
