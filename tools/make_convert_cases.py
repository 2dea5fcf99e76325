#!/usr/bin/python3
"""PyTorch checkpoints of every kind tools/convert_torch.py converts, with the outputs PyTorch
computes from them, for tests/test_convert.cpp (which runs this at test time, then the converter
on each checkpoint, then faceforge's load_model on the result).

    /usr/bin/python3 tools/make_convert_cases.py OUT_DIR

Writes into OUT_DIR, with random weights and random batch-norm statistics:
  resnet50.pth            torchvision.models.resnet50() state_dict at full size, saved without
                          the bn*.num_batches_tracked counters (as torchvision's published weights)
  hourglass_raw.pth       tools/torch_models.StackedHourglass(8, 16, 16, 2 stacks, 5 landmarks),
                          a bare state_dict
  hourglass_wrapped.pth   StackedHourglass(8, 12, 20, 3 stacks, 7 landmarks) in a training
                          checkpoint {"epoch", "model_state_dict" (nn.DataParallel "module."
                          names), "optimizer_state_dict", "loss"}
  embedding.pth           the notebooks' embedding checkpoint: features = nn.Sequential(*list(
                          resnet.children())[:-1]) of a width-1/8 ResNet with blocks 1:2:1:1,
                          embedding_layer = [Dropout, Linear(256, 32)], "arcface_state_dict"
                          {"weight": [9, 32]} (xavier_uniform), "epoch"
  bad_names.pth           a state_dict nobody knows (the converter must refuse it)
  hourglass_broken.pth    hourglass_raw with one tensor missing and one unexpected
  embedding_badhead.pth   embedding.pth with an ArcFace weight of the wrong width
  evil.pth                a state_dict whose pickle calls open(OUT_DIR/evil_ran, "w") when
                          unpickled: the converter must refuse it without running it
  crafted_keys.pth        a loadable dict with an integer key: the converter must fail on one
                          line, without a traceback
and <case>_expected.safetensors for each good case: the input "x", PyTorch's eval outputs
("out0", "out1", ... : the logits; every stack's heatmaps; the embedding, the ArcFace cosines and
the ArcFace loss for "labels" with s = 30, m = 0.2 — the converter is run with --s 30 --m 0.2).

Then it runs the converter on every case of CONVERSIONS in this process (convert_torch.main with
the listed arguments: one Python start instead of one per case, as importing torch dominates),
writing <out>.safetensors (when it succeeds), <out>.log (what it printed) and results.json
({out: exit status}). tests/test_convert.cpp runs hourglass_raw through the real command line
itself and checks the rest from these files.
"""
import contextlib
import io
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models as tm  # noqa: E402
from make_model_goldens import perturb_bn  # noqa: E402
from torch_models import arcface_loss  # noqa: E402
import convert_torch  # noqa: E402
from convert_torch import write_safetensors  # noqa: E402

# (checkpoint, output name, converter arguments)
CONVERSIONS = [
    ("resnet50", "resnet50", []),
    ("hourglass_wrapped", "hourglass_wrapped", ["--input", "96"]),
    ("embedding", "embedding", ["--s", "30", "--m", "0.2", "--dropout", "0.5"]),
    ("embedding", "embedding_nohead", ["--no-head"]),
    ("bad_names", "bad_names", []),
    ("hourglass_broken", "hourglass_broken", []),
    ("embedding_badhead", "embedding_badhead", []),
    ("evil", "evil", []),
    ("crafted_keys", "crafted_keys", []),
]


class NotebookEmbedding(nn.Module):
    """The reference notebooks' embedding model: a ResNet's children but fc, then dropout + linear."""

    def __init__(self, width, blocks, embedding, dropout=0.7):
        super().__init__()
        resnet = tm.resnet(width, blocks, classes=1)
        self.features = nn.Sequential(*list(resnet.children())[:-1])
        self.embedding_layer = nn.Sequential(nn.Dropout(dropout), nn.Linear(int(64 * width + 0.5) * 32, embedding))

    def forward(self, x):
        f = self.features(x)
        return self.embedding_layer(f.view(f.size(0), -1))


