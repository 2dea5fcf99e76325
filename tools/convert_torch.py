#!/usr/bin/python3
"""Convert PyTorch checkpoints into faceforge model files (safetensors with the metadata that
models/factory.h's load_model() needs to rebuild the network).

    /usr/bin/python3 tools/convert_torch.py CHECKPOINT.pth OUT.safetensors [options]

Run it with Debian's interpreter (python3-torch and python3-torchvision load only there).
Three kinds of checkpoint are recognised by their tensor names (or forced with --kind):

  resnet     torchvision's ResNet50 state_dict (any Bottleneck ResNet: 50/101/152, any width):
             conv1.*, bn1.*, layer1.0.conv1.*, ..., fc.*  ->  "model": "resnet", config with
             classes = fc's output count (1000 for ImageNet weights; 0 when there is no fc).
             Names are kept (faceforge's ResNet uses torchvision's). Old torchvision weight files
             without bn*.num_batches_tracked get 0 there.
  hourglass  the reference notebooks' stacked hourglass (the names of tools/torch_models.py's
             StackedHourglass: init_conv.*, hg1.*, out_conv1.*, merge1.*, ...)  ->  "model":
             "hourglass", with stem/mid/channels/stacks/landmarks read from the tensor shapes and
             the input size from --input (default 256; the weights do not fix it).
  embedding  the notebooks' face-embedding checkpoint
                 {"model_state_dict": {features.N.*, embedding_layer.1.*},
                  "arcface_state_dict": {"weight": [classes, 512]}, ...}
             where features = nn.Sequential(*list(resnet50.children())[:-1]), so features.0 =
             conv1, features.1 = bn1, features.4..7 = layer1..layer4. Renamed to faceforge's
             EmbeddingNet names: backbone.conv1.*, backbone.bn1.*, backbone.layer1..4.*,
             embedding_layer.1.*  ->  "model": "embedding", config from the shapes, dropout from
             --dropout (default 0.7) and input size from --input (default 112). The ArcFace class
             weights go INTO THE SAME FILE as "head.weight" with metadata "head": "arcface",
             "classes", "s", "m" (s and m from --s/--m, default 45 and 0.1: the notebooks'); load
             them with load_model(...).arcface(). --no-head leaves the head out. A state_dict that
             already uses faceforge's names (backbone.*, embedding_layer.*) is accepted as well.

The checkpoint may be a bare state_dict or a dict holding it under "model_state_dict" or
"state_dict" (other entries — epoch, optimizer state — are ignored and listed); a "module."
prefix (nn.DataParallel) is stripped. Tensors are stored as float32 (int64 for batch-norm
counters). Before writing, the converted names and shapes are checked against the PyTorch twin of
the inferred network (tools/torch_models.py); an unrecognised checkpoint, a missing or an
unexpected tensor, or a shape that does not fit is an error that lists the names involved, and
nothing is written.

Options:
  --kind {auto,resnet,hourglass,embedding}   default auto (by tensor names)
  --input N        input size recorded in the configuration (hourglass 256, resnet 224,
                   embedding 112 by default)
  --dropout P      embedding dropout recorded in the configuration (default 0.7)
  --s S --m M      ArcFace scale and margin recorded with the head (default 45, 0.1)
  --no-head        embedding: do not store the ArcFace weights
  --trust          unpickle the checkpoint fully (runs code from the file: only for files you
                   trust) when the safe weights-only loader refuses it

Exit status 0 on success, 1 with one "convert_torch: error: ..." line otherwise.
tests/test_convert.cpp converts checkpoints of every kind (made by tools/make_convert_cases.py)
and checks faceforge's outputs against PyTorch's.
"""
import argparse
import json
import os
import pickle
import re
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models as tm  # noqa: E402


class ConversionError(Exception):
    pass


# ---------------------------------------------------------------- reading and writing

class _SafeUnpickler(pickle.Unpickler):
    """Unpickles tensors, state dicts and plain Python values only: find_class refuses every global
    but torch's tensor-rebuilding functions, storages, dtypes and OrderedDict, so a checkpoint
    cannot run code. (torch 1.13's own weights_only loader refuses floats, which training
    checkpoints hold: a loss, a learning rate.)"""

    def find_class(self, module, name):
        ok = ((module == "collections" and name == "OrderedDict")
              or (module == "torch._utils" and name.startswith("_rebuild_"))
              or (module == "torch" and (name.endswith("Storage") or isinstance(getattr(torch, name, None), torch.dtype)))
              or (module == "torch" and name == "Size"))
        if not ok:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        return super().find_class(module, name)


