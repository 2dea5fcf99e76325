#!/usr/bin/python3
"""Reference data for the network parity tests (tests/test_models.cpp), from the PyTorch twins of
our networks in tools/torch_models.py (Debian's python3-torch / python3-torchvision, CPU).

    /usr/bin/python3 tools/make_model_goldens.py                 # small widths -> tests/data/models/
    /usr/bin/python3 tools/make_model_goldens.py --full --out DIR  # reference sizes, eval forward only

For each network it writes one safetensors file holding: the weights ("w/<state_dict name>"), the
input, the eval-mode outputs, and — small widths only — the training-mode loss, every parameter's
gradient after one backward ("g/<name>") and the first 10 losses of SGD (lr 0.01, momentum 0.9) on
the same batch. Metadata: the configuration string our loader parses and the parameter count.
The committed small files stay well under 5 MB in all; the full-size ones are made at test time.
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models as tm  # noqa: E402
from make_goldens import write_safetensors  # noqa: E402


def hourglass_loss(model, x, target):
    """The hourglass's training loss: MSE of every stack's heatmaps against the target."""
    return sum(F.mse_loss(o, target) for o in model(x))


def resnet_loss(model, x, labels, fc_w, fc_b, arc_w):
    """The embedding net's training loss: a softmax head and an ArcFace head on two forward passes."""
    return F.cross_entropy(F.linear(model(x), fc_w, fc_b), labels) + tm.arcface_loss(model(x), arc_w, labels)


def parse_config(s):
    return dict(kv.split("=") for kv in s.split(","))


def twin(meta):
    """The PyTorch twin of a golden file's network, from its "config" metadata (random weights)."""
    c = parse_config(meta["config"])
    if "stem" in c:
        return tm.StackedHourglass(*(int(c[k]) for k in ("stem", "mid", "channels", "stacks", "landmarks")))
    return tm.EmbeddingNet(float(c["width"]), tuple(int(b) for b in c["blocks"].split(":")), int(c["embedding"]),
                           dropout=float(c["dropout"]), bn=c.get("bn") == "1")


def golden_loss(model, g, prefix=""):
    """loss(dtype) of a golden file's training batch `prefix`x (tensors g: name -> torch tensor)."""
    x = g[prefix + "x"]
    if isinstance(model, tm.StackedHourglass):
        t = g[prefix + "target"]
        return lambda dt: hourglass_loss(model, x.to(dt), t.to(dt))
    labels = g[prefix + "labels"]
    return lambda dt: resnet_loss(model, x.to(dt), labels, g["fc/weight"].to(dt), g["fc/bias"].to(dt),
                                  g["arc/weight"].to(dt))


def dump(path, model, x, outs, extra, meta, train_fn=None, lr=0.01, grad64=False):
    tensors = [(f"w/{k}", v.clone()) for k, v in model.state_dict().items()]
    tensors.append(("x", x))
    for i, o in enumerate(outs):
        tensors.append((f"eval/out{i}", o))
    tensors += extra
    if train_fn is not None:
        state = {k: v.clone() for k, v in model.state_dict().items()}
        model.train()
        if grad64:  # gradients of an ill-conditioned network: compared in float64 (see resnet())
            model.double()
            meta["grad_dtype"] = "float64"
        else:
            meta["grad_dtype"] = "float32"
        loss = train_fn()
        loss.backward()
        tensors.append(("train/loss", loss.detach()))
        for k, p in model.named_parameters():
            tensors.append((f"g/{k}", p.grad.clone()))
        # The 10-step SGD trajectory runs in float64: these small networks train chaotically in
        # float32 (BN over few values, ReLU boundaries), where PyTorch's own float32 and float64
        # losses part by 1e-2 to 1e-1 within 10 steps, so no float32 engine could meet 1e-3.
        model.load_state_dict(state)
        model.double()
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        meta["sgd_lr"] = repr(lr)
        losses = []
        for _ in range(10):
            opt.zero_grad()
            loss = train_fn()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        model.float()
        tensors.append(("sgd/losses", torch.tensor(losses, dtype=torch.float64)))
    meta["params"] = str(sum(p.numel() for p in model.parameters()))
    write_safetensors(path, tensors, meta)
    print("wrote", path, f"({os.path.getsize(path) / 1e3:.0f} kB)")


def perturb_bn(model, gen):
    """Random running statistics and affine parameters so eval mode is not an identity."""
    for mod in model.modules():
        if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            mod.running_mean.copy_(torch.rand(mod.running_mean.shape, generator=gen) * 0.2 - 0.1)
            mod.running_var.copy_(torch.rand(mod.running_var.shape, generator=gen) * 0.5 + 0.75)
            mod.weight.data.copy_(torch.rand(mod.weight.shape, generator=gen) * 0.5 + 0.75)
            mod.bias.data.copy_(torch.rand(mod.bias.shape, generator=gen) * 0.2 - 0.1)


