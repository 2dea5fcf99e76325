"""faceforge for Python: the engine (tensors, ops, autograd), our checkpoints, the face pipeline's
stages and the training functions, bound from the C++ library (python/module.cpp).

    import faceforge as ff
    x = ff.tensor(np.random.rand(2, 3).astype(np.float32), requires_grad=True)
    y = ff.sum(ff.relu(x) * 2.0); y.backward(); x.grad.numpy()

    det = ff.Detector("demo_out/detector/best.safetensors")
    lmk = ff.LandmarkModel("demo_out/landmarks/best.safetensors")
    emb = ff.EmbeddingModel("demo_out/embed/best.safetensors")
    photo = ff.load_image("a.jpg")                       # H x W x 3 uint8
    face = det.detect(photo)[0]                          # box, score, landmarks
    points = lmk.predict(photo, face["box"])             # 5 x 2
    aligned = ff.align(photo, points, emb.input_size)    # S x S x 3 uint8
    e = emb.embed([photo], [points])                     # 1 x D

Build: the project's CMake builds it where pybind11 and Python's headers are (Debian
pybind11-dev, python3-dev) into build/python/; `PYTHONPATH=build/python /usr/bin/python3`.
docs/python.md has the tour; docs/notebooks/pipeline.ipynb walks the pipeline.
"""
import sys as _sys

from ._core import *  # noqa: F401,F403
from ._core import Error, Tensor, __doc__ as _core_doc  # noqa: F401


def print_progress(report):
    """The progress callback `progress=True` uses: one line per logged interval and epoch."""
    if report["epoch_end"]:
        print(f"epoch {report['epoch']}/{report['epochs']}  loss {report['loss']:.5f}  "
              f"metric {report['metric']:.5g}{'  (best)' if report['improved'] else ''}", flush=True)
    else:
        print(f"epoch {report['epoch']}/{report['epochs']}  step {report['steps_done']}/{report['steps_total']}  "
              f"loss {report['loss']:.5f}  lr {report['lr']:.3g}  {report['images_per_s']:.1f} img/s",
              file=_sys.stdout, flush=True)


def cosine(a, b):
    """Cosine similarity of two embeddings (or rows of two N x D arrays)."""
    import numpy as np
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"cosine: shapes differ: {a.shape} and {b.shape}")
    num = (a * b).sum(axis=-1)
    den = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return num / np.maximum(den, 1e-12)