class _SafePickleModule:
    Unpickler = _SafeUnpickler
    load = staticmethod(lambda f, **kw: _SafeUnpickler(f, **kw).load())


def _restricted_load(path):
    """torch's zip-checkpoint reader with _SafeUnpickler. torch.load itself cannot take it: 1.13
    replaces any pickle_module by pickle unless weights_only is set, so this calls the reader
    torch.load uses (a private function; where it is missing, None is returned)."""
    ser = torch.serialization
    if not (hasattr(ser, "_load") and hasattr(ser, "_open_zipfile_reader")):
        return None
    with open(path, "rb") as f:
        if not ser._is_zipfile(f):
            return None
        f.seek(0)
        with ser._open_zipfile_reader(f) as zf:
            return ser._load(zf, torch.device("cpu"), _SafePickleModule, encoding="utf-8")


def load_checkpoint(path, trust):
    """The checkpoint object, loaded without running code from the file unless `trust`."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001  (torch 1.13's weights-only loader refuses floats: try ours)
        first = str(e).splitlines()[-1][:200] if str(e) else type(e).__name__
    try:
        ckpt = _restricted_load(path)
        if ckpt is not None:
            return ckpt
    except pickle.UnpicklingError as e:
        first = str(e)
    if not trust:
        raise ConversionError(f"{path}: the safe loaders refused it ({first}); "
                              "rerun with --trust if you trust the file (unpickling runs code from it)")
    return torch.load(path, map_location="cpu")


def extract(ckpt, path):
    """(state_dict, extras, ignored keys) from a checkpoint object."""
    if not isinstance(ckpt, dict):
        raise ConversionError(f"{path}: expected a dict (a state_dict or a checkpoint dict), got {type(ckpt).__name__}")
    extras, ignored = {}, []
    for key in ("model_state_dict", "state_dict"):
        if key in ckpt and isinstance(ckpt[key], dict):
            sd = ckpt[key]
            for k, v in ckpt.items():
                if k == key:
                    continue
                if k == "arcface_state_dict" and isinstance(v, dict):
                    extras["arcface"] = v
                else:
                    ignored.append(k)
            break
    else:
        sd = ckpt
    non_tensors = [k for k, v in sd.items() if not torch.is_tensor(v)]
    if non_tensors:
        raise ConversionError(f"{path}: not a state_dict: entries {non_tensors[:8]} are not tensors "
                              f"(top-level keys: {list(ckpt)[:12]})")
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return dict(sd), extras, ignored


def to_storage(t):
    """float32 for every floating tensor, int64 for integer ones."""
    t = t.detach().cpu().contiguous()
    if t.is_floating_point():
        return t.to(torch.float32)
    if t.dtype in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        return t.to(torch.int64)
    raise ConversionError(f"unsupported tensor dtype {t.dtype}")


def write_safetensors(path, tensors, metadata):
    """safetensors: 8-byte little-endian header length, JSON header, raw bytes; written to a
    temporary file and renamed, so a failure never leaves a half-written model."""
    names = {torch.float32: "F32", torch.int64: "I64"}
    header, blobs, pos = {}, [], 0
    for name, t in tensors:
        raw = t.numpy().tobytes()
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [pos, pos + len(raw)]}
        blobs.append(raw)
        pos += len(raw)
    header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# ---------------------------------------------------------------- checking against the torch twins

def listing(names, n=12):
    names = sorted(names)
    more = f" (+{len(names) - n} more)" if len(names) > n else ""
    return ", ".join(names[:n]) + more


def check_against(sd, twin, what):
    """Names and shapes of sd must be exactly twin's state_dict. Missing batch-norm counters
    (old torchvision files) are filled with 0 and reported."""
    ref = twin.state_dict()
    filled = [k for k in ref if k not in sd and k.endswith("num_batches_tracked")]
    for k in filled:
        sd[k] = torch.zeros((), dtype=torch.int64)
    missing = [k for k in ref if k not in sd]
    unexpected = [k for k in sd if k not in ref]
    if missing or unexpected:
        raise ConversionError(f"{what}: names do not match the network inferred from the checkpoint: "
                              f"{len(missing)} missing [{listing(missing)}]; "
                              f"{len(unexpected)} unexpected [{listing(unexpected)}]")
    bad = [f"{k} {list(sd[k].shape)} (expected {list(v.shape)})" for k, v in ref.items() if sd[k].shape != v.shape]
    if bad:
        raise ConversionError(f"{what}: shapes do not fit the network inferred from the checkpoint: {listing(bad, 6)}")
    # The faceforge network registers tensors in the same order as the torch twin.
    return [(k, to_storage(sd[k])) for k in ref], filled


def need(sd, name, what):
    if name not in sd:
        raise ConversionError(f"{what}: tensor '{name}' is missing (names start: {listing(list(sd), 8)})")
    return sd[name]


# ---------------------------------------------------------------- the three kinds

def resnet_shape(sd, prefix, what):
    """width, blocks of a Bottleneck ResNet from its tensors under `prefix` (e.g. "backbone.")."""
    base = need(sd, prefix + "conv1.weight", what).shape[0]
    blocks = []
    for s in range(1, 5):
        idx = {int(m.group(1)) for k in sd for m in [re.match(re.escape(prefix) + rf"layer{s}\.(\d+)\.", k)] if m}
        if not idx:
            raise ConversionError(f"{what}: no blocks of {prefix}layer{s} (names start: {listing(list(sd), 8)})")
        blocks.append(max(idx) + 1)
    if prefix + "layer1.0.conv3.weight" not in sd:
        raise ConversionError(f"{what}: {prefix}layer1.0 has no conv3: a BasicBlock ResNet (resnet18/34); "
                              "faceforge's ResNet is the Bottleneck one (resnet50/101/152)")
    return base / 64.0, blocks


def blocks_str(blocks):
    return ":".join(str(b) for b in blocks)


def convert_resnet(sd, a, what):
    width, blocks = resnet_shape(sd, "", what)
    classes = sd["fc.weight"].shape[0] if "fc.weight" in sd else 0
    twin = tm.resnet(width, blocks, classes)
    tensors, filled = check_against(sd, twin, what)
    size = a.input or 224
    config = f"width={width:.10g},blocks={blocks_str(blocks)},classes={classes},input={size}"
    return tensors, {"model": "resnet", "config": config}, filled


def convert_hourglass(sd, a, what):
    stem = need(sd, "init_conv.0.weight", what).shape[0]
    mid = need(sd, "init_conv.3.conv3.weight", what).shape[0]
    channels = need(sd, "init_conv.6.conv3.weight", what).shape[0]
    landmarks = need(sd, "out_conv1.weight", what).shape[0]
    stacks = max({int(m.group(1)) for k in sd for m in [re.match(r"hg(\d+)\.", k)] if m} | {0})
    if stacks < 1:
        raise ConversionError(f"{what}: no hourglass modules (hg1.*) in a checkpoint that starts like a hourglass")
    twin = tm.StackedHourglass(stem, mid, channels, stacks, landmarks)
    tensors, filled = check_against(sd, twin, what)
    size = a.input or 256
    if size % 32:
        raise ConversionError(f"--input {size}: the hourglass needs a multiple of 32")
    config = f"stem={stem},mid={mid},channels={channels},stacks={stacks},landmarks={landmarks},input={size}"
    return tensors, {"model": "hourglass", "config": config}, filled


# features.N of nn.Sequential(*list(resnet50.children())[:-1]) -> the backbone's names
NOTEBOOK_FEATURES = {0: "conv1", 1: "bn1", 4: "layer1", 5: "layer2", 6: "layer3", 7: "layer4"}


def rename_notebook_embedding(sd, what):
    out = {}
    for k, v in sd.items():
        m = re.match(r"features\.(\d+)\.(.*)", k)
        if m and int(m.group(1)) in NOTEBOOK_FEATURES:
            out[f"backbone.{NOTEBOOK_FEATURES[int(m.group(1))]}.{m.group(2)}"] = v
        else:
            out[k] = v  # embedding_layer.* keep their names; anything else is reported as unexpected
    return out


def convert_embedding(sd, extras, a, what):
    if any(k.startswith("features.") for k in sd):
        sd = rename_notebook_embedding(sd, what)
    width, blocks = resnet_shape(sd, "backbone.", what)
    w = need(sd, "embedding_layer.1.weight", what)
    emb = w.shape[0]
    twin = tm.EmbeddingNet(width, blocks, emb, a.dropout)
    tensors, filled = check_against(sd, twin, what)
    size = a.input or 112
    config = (f"width={width:.10g},blocks={blocks_str(blocks)},classes=0,input={size},"
              f"embedding={emb},dropout={a.dropout:.10g}")
    meta = {"model": "embedding", "config": config}
    arc = extras.get("arcface")
    if arc is not None and not a.no_head:
        if set(arc) != {"weight"}:
            raise ConversionError(f"{what}: arcface_state_dict should hold exactly 'weight', it holds {listing(list(arc))}")
        hw = arc["weight"]
        if hw.dim() != 2 or hw.shape[1] != emb or hw.shape[0] < 1:
            raise ConversionError(f"{what}: arcface weight has shape {list(hw.shape)}, expected [classes, {emb}]")
        if not (a.s > 0 and 0 <= a.m < 1.5707963267948966):
            raise ConversionError(f"--s {a.s} --m {a.m}: need s > 0 and 0 <= m < pi/2")
        tensors.append(("head.weight", to_storage(hw)))
        meta.update({"head": "arcface", "classes": str(hw.shape[0]), "s": f"{a.s:.10g}", "m": f"{a.m:.10g}"})
    return tensors, meta, filled


def detect(sd):
    if "init_conv.0.weight" in sd:
        return "hourglass"
    if "features.0.weight" in sd or "backbone.conv1.weight" in sd:
        return "embedding"
    if "conv1.weight" in sd and any(k.startswith("layer1.") for k in sd):
        return "resnet"
    return None


def convert(src, dst, a):
    ckpt = load_checkpoint(src, a.trust)
    sd, extras, ignored = extract(ckpt, src)
    if not sd:
        raise ConversionError(f"{src}: the state_dict is empty")
    kind = detect(sd) if a.kind == "auto" else a.kind
    if kind is None:
        raise ConversionError(
            f"{src}: unrecognised checkpoint: expected torchvision ResNet names (conv1.weight, layer1.0...), "
            f"the hourglass's (init_conv.0.weight, hg1...), or the embedding notebook's (features.0.weight, "
            f"embedding_layer.1.weight); it holds {len(sd)} tensors: [{listing(list(sd))}]")
    what = f"{src} ({kind})"
    if kind == "resnet":
        tensors, meta, filled = convert_resnet(sd, a, what)
    elif kind == "hourglass":
        tensors, meta, filled = convert_hourglass(sd, a, what)
    else:
        tensors, meta, filled = convert_embedding(sd, extras, a, what)
    if extras.get("arcface") is not None and kind != "embedding":
        ignored.append("arcface_state_dict")
    meta["converted_from"] = os.path.basename(src)
    meta["converter"] = "tools/convert_torch.py"
    write_safetensors(dst, tensors, meta)
    print(f"{dst}: {meta['model']} {meta['config']}" + (f", {meta['head']} head of {meta['classes']} classes"
                                                        if "head" in meta else ""))
    print(f"  {len(tensors)} tensors, {sum(t.numel() for _, t in tensors if t.is_floating_point())} weights")
    if filled:
        print(f"  filled {len(filled)} missing batch-norm counters (num_batches_tracked) with 0")
    if ignored:
        print(f"  ignored checkpoint entries: {', '.join(map(str, ignored))}")
    return meta


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("out")
    ap.add_argument("--kind", choices=["auto", "resnet", "hourglass", "embedding"], default="auto")
    ap.add_argument("--input", type=int, default=0)
    ap.add_argument("--dropout", type=float, default=0.7)
    ap.add_argument("--s", type=float, default=45.0)
    ap.add_argument("--m", type=float, default=0.1)
    ap.add_argument("--no-head", action="store_true")
    ap.add_argument("--trust", action="store_true")
    a = ap.parse_args(argv)
    if not 0 <= a.dropout < 1:
        ap.error("--dropout must be in [0, 1)")
    if a.input < 0:
        ap.error("--input must be positive")
    try:
        convert(a.checkpoint, a.out, a)
    except (ConversionError, OSError, RuntimeError) as e:
        print(f"convert_torch: error: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001  a crafted checkpoint: one line, no traceback
        print(f"convert_torch: error: {a.checkpoint}: not a checkpoint this converter reads "
              f"({type(e).__name__}: {e})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
