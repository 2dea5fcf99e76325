#!/usr/bin/python3
"""Report how far the gates of every network golden (tests/data/models/*.safetensors) sit from
their edges, and fail when a golden's comparisons are not safe from float rounding.

    /usr/bin/python3 tools/check_gate_margins.py [FILE ...]   # default: every file in tests/data/models

For each file it rebuilds the PyTorch twin (tools/make_model_goldens.py twin()), loads the
golden's weights and runs the training-mode forward of each batch the C++ test differentiates
(tools/gate_margins.py describes the figures):
  x       the main batch; its gradients are compared in the dtype of the file's "grad_dtype"
          metadata (float64 when absent)
  f32/x   the float32 batch, when present: float32 gradients
  sgd     the float64 SGD trajectory (every step's forward): 10 steps on the main batch, or the
          tiny CNN's 5 steps on its own batches
A batch compared in float32 needs float32 safety >= REQUIRED_F32_SAFETY, one compared in float64
float64 safety >= REQUIRED_F64_SAFETY. Exit status 1 when any falls short.
"""
import glob
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import gate_margins as gm  # noqa: E402
import make_model_goldens as mmg  # noqa: E402
from safetensors_io import read_safetensors  # noqa: E402

SGD_STEPS = 10


def load(path):
    arrays, meta = read_safetensors(path)
    g = {k: torch.from_numpy(v) for k, v in arrays.items()}
    model = mmg.twin(meta)
    state = {k[2:]: v for k, v in g.items() if k.startswith("w/")}
    model.load_state_dict(state)
    return g, meta, model, state


def check(path):
    """Prints the report of one file; returns False when a requirement fails."""
    g, meta, model, state = load(path)
    name = os.path.basename(path)
    ok = True
    main_dtype = meta.get("grad_dtype", "float64")
    sets = [("x", "", main_dtype)]
    if "f32/x" in g:
        sets.append(("f32/x", "f32/", "float32"))
    errs_main = None
    for label, prefix, dtype in sets:
        m, errs = gm.measure(gm.forward_runner(model, state, mmg.golden_loss(model, g, prefix)))
        if prefix == "":
            errs_main = errs
        need, have = ((gm.REQUIRED_F32_SAFETY, m["f32_safety"]) if dtype == "float32"
                      else (gm.REQUIRED_F64_SAFETY, m["f64_safety"]))
        verdict = "ok" if have >= need else f"FAIL: {dtype} comparison needs safety >= {need:g}"
        ok &= have >= need
        print(f"{name} {label} {list(g[prefix + 'x'].shape)}, gradients in {dtype}: {gm.describe(m)} -> {verdict}")
    if "sgd_lr" in meta:
        steps = int(meta.get("sgd_steps", SGD_STEPS))
        _, r, _ = gm.sgd_trajectory(model, state, mmg.trajectory_loss(model, g), float(meta["sgd_lr"]), steps,
                                    float(meta.get("sgd_weight_decay", 0.0)))
        m = gm.summarise(r, errs_main)
        verdict = "ok" if m["f64_safety"] >= gm.REQUIRED_F64_SAFETY else \
            f"FAIL: float64 comparison needs safety >= {gm.REQUIRED_F64_SAFETY:g}"
        ok &= m["f64_safety"] >= gm.REQUIRED_F64_SAFETY
        print(f"{name} sgd ({steps} float64 steps, lr {meta['sgd_lr']}): {gm.describe(m)} -> {verdict}")
    return ok


def main():
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
    files = sys.argv[1:] or sorted(glob.glob(os.path.join(HERE, "..", "tests", "data", "models", "*.safetensors")))
    ok = True
    for f in files:
        ok &= check(f)
    print("all gates clear of their edges" if ok else "some goldens have gates too close to their edges")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