class Evil:
    """Unpickling this calls open(path, "w"): harmless, and visible as a new file."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


class ArcFace(nn.Module):
    def __init__(self, classes, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(classes, dim))
        nn.init.xavier_uniform_(self.weight)


def expected(out, name, x, outs, extra=()):
    tensors = [("x", x)] + [(f"out{i}", o.detach().float()) for i, o in enumerate(outs)] + list(extra)
    write_safetensors(os.path.join(out, f"{name}_expected.safetensors"), tensors, {"case": name})


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
    gen = torch.Generator().manual_seed(5)
    torch.manual_seed(5)

    # torchvision ResNet50, full size, 1000 classes.
    r50 = torchvision.models.resnet50()
    with torch.no_grad():
        perturb_bn(r50, gen)
    r50.eval()
    x = torch.rand((2, 3, 64, 64), generator=gen) * 2 - 1
    with torch.no_grad():
        y = r50(x)
    sd = {k: v for k, v in r50.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(sd, os.path.join(out, "resnet50.pth"))
    expected(out, "resnet50", x, [y])

    # Hourglass, bare state_dict.
    hg = tm.StackedHourglass(stem=8, mid=16, channels=16, stacks=2, landmarks=5)
    with torch.no_grad():
        perturb_bn(hg, gen)
    hg.eval()
    x = torch.rand((2, 3, 64, 64), generator=gen) * 2 - 1
    with torch.no_grad():
        outs = hg(x)
    raw = hg.state_dict()
    torch.save(raw, os.path.join(out, "hourglass_raw.pth"))
    expected(out, "hourglass_raw", x, outs)
    broken = dict(raw)
    del broken["hg2.de4.conv2.weight"]
    broken["hg2.extra.weight"] = torch.zeros(3)
    torch.save(broken, os.path.join(out, "hourglass_broken.pth"))

    # Hourglass, training checkpoint with DataParallel names and an optimizer.
    hg3 = tm.StackedHourglass(stem=8, mid=12, channels=20, stacks=3, landmarks=7)
    with torch.no_grad():
        perturb_bn(hg3, gen)
    opt = torch.optim.Adam(hg3.parameters(), lr=1e-3)
    hg3.train()
    sum(o.square().mean() for o in hg3(torch.rand((2, 3, 64, 64), generator=gen))).backward()
    opt.step()  # the optimizer state is real, and the weights moved
    hg3.eval()
    x = torch.rand((1, 3, 96, 96), generator=gen) * 2 - 1
    with torch.no_grad():
        outs = hg3(x)
    torch.save({"epoch": 3, "model_state_dict": {"module." + k: v for k, v in hg3.state_dict().items()},
                "optimizer_state_dict": opt.state_dict(), "loss": 0.125},
               os.path.join(out, "hourglass_wrapped.pth"))
    expected(out, "hourglass_wrapped", x, outs)

    # The notebooks' embedding checkpoint with its ArcFace weights.
    emb = NotebookEmbedding(0.125, (1, 2, 1, 1), 32)
    arc = ArcFace(9, 32)
    with torch.no_grad():
        perturb_bn(emb, gen)
    emb.eval()
    x = torch.rand((3, 3, 64, 64), generator=gen) * 2 - 1
    labels = torch.tensor([0, 8, 4])
    with torch.no_grad():
        e = emb(x)
        cos = F.linear(F.normalize(e), F.normalize(arc.weight))
        loss = arcface_loss(e, arc.weight, labels, s=30.0, m=0.2)
    ckpt = {"epoch": 5, "model_state_dict": emb.state_dict(), "arcface_state_dict": arc.state_dict()}
    torch.save(ckpt, os.path.join(out, "embedding.pth"))
    expected(out, "embedding", x, [e, cos, loss], [("labels", labels)])
    ckpt["arcface_state_dict"] = {"weight": torch.zeros(9, 31)}
    torch.save(ckpt, os.path.join(out, "embedding_badhead.pth"))

    torch.save({"encoder.weight": torch.zeros(4, 3), "decoder.bias": torch.zeros(4)},
               os.path.join(out, "bad_names.pth"))
    marker = os.path.join(out, "evil_ran")
    if os.path.exists(marker):
        os.remove(marker)
    torch.save({"conv1.weight": torch.zeros(1), "x": Evil(marker)}, os.path.join(out, "evil.pth"))
    torch.save({0: torch.zeros(1), "conv1.weight": torch.zeros(2)}, os.path.join(out, "crafted_keys.pth"))
    print("wrote the conversion cases into", out)

    results = {}
    for ckpt, name, args in CONVERSIONS:
        dst = os.path.join(out, name + ".safetensors")
        if os.path.exists(dst):
            os.remove(dst)
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            rc = convert_torch.main([os.path.join(out, ckpt + ".pth"), dst] + args)
        with open(os.path.join(out, name + ".log"), "w") as f:
            f.write(buf.getvalue())
        results[name] = rc
        print(f"converted {name}: exit status {rc}")
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
