#!/usr/bin/python3
"""Reference data for the network parity tests (tests/test_models.cpp), from the PyTorch twins of
our networks in tools/torch_models.py (Debian's python3-torch / python3-torchvision, CPU).

    /usr/bin/python3 tools/make_model_goldens.py                 # small widths -> tests/data/models/
    /usr/bin/python3 tools/make_model_goldens.py --full --out DIR  # reference sizes, eval forward only

Each file holds the weights ("w/<state_dict name>", float32), the main batch ("x", and "target"
or "labels"; the ResNet heads "fc/weight", "fc/bias", "arc/weight") and its eval-mode outputs
("eval/out<i>", float32). Small widths add, all computed by PyTorch in float64 from the float32
weights and inputs:
  train/loss, g/<name>   the training-mode loss and every parameter's gradient on the main batch
  sgd/losses             the losses of 10 SGD steps (momentum 0.9, lr "sgd_lr") on the main batch
  f32/x, f32/target or f32/labels, f32/loss, f32/g/<name> (rounded to float32)
                         a second, smaller batch for the float32 gradient check (not resnet_deep)
Gradients are discontinuous at every gate (ReLU, max-pool argmax, clamp, comparison: see
tools/gate_margins.py): where float32 rounding can move a gate's input across its edge, a float32
comparison fails however correct the engine is. So the main batch is compared in float64 only,
and the float32 batch is redrawn until every gate sits at least REQUIRED_F32_SAFETY times
PyTorch's own float32 rounding error from its edge (at most MAX_DRAWS draws, else the script
refuses); the main batch and the SGD trajectory must reach REQUIRED_F64_SAFETY. The figures
reached go into the metadata ("f32_safety", "f32_draws", "f64_safety", "sgd_f64_safety") and
tools/check_gate_margins.py recomputes them from the files. Metadata also holds the configuration
string our loader parses and the parameter count.
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gate_margins as gm  # noqa: E402
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
    if "tiny_cnn" in c:
        return tm.tiny_cnn(int(c["classes"]))
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
    if isinstance(model, torch.nn.Sequential):  # the tiny CNN
        return lambda dt: F.cross_entropy(model(x.to(dt)), labels)
    return lambda dt: resnet_loss(model, x.to(dt), labels, g["fc/weight"].to(dt), g["fc/bias"].to(dt),
                                  g["arc/weight"].to(dt))


def trajectory_loss(model, g):
    """loss(dtype, step) of a golden's SGD trajectory: the main batch at every step, or for the tiny
    CNN the step's own batch ("sgd/x", "sgd/labels")."""
    if "sgd/x" in g:
        return lambda dt, step: F.cross_entropy(model(g["sgd/x"][step].to(dt)), g["sgd/labels"][step])
    loss = golden_loss(model, g)
    return lambda dt, step: loss(dt)


SGD_STEPS = 10
MAX_DRAWS = 1000


def batch_safety(model, state, g, prefix):
    """Gate figures (tools/gate_margins.py) of the training batch `prefix` of golden tensors g."""
    m, errs = gm.measure(gm.forward_runner(model, state, golden_loss(model, g, prefix)))
    return m, errs


def draw_batch(model, state, g, prefix, draw, dtype):
    """Draws batch `prefix` (draw() -> {name: tensor}) into g until its gates are safe for gradient
    comparisons in `dtype`; refuses (exits) after MAX_DRAWS. Returns (figures, float32 errors, draws)."""
    for i in range(1, MAX_DRAWS + 1):
        g.update({prefix + k: v for k, v in draw().items()})
        m, errs = batch_safety(model, state, g, prefix)
        have, need = ((m["f32_safety"], gm.REQUIRED_F32_SAFETY) if dtype == "float32"
                      else (m["f64_safety"], gm.REQUIRED_F64_SAFETY))
        if have >= need:
            print(f"  batch '{prefix or 'main'}' after {i} draw(s): {gm.describe(m)}")
            return m, errs, i
    sys.exit(f"no {prefix or 'main'} batch with {dtype} gate safety >= {need:g} in {MAX_DRAWS} draws")


def gradients(model, state, loss):
    """Training-mode loss and every parameter's gradient in float64, from weights `state`."""
    model.load_state_dict(state)
    model.double().train()
    for p in model.parameters():
        p.grad = None
    l = loss(torch.float64)
    l.backward()
    grads = [(k, p.grad.detach().clone()) for k, p in model.named_parameters()]
    model.float()
    model.load_state_dict(state)
    return l.detach(), grads


