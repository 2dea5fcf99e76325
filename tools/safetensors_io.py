"""A minimal safetensors writer and reader for the reference-data scripts (numpy arrays in and out,
the format engine/safetensors.h reads: 8-byte little-endian header length, JSON header padded to 8
bytes, raw little-endian data); files are written to a temporary file and renamed."""
import json
import os
import struct

import numpy as np

DTYPES = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64", np.dtype(np.int64): "I64",
          np.dtype(np.int32): "I32", np.dtype(np.uint8): "U8"}


def write_safetensors(path, tensors, metadata):
    """tensors: [(name, numpy array)]; arrays of other dtypes are widened to int64 / float64."""
    header, blobs, pos = {}, [], 0
    for name, a in tensors:
        a = np.asarray(a, order="C")  # (ascontiguousarray would turn a 0-d array into 1-d)
        if a.dtype not in DTYPES:
            a = a.astype(np.int64 if a.dtype.kind in "biu" else np.float64)
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": DTYPES[a.dtype], "shape": list(a.shape), "data_offsets": [pos, pos + len(raw)]}
        blobs.append(raw)
        pos += len(raw)
    header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - (len(h) + 8) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path):
    """Returns ({name: numpy array}, metadata dict) of a file written by write_safetensors."""
    names = {v: k for k, v in DTYPES.items()}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, h in header.items():
        a, b = h["data_offsets"]
        dt = names[h["dtype"]].newbyteorder("<")
        out[name] = np.frombuffer(data[a:b], dtype=dt).reshape(h["shape"]).astype(dt.newbyteorder("="))
    return out, meta
