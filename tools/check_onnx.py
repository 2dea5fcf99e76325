#!/usr/bin/env python3
"""ONNX Runtime against faceforge on the same real faces: for each MODEL.onnx REF.safetensors
pair (`faceforge export --reference REF --reference-data DIR`), the model passes onnx.checker
(full check: shapes inferred through the whole graph), ONNX Runtime (CPU) runs REF's `data` at
two batch sizes (the first row alone and all of them: the batch is symbolic), and every output is
compared with faceforge's, saved beside it in REF.

    python3 tools/check_onnx.py emb.onnx emb_ref.safetensors [lmk.onnx lmk_ref.safetensors ...]
        [--tolerance 1e-4] [--markdown]

Run it with an interpreter that has pip (`python3` on PATH here): onnxruntime and onnx come from
PyPI (Debian packages neither runtime) and are installed with pip when missing.
Exit status 0 when every output's max abs error is within the tolerance, 1 otherwise."""
import argparse
import importlib
import json
import os
import struct
import subprocess
import sys



def need(module, package):
    try:
        return importlib.import_module(module)
    except ImportError:
        print(f"check_onnx: installing {package} from PyPI ({os.path.basename(sys.executable)} -m pip install "
              f"{package})", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", package],
                       check=True)
        importlib.invalidate_caches()
        return importlib.import_module(module)


np = need("numpy", "numpy")
DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "U8": np.uint8}


def read_safetensors(path):
    """{name: array} of a safetensors file (8-byte little-endian header length, JSON, data)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise SystemExit(f"check_onnx: {path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=DTYPES[e["dtype"]]).reshape(e["shape"])
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pairs", nargs="+", help="MODEL.onnx REF.safetensors, repeated")
    p.add_argument("--tolerance", type=float, default=1e-4, help="max abs error allowed (default 1e-4)")
    p.add_argument("--markdown", action="store_true", help="also print the results as a markdown table")
    a = p.parse_args(argv)
    if len(a.pairs) % 2:
        p.error("give MODEL.onnx REF.safetensors pairs")
    onnx = need("onnx", "onnx")
    ort = need("onnxruntime", "onnxruntime")
    print(f"check_onnx: onnx {onnx.__version__}, onnxruntime {ort.__version__}")
    ok, rows = True, []
    for model_path, ref_path in zip(a.pairs[0::2], a.pairs[1::2]):
        for f in (model_path, ref_path):
            if not os.path.isfile(f):
                raise SystemExit(f"check_onnx: {f}: no such file")
        model = onnx.load(model_path)
        onnx.checker.check_model(model, full_check=True)
        ref = read_safetensors(ref_path)
        x = ref["data"]
        sess = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
        names = [o.name for o in sess.get_outputs()]
        batch = sess.get_inputs()[0].shape[0]
        if isinstance(batch, int):
            print(f"  {model_path}: the input's batch is fixed at {batch}, not symbolic")
            ok = False
        full = dict(zip(names, sess.run(None, {"data": x})))
        one = dict(zip(names, sess.run(None, {"data": x[:1]})))
        for name in names:
            want = ref[name]
            got = full[name]
            if got.shape != want.shape:
                print(f"  {model_path} {name}: shape {got.shape}, faceforge's {want.shape}")
                ok = False
                continue
            err = np.abs(got.astype(np.float64) - want)
            abs_err = float(err.max())
            rel_err = float((err / np.maximum(np.abs(want), 1e-3)).max())
            batch_err = float(np.abs(one[name][0] - got[0]).max())
            scale = float(np.abs(want).max())
            good = abs_err <= a.tolerance and batch_err <= a.tolerance and np.isfinite(got).all()
            ok &= good
            rows.append((os.path.basename(model_path), name, list(want.shape), scale, abs_err, rel_err, batch_err, good))
            print(f"  {model_path} {name} {list(want.shape)}: max |faceforge| {scale:.3g}, max abs error "
                  f"{abs_err:.2e}, max rel error {rel_err:.2e}, batch 1 vs {x.shape[0]} {batch_err:.2e} "
                  f"{'ok' if good else 'FAIL (tolerance %g)' % a.tolerance}")
    if a.markdown:
        print("\n| model | output | shape | max abs value | max abs error | max rel error | batch 1 vs N |")
        print("|---|---|---|---|---|---|---|")
        for m, n, s, sc, ae, re_, be, _ in rows:
            print(f"| {m} | {n} | {s} | {sc:.3g} | {ae:.1e} | {re_:.1e} | {be:.1e} |")
    print("check_onnx:", "every output within %g" % a.tolerance if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
