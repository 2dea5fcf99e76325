#!/usr/bin/python3
"""Write PyTorch reference data for every op case of tests/op_cases.h.

Run with Debian's interpreter (python3-torch is a Debian package and loads only there):

    /usr/bin/python3 tools/make_goldens.py            # all cases
    /usr/bin/python3 tools/make_goldens.py conv2d_3x3  # the named cases only

Each case lives in a module tools/goldens/<group>.py as an entry of its CASES list:

    Case(name, sets=[shapes_0, shapes_1, ...], fn=lambda *inputs: torch_result,
         grad_inputs=[0, 1], make=optional custom input maker, ref64=False)

For every shape set k the script draws inputs (float32 uniform in [-1, 1) unless `make` says
otherwise; make(gen, k) returns the input list), runs fn, draws an upstream gradient gout and runs
backward (in float64 on the same inputs, results rounded to float32, where ref64 is set). It writes tests/data/ops/<name>.safetensors with tensors "k/in0", "k/in1", ...,
"k/out", "k/gout", "k/grad<i>" and metadata {"sets": "<count>"}. The C++ test feeds in<i> to our
op, compares out, runs backward from gout and compares grad<i>.

The torch generator is seeded per case from its name, so a rerun writes identical files.
"""
import glob
import importlib
import os
import sys
import zlib

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "data", "ops")
sys.path.insert(0, HERE)

from goldens.common import Case  # noqa: E402
from safetensors_io import write_safetensors as write_numpy  # noqa: E402

def write_safetensors(path, tensors, metadata):
    """Writes [(name, torch tensor)] with tools/safetensors_io.py."""
    write_numpy(path, [(n, t.detach().contiguous().cpu().numpy()) for n, t in tensors], metadata)


def run_case(case: Case):
    gen = torch.Generator().manual_seed(zlib.crc32(case.name.encode()))
    tensors = []
    for k, shapes in enumerate(case.sets):
        if case.make is not None:
            inputs = case.make(gen, k)
        else:
            inputs = [torch.rand(s, generator=gen) * 2 - 1 for s in shapes]
        leaves = []
        for i, x in enumerate(inputs):
            x = x.clone()
            if case.ref64 and x.is_floating_point():
                x = x.double()
            if i in case.grad_inputs:
                x.requires_grad_(True)
            leaves.append(x)
        out = case.fn(*leaves)
        stored = (lambda t: t.float()) if case.ref64 else (lambda t: t)  # noqa: E731
        for i, x in enumerate(inputs):
            tensors.append((f"{k}/in{i}", x))
        tensors.append((f"{k}/out", stored(out)))
        if case.grad_inputs:
            gout = torch.rand(out.shape, generator=gen) * 2 - 1
            out.backward(gout.to(out.dtype))
            tensors.append((f"{k}/gout", gout))
            for i in case.grad_inputs:
                tensors.append((f"{k}/grad{i}", stored(leaves[i].grad)))
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, case.name + ".safetensors")
    write_safetensors(path, tensors, {"sets": str(len(case.sets)), "torch": torch.__version__})
    return path


def all_cases():
    cases = []
    for f in sorted(glob.glob(os.path.join(HERE, "goldens", "*.py"))):
        mod = os.path.splitext(os.path.basename(f))[0]
        if mod in ("common", "__init__"):
            continue
        cases += importlib.import_module("goldens." + mod).CASES
    return cases


def main():
    torch.set_num_threads(1)
    wanted = set(sys.argv[1:])
    cases = all_cases()
    names = [c.name for c in cases]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        sys.exit(f"duplicate case names: {sorted(dup)}")
    unknown = wanted - set(names)
    if unknown:
        sys.exit(f"unknown cases: {sorted(unknown)}")
    for c in cases:
        if not wanted or c.name in wanted:
            print("wrote", os.path.relpath(run_case(c)))


if __name__ == "__main__":
    main()