def hourglass(out, full):
    gen = torch.Generator().manual_seed(1)
    torch.manual_seed(1)
    if full:
        cfg = dict(stem=64, mid=128, channels=256, stacks=2, landmarks=5)
        size, n = 256, 1
    else:
        cfg = dict(stem=8, mid=16, channels=16, stacks=2, landmarks=5)
        size, n = 64, 2
    model = tm.StackedHourglass(**cfg)
    with torch.no_grad():
        perturb_bn(model, gen)
    model.eval()
    x = torch.rand((n, 3, size, size), generator=gen) * 2 - 1
    with torch.no_grad():
        outs = model(x)
    target = torch.rand(outs[0].shape, generator=gen)
    conf = f"stem={cfg['stem']},mid={cfg['mid']},channels={cfg['channels']},stacks={cfg['stacks']},landmarks={cfg['landmarks']},input={size}"
    dt = lambda: next(model.parameters()).dtype  # noqa: E731  (float32, or float64 for the SGD run)
    train = None if full else (lambda: hourglass_loss(model, x.to(dt()), target.to(dt())))
    dump(os.path.join(out, f"hourglass_{'full' if full else 'small'}.safetensors"), model, x, outs,
         [("target", target)], {"config": conf}, train, lr=1e-6)  # the outputs start large: a small step


def resnet(out, variant):
    """variant "full": reference ResNet50 at 112x112, eval only. "small": width 0.125 with one block
    per stage — float32 training gradients are well conditioned there (PyTorch's own float32 and
    float64 gradients agree to 1e-5). "deep": the full [3, 4, 6, 3] depth at width 1/16, whose
    float32 training gradients are not (PyTorch's float32 and float64 differ by 6e-2), so its
    gradients and SGD trajectory are compared in float64. "small_bn": "small" with BatchNorm1d on
    the embedding (EmbeddingConfig.bn)."""
    gen = torch.Generator().manual_seed(2)
    torch.manual_seed(2)
    width, blocks, size, n, emb, classes = {
        "full": (1.0, (3, 4, 6, 3), 112, 2, 512, 16),
        "small": (0.125, (1, 1, 1, 1), 64, 16, 16, 7),
        "deep": (0.0625, (3, 4, 6, 3), 64, 8, 16, 7),
        "small_bn": (0.125, (1, 1, 1, 1), 64, 16, 16, 7),
    }[variant]
    bn = variant.endswith("_bn")
    model = tm.EmbeddingNet(width, blocks, emb, dropout=0.0, bn=bn)
    with torch.no_grad():
        perturb_bn(model, gen)
    model.eval()
    x = torch.rand((n, 3, size, size), generator=gen) * 2 - 1
    labels = torch.randint(0, classes, (n,), generator=gen)
    fc = torch.nn.Linear(emb, classes)
    arc_w = torch.rand((classes, emb), generator=gen) * 2 - 1
    with torch.no_grad():
        e = model(x)
        outs = [e, F.cross_entropy(fc(e), labels), tm.arcface_loss(e, arc_w, labels)]
    blocks_s = ":".join(map(str, blocks))
    conf = f"width={width},blocks={blocks_s},classes=0,input={size},embedding={emb},dropout=0" + (",bn=1" if bn else "")
    extra = [("labels", labels), ("fc/weight", fc.weight.detach()), ("fc/bias", fc.bias.detach()), ("arc/weight", arc_w)]
    dt = lambda: next(model.parameters()).dtype  # noqa: E731

    def train_loss():
        return resnet_loss(model, x.to(dt()), labels, fc.weight.detach().to(dt()), fc.bias.detach().to(dt()),
                           arc_w.to(dt()))
    train = None if variant == "full" else train_loss
    dump(os.path.join(out, f"resnet_{variant}.safetensors"), model, x, outs, extra, {"config": conf}, train,
         grad64=variant == "deep")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "models"))
    a = ap.parse_args()
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
    os.makedirs(a.out, exist_ok=True)
    hourglass(a.out, a.full)
    for v in (["full"] if a.full else ["small", "deep", "small_bn"]):
        resnet(a.out, v)
    if a.full:
        print("torchvision resnet50 parameters:", sum(p.numel() for p in tm.resnet(1.0, (3, 4, 6, 3), 1000).parameters()))


if __name__ == "__main__":
    main()