def dump(path, model, g, outs, meta, draw_main, draw_f32=None, lr=0.01):
    """Writes a golden: weights, the main batch, its eval outputs `outs` (float32) and — unless
    draw_main is None (eval-only reference sizes) — the training figures described in the module
    docstring. g holds the tensors common to both batches (the ResNet heads)."""
    model.eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    tensors = [(f"w/{k}", v) for k, v in state.items()]
    if draw_main is not None:
        m, errs, _ = draw_batch(model, state, g, "", draw_main, "float64")
        meta["f64_safety"] = f"{m['f64_safety']:.3g}"
    model.eval()
    with torch.no_grad():
        outs = outs(g)
    tensors += [(k, v) for k, v in g.items()]
    tensors += [(f"eval/out{i}", o) for i, o in enumerate(outs)]
    if draw_main is not None:
        loss, grads = gradients(model, state, golden_loss(model, g))
        tensors.append(("train/loss", loss))
        tensors += [(f"g/{k}", v) for k, v in grads]
        losses, records, _ = gm.sgd_trajectory(model, state, trajectory_loss(model, g), lr, SGD_STEPS)
        t = gm.summarise(records, errs)
        if t["f64_safety"] < gm.REQUIRED_F64_SAFETY:
            sys.exit(f"{path}: the SGD trajectory's gates are too close to their edges: {gm.describe(t)}")
        meta["sgd_lr"] = repr(lr)
        meta["sgd_f64_safety"] = f"{t['f64_safety']:.3g}"
        tensors.append(("sgd/losses", torch.tensor(losses, dtype=torch.float64)))
    if draw_f32 is not None:
        both = dict(g)
        m, _, draws = draw_batch(model, state, both, "f32/", draw_f32, "float32")
        loss, grads = gradients(model, state, golden_loss(model, both, "f32/"))
        tensors += [(k, v) for k, v in both.items() if k.startswith("f32/")]
        tensors.append(("f32/loss", loss))
        tensors += [(f"f32/g/{k}", v.float()) for k, v in grads]  # the float64 reference, rounded
        meta["f32_safety"] = f"{m['f32_safety']:.3g}"
        meta["f32_draws"] = str(draws)
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
    conf = f"stem={cfg['stem']},mid={cfg['mid']},channels={cfg['channels']},stacks={cfg['stacks']},landmarks={cfg['landmarks']},input={size}"
    g = {}
    if full:
        g["x"] = torch.rand((n, 3, size, size), generator=gen) * 2 - 1
    gen32 = torch.Generator().manual_seed(101)

    def draw(gen, n, size):
        return lambda: {"x": torch.rand((n, 3, size, size), generator=gen) * 2 - 1,
                        "target": torch.rand((n, cfg["landmarks"], size // 4, size // 4), generator=gen)}
    dump(os.path.join(out, f"hourglass_{'full' if full else 'small'}.safetensors"), model, g,
         lambda g: model(g["x"]), {"config": conf}, None if full else draw(gen, n, size),
         None if full else draw(gen32, 2, 32), lr=1e-6)  # the outputs start large: a small step


def resnet(out, variant):
    """variant "full": reference ResNet50 at 112x112, eval only. "small": width 0.125 with one block
    per stage. "deep": the full [3, 4, 6, 3] depth at width 1/16; no float32 batch: with its 49
    ReLU layers no affordable batch keeps every gate 10 float32 errors from its edge (the best of
    300 draws of [8, 3, 32, 32] reached safety 2.7), and on its main batch PyTorch's own float32
    takes 2 ReLU decisions the other way (the 6e-2 float32-vs-float64 gradient gap once put down
    to ill-conditioning). "small_bn": "small" with BatchNorm1d on the
    embedding (EmbeddingConfig.bn)."""
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
    x = torch.rand((n, 3, size, size), generator=gen) * 2 - 1
    labels = torch.randint(0, classes, (n,), generator=gen)
    fc = torch.nn.Linear(emb, classes)
    arc_w = torch.rand((classes, emb), generator=gen) * 2 - 1
    g = {"fc/weight": fc.weight.detach(), "fc/bias": fc.bias.detach(), "arc/weight": arc_w}
    blocks_s = ":".join(map(str, blocks))
    conf = f"width={width},blocks={blocks_s},classes=0,input={size},embedding={emb},dropout=0" + (",bn=1" if bn else "")

    def outs(g):
        e = model(g["x"])
        return [e, F.cross_entropy(fc(e), g["labels"]), tm.arcface_loss(e, arc_w, g["labels"])]
    main = [{"x": x, "labels": labels}]  # the first draw is the one above; later ones continue gen

    def draw_main():
        if main:
            return main.pop()
        return {"x": torch.rand((n, 3, size, size), generator=gen) * 2 - 1,
                "labels": torch.randint(0, classes, (n,), generator=gen)}
    gen32 = torch.Generator().manual_seed(102)

    def draw_f32():
        return {"x": torch.rand((8, 3, 32, 32), generator=gen32) * 2 - 1,
                "labels": torch.randint(0, classes, (8,), generator=gen32)}
    if variant == "full":
        g.update(main.pop())
    dump(os.path.join(out, f"resnet_{variant}.safetensors"), model, g, outs, {"config": conf},
         None if variant == "full" else draw_main, draw_f32 if variant in ("small", "small_bn") else None)


TINY_STEPS, TINY_BATCH = 5, 20
TINY_SGD = dict(lr=0.05, weight_decay=5e-4)  # momentum 0.9: tests/support/tiny_cnn.cpp train_tiny_cnn


def tiny(out):
    """The tiny CNN's training trajectory (tests/test_train_tiny.cpp): torch's default init, 5 SGD
    steps (lr 0.05, momentum 0.9, weight decay 5e-4, as train_tiny_cnn) on 5 toy-shape batches of
    20 (tm.toy_shapes). Batch 20 at 1 thread runs the CPU convolution as chunks of 16 and 4
    images. Holds "sgd/x" [5, 20, 3, 16, 16], "sgd/labels", "sgd/losses", and "sgd/final/<name>"
    the float64 parameters and running statistics after the 5 steps; the main batch (step 0's)
    with its float64 gradients and a gate-safe float32 batch as the other goldens."""
    torch.manual_seed(3)
    rng = np.random.default_rng(3)
    model = tm.tiny_cnn(4)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    batches = [tm.toy_shapes(TINY_BATCH, rng) for _ in range(TINY_STEPS)]
    g = {"sgd/x": torch.stack([b[0] for b in batches]), "sgd/labels": torch.stack([b[1] for b in batches])}
    first = [{"x": batches[0][0], "labels": batches[0][1]}]
    m, errs, _ = draw_batch(model, state, g, "", lambda: first.pop() if first else sys.exit("tiny: main batch"),
                            "float64")
    meta = {"config": "tiny_cnn=1,classes=4", "f64_safety": f"{m['f64_safety']:.3g}", "sgd_lr": repr(TINY_SGD["lr"]),
            "sgd_momentum": "0.9", "sgd_weight_decay": repr(TINY_SGD["weight_decay"]), "sgd_steps": str(TINY_STEPS)}
    tensors = [(f"w/{k}", v) for k, v in state.items()] + list(g.items())
    loss, grads = gradients(model, state, golden_loss(model, g))
    tensors += [("train/loss", loss)] + [(f"g/{k}", v) for k, v in grads]
    losses, records, final = gm.sgd_trajectory(model, state, trajectory_loss(model, g), TINY_SGD["lr"], TINY_STEPS,
                                               TINY_SGD["weight_decay"])
    t = gm.summarise(records, errs)
    if t["f64_safety"] < gm.REQUIRED_F64_SAFETY:
        sys.exit(f"tiny: the SGD trajectory's gates are too close to their edges: {gm.describe(t)}")
    meta["sgd_f64_safety"] = f"{t['f64_safety']:.3g}"
    tensors.append(("sgd/losses", torch.tensor(losses, dtype=torch.float64)))
    tensors += [(f"sgd/final/{k}", v) for k, v in final.items() if v.is_floating_point()]
    both = dict(g)
    m, _, draws = draw_batch(model, state, both, "f32/", lambda: dict(zip(("x", "labels"), tm.toy_shapes(TINY_BATCH, rng))),
                             "float32")
    loss, grads = gradients(model, state, golden_loss(model, both, "f32/"))
    tensors += [(k, v) for k, v in both.items() if k.startswith("f32/")]
    tensors += [("f32/loss", loss)] + [(f"f32/g/{k}", v.float()) for k, v in grads]
    meta.update(f32_safety=f"{m['f32_safety']:.3g}", f32_draws=str(draws),
                params=str(sum(p.numel() for p in model.parameters())))
    path = os.path.join(out, "tiny_cnn.safetensors")
    write_safetensors(path, tensors, meta)
    print("wrote", path, f"({os.path.getsize(path) / 1e3:.0f} kB)")


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
    if not a.full:
        tiny(a.out)
    if a.full:
        print("torchvision resnet50 parameters:", sum(p.numel() for p in tm.resnet(1.0, (3, 4, 6, 3), 1000).parameters()))


if __name__ == "__main__":
    main()
