#!/usr/bin/python3
"""Writes docs/notebooks/pipeline.ipynb (unexecuted) from the cells below, so the notebook's source
stays reviewable as plain Python. The committed copy holds the outputs of a run on a full
`faceforge demo` (the pictures a reader sees without running it); CI executes it again on a
`demo --quick` output (scripts/test.sh):

    /usr/bin/python3 tools/make_notebook.py            # rewrite docs/notebooks/pipeline.ipynb
    FF_DEMO_OUT=demo_out /usr/bin/python3 -m jupyter nbconvert --to notebook --execute \\
        docs/notebooks/pipeline.ipynb --output-dir /tmp
"""
import os
import sys

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
("md", """# The faceforge pipeline, stage by stage

This notebook steps through face verification the way the reference notebooks did — find the face,
predict five landmarks as heatmaps, warp the face upright, embed it, compare embeddings by cosine
similarity — but every stage runs on faceforge's own engine, through its Python module
(`import faceforge`, built by the project's CMake into `build/python/`).

It uses the output of `faceforge demo` (synthetic faces and three small networks trained on them in
about a minute: `faceforge demo --quick --out demo_out`); `FF_DEMO_OUT` names another folder."""),
("code", """import os, sys, glob
import numpy as np
import matplotlib
matplotlib.use("Agg")  # headless in CI; inline in Jupyter all the same
import matplotlib.pyplot as plt
%matplotlib inline

ROOT = os.path.abspath(os.environ.get("FF_ROOT", "../.."))
sys.path.insert(0, os.path.join(os.environ.get("FF_BUILD", os.path.join(ROOT, "build")), "python"))
import faceforge as ff

DEMO = os.path.abspath(os.environ.get("FF_DEMO_OUT", os.path.join(ROOT, "demo_out")))
assert os.path.isfile(os.path.join(DEMO, "faceforge_demo.txt")), f"run `faceforge demo --quick --out {DEMO}` first"
det = ff.Detector(os.path.join(DEMO, "detector", "best.safetensors"))
lmk = ff.LandmarkModel(os.path.join(DEMO, "landmarks", "best.safetensors"))
emb = ff.EmbeddingModel(os.path.join(DEMO, "embed", "best.safetensors"))
print(det.name); print(lmk.model); print(emb.model, "embedding dim", emb.dim)

# The data's own face boxes (CelebA's list_bbox_celeba.txt), for photos where the detector finds
# nothing (the --quick demo's detector trains for a few steps only).
with open(os.path.join(DEMO, "data", "list_bbox_celeba.txt")) as f:
    data_box = {r[0]: np.array(r[1:5], float) for r in (l.split() for l in f.read().splitlines()[2:]) if r}

def face_box(photo, path):
    found = det.detect(photo)
    if found:
        return found[0]["box"], "detector"
    return data_box[os.path.basename(path)], "the data's box (the detector found none)"
"""),
("md", """## 1. A photo, and the faces the detector finds

A photo is a numpy array, height x width x 3, `uint8` RGB. The detector (an anchor-free network:
a centre heatmap, box sizes and five points at stride 4) returns a list of faces, each a box
`[x, y, width, height]`, a score and five points."""),
("code", """files = sorted(glob.glob(os.path.join(DEMO, "data", "img_celeba", "*.jpg")))
photo = ff.load_image(files[0])
faces = det.detect(photo)
print(photo.shape, photo.dtype, f"{len(faces)} face(s)", faces[0] if faces else None)

fig, ax = plt.subplots(figsize=(4, 4))
ax.imshow(photo)
for f in faces:
    x, y, w, h = f["box"]
    ax.add_patch(plt.Rectangle((x, y), w, h, fill=False, color="lime", lw=2))
    ax.text(x, y - 2, f"{f['score']:.2f}", color="lime")
    ax.plot(f["landmarks"][:, 0], f["landmarks"][:, 1], "r.", ms=8)
ax.set_title("detector: boxes, scores, points"); ax.axis("off"); plt.show()"""),
("md", """## 2. Landmarks as heatmaps

The hourglass sees a square crop around the box (enlarged by the framing's margin) and predicts one
heatmap per landmark at a quarter of its input size; the landmark is decoded from the heatmap's
peak (soft-argmax around it) and mapped back to photo pixels."""),
("code", """box, source = face_box(photo, files[0])
print("face box", np.round(box, 1), "from", source)
crop = lmk.crop(photo, box)
heat = lmk.heatmaps(photo, box)
names = ["left eye", "right eye", "nose", "left mouth", "right mouth"]
fig, axes = plt.subplots(1, 6, figsize=(15, 2.8))
axes[0].imshow(crop["image"]); axes[0].set_title(f"crop {crop['image'].shape[0]}px")
for k in range(5):
    axes[k + 1].imshow(heat[k], cmap="magma"); axes[k + 1].set_title(names[k])
for a in axes: a.axis("off")
plt.show()
print("heatmaps", heat.shape, "input tensor", crop["input"])"""),
("code", """points = lmk.predict(photo, box)
print(np.round(points, 1))
fig, ax = plt.subplots(figsize=(4, 4))
ax.imshow(photo); ax.plot(points[:, 0], points[:, 1], "c+", ms=12, mew=2)
if faces and faces[0]["landmarks"] is not None:
    ax.plot(faces[0]["landmarks"][:, 0], faces[0]["landmarks"][:, 1], "r.", ms=6)
ax.set_title("hourglass (+) and detector (.) points"); ax.axis("off"); plt.show()"""),
("md", """## 3. Alignment

A similarity transform (rotation, uniform scale, translation) fitted by least squares takes the
five points onto insightface's template; the face is warped through it to the embedding network's
input size."""),
("code", """S = emb.input_size
M = ff.alignment_matrix(points, S)
aligned = ff.align(photo, points, S)
moved = (M[:, :2] @ points.T).T + M[:, 2]
tpl = ff.template(S)
fig, axes = plt.subplots(1, 2, figsize=(6, 3))
axes[0].imshow(photo); axes[0].set_title("photo")
axes[1].imshow(aligned); axes[1].plot(tpl[:, 0], tpl[:, 1], "go", mfc="none", ms=8, label="template")
axes[1].plot(moved[:, 0], moved[:, 1], "c+", ms=10, label="landmarks"); axes[1].legend(fontsize=7)
axes[1].set_title(f"aligned {S}x{S}")
for a in axes: a.axis("off")
plt.show()
print("photo -> aligned:\\n", np.round(M, 3))"""),
("md", """## 4. Embeddings and cosine similarity

The ResNet embeds each aligned face (with its mirror image: flip test-time augmentation) to a unit
vector; two faces are the same person when the cosine of their embeddings is above a threshold.
Here: the first twelve photos of the demo's set, with their identities from CelebA's
`identity_CelebA.txt`."""),
("code", """ids = dict(l.split() for l in open(os.path.join(DEMO, "data", "identity_CelebA.txt")))
chosen = files[:12]
imgs = [ff.load_image(f) for f in chosen]
pts = [lmk.predict(im, face_box(im, f)[0]) for im, f in zip(imgs, chosen)]
keep = list(range(len(imgs)))
E = emb.embed([imgs[i] for i in keep], [pts[i] for i in keep])
labels = [ids[os.path.basename(chosen[i])] for i in keep]
C = E @ E.T
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), gridspec_kw={"width_ratios": [1, 1.2]})
axes[0].imshow(np.concatenate([ff.align(imgs[i], pts[i], S) for i in keep[:6]], axis=1)); axes[0].axis("off")
axes[0].set_title("aligned faces")
im = axes[1].imshow(C, vmin=-1, vmax=1, cmap="coolwarm")
axes[1].set_xticks(range(len(keep))); axes[1].set_xticklabels(labels, rotation=90, fontsize=7)
axes[1].set_yticks(range(len(keep))); axes[1].set_yticklabels(labels, fontsize=7)
axes[1].set_title("cosine similarity (labels: identity)"); plt.colorbar(im, ax=axes[1]); plt.show()
same = np.array([[a == b for b in labels] for a in labels]) & ~np.eye(len(labels), dtype=bool)
diff = np.array([[a != b for b in labels] for a in labels])
print(f"mean cosine: same identity {C[same].mean() if same.any() else float('nan'):.3f}, different {C[diff].mean():.3f}")"""),
("md", """## 5. Verification: the whole pipeline on two photos

`ff.verify` runs every stage on two photos (given a detector, or boxes as here) and returns the cosine, the decision and each face's
box, landmarks and aligned crop, and the report figure the command `faceforge verify` draws."""),
("code", """boxes = [face_box(im, f)[0] for im, f in zip(imgs[:2], chosen[:2])]
r = ff.verify(imgs[0], imgs[1], landmarks=lmk, embedding=emb, box_a=boxes[0], box_b=boxes[1])
print(f"cosine {r['cosine']:.3f} -> {'same' if r['same'] else 'different'} (threshold {r['threshold']})")
plt.figure(figsize=(8, 4)); plt.imshow(r["figure"]); plt.axis("off"); plt.show()"""),
("md", """## 6. Under the pipeline: tensors and autograd

The networks are built of the engine's ops, which Python can call directly. A tensor made from a
numpy array shares its memory where the layout allows; `backward()` fills `.grad`. Here: the
gradient of the embedding's first coordinate with respect to the input pixels — which pixels
the network looks at."""),
("code", """net = emb.model
net.eval()
x = emb.input(photo, points)  # the aligned face as the network sees it: 1 x 3 x S x S, normalized
x.requires_grad = True
e = net(x)
ff.sum(ff.l2_normalize(e) * ff.tensor(np.eye(1, emb.dim, dtype=np.float32))).backward()
saliency = np.abs(x.grad.numpy()[0]).max(axis=0)
fig, axes = plt.subplots(1, 2, figsize=(6, 3))
axes[0].imshow(aligned); axes[1].imshow(saliency, cmap="inferno")
axes[0].set_title("aligned face"); axes[1].set_title("|d e[0] / d pixel|")
for a in axes: a.axis("off")
plt.show()
print(e, x.grad)"""),
]


def main():
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for kind, src in CELLS:
        nb.cells.append(new_markdown_cell(src) if kind == "md" else new_code_cell(src))
    out = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "notebooks",
                       "pipeline.ipynb")
    nbformat.validate(nb)
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        nbformat.write(nb, f)
    os.replace(tmp, out)
    print("wrote", out)


if __name__ == "__main__":
    sys.exit(main())
