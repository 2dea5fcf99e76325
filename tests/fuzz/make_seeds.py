#!/usr/bin/env python3
"""tests/fuzz/make_seeds.py BUILD/faceforge — (re)writes the seed corpora of tests/fuzz/corpus/
from real files: checkpoints and model files of tiny training runs of each network (faceforge
synth, train-landmarks, train-embed, train-detector), the synthetic set's photos and list files, a
PNG figure the command wrote, and the configuration strings of the named networks. Plain Python,
no packages. The corpora are committed; run this again only when the file formats change.

tests/fuzz/make_seeds.py --real CELEBA_DIR OUT_DIR — writes seeds from a CelebA-format folder
(a few of its smallest photos and the first rows of its four list files) into OUT_DIR/TARGET/.
CelebA may not be redistributed, so these are never committed: scripts/fuzz.sh adds them to its
working corpus when ../shared/data/celeba_subset is there.
The hand-made hostile inputs of tests/fuzz/regressions/ come from make_regressions.py."""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def run(cli, *args):
    r = subprocess.run([cli, *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"make_seeds: faceforge {' '.join(args)} failed:\n{r.stdout}{r.stderr}")


OUT = [CORPUS]


def put(target, name, data):
    os.makedirs(os.path.join(OUT[0], target), exist_ok=True)
    with open(os.path.join(OUT[0], target, name), "wb") as f:
        f.write(data)


def head(path, lines):
    with open(path, "rb") as f:
        return b"".join(f.readline() for _ in range(lines))


LISTS = ["identity_CelebA.txt", "list_eval_partition.txt", "list_bbox_celeba.txt", "list_landmarks_celeba.txt"]


def list_seeds(src, tag):
    """Reader i of targets.h takes byte i first; 4 joins the four files by NUL bytes."""
    parts = []
    for i, name in enumerate(LISTS):
        rows = head(os.path.join(src, name), 8)
        if name.startswith("list_bbox") or name.startswith("list_landmarks"):
            # line 1 counts the rows: say how many were kept, so the reader gets past it
            lines = rows.split(b"\n")
            kept = [ln for ln in lines[2:] if ln.strip()]
            rows = b"\n".join([str(len(kept)).encode()] + lines[1:])
        put("celeba", f"{tag}_{name}", bytes([i]) + rows)
    # The joined seed runs over the target's folder of 000001.jpg .. 000003.jpg: the first three
    # identity rows, renamed to those, and the other files' rows of the same images.
    ids = [ln.split() for ln in head(os.path.join(src, LISTS[0]), 3).decode().splitlines()]
    rename = {f[0]: f"{k + 1:06d}.jpg" for k, f in enumerate(ids)}

    def rows_of(name, skip):
        with open(os.path.join(src, name)) as f:
            lines = f.read().splitlines()
        kept = [" ".join([rename[ln.split()[0]]] + ln.split()[1:]) for ln in lines[skip:]
                if ln.split() and ln.split()[0] in rename]
        return lines[:skip], kept
    for name in LISTS:
        top, kept = rows_of(name, 2 if name.startswith(("list_bbox", "list_landmarks")) else 0)
        if top:
            top[0] = str(len(kept))
        parts.append(("\n".join(top + kept) + "\n").encode())
    put("celeba", f"{tag}_joined", bytes([4]) + b"\0".join(parts))


def real_seeds(src, out):
    OUT[0] = out
    real = os.path.join(src, "img_celeba")
    small = sorted(os.listdir(real), key=lambda n: os.path.getsize(os.path.join(real, n)))[:3]
    for i, name in enumerate(small):
        # the first byte of an image input picks the channels and the DCT scale (targets.h)
        put("image", f"celeba_{name}", bytes([3 + 4 * i]) + open(os.path.join(real, name), "rb").read())
    list_seeds(src, "celeba")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--real":
        real_seeds(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    cli = os.path.abspath(sys.argv[1])
    for t in ("safetensors", "model", "image", "celeba", "config"):
        shutil.rmtree(os.path.join(CORPUS, t), ignore_errors=True)
    tmp = tempfile.mkdtemp(prefix="ff_seeds_")
    try:
        data = os.path.join(tmp, "synth")
        run(cli, "synth", "--out", data, "--identities", "4", "--per-identity", "4", "--size", "64", "--seed", "3")
        common = ["--data", data, "--epochs", "1", "--batch", "2", "--workers", "0"]
        runs = {
            "hourglass": ["train-landmarks", *common, "--max-images", "2", "--max-val-images", "1", "--cache-mb", "0",
                          "--config", "stem=8,mid=8,channels=8,stacks=1,landmarks=5,input=32"],
            "embedding": ["train-embed", *common, "--holdout-identities", "0", "--cache-mb", "0",
                          "--config", "width=0.0625,blocks=1:1:1:1,embedding=8,dropout=0,input=32"],
            "detector": ["train-detector", *common, "--max-images", "2", "--max-val-images", "1",
                         "--config", "widths=8:8:8:8:8,extra=0:0:1:0:1,fpn=8,input=64"],
        }
        for kind, args in runs.items():
            out = os.path.join(tmp, kind)
            run(cli, *args, "--out", out)
            for f in ("best.safetensors", "last.safetensors"):
                if os.path.exists(os.path.join(out, f)):
                    put("model", f"{kind}_{f}", open(os.path.join(out, f), "rb").read())
                    break
            put("safetensors", f"{kind}_last.state.safetensors",
                open(os.path.join(out, "last.state.safetensors"), "rb").read())
        # Photos: the first byte of an image input picks the channels and the DCT scale (targets.h).
        imgs = sorted(os.listdir(os.path.join(data, "img_celeba")))[:3]
        for i, name in enumerate(imgs):
            put("image", f"synth_{name}", bytes([3 + 4 * i]) + open(os.path.join(data, "img_celeba", name), "rb").read())
        # A PNG the command itself wrote (a report figure of the landmark run).
        report = os.path.join(tmp, "hourglass", "report")
        pngs = sorted(f for f in os.listdir(report) if f.endswith(".png"))
        if pngs:
            small = min(pngs, key=lambda f: os.path.getsize(os.path.join(report, f)))
            if os.path.getsize(os.path.join(report, small)) < 200000:
                put("image", "report.png", bytes([0]) + open(os.path.join(report, small), "rb").read())
        list_seeds(data, "synth")
        # Configuration strings: the named networks' and the tiny ones above (byte 0 picks the kind).
        configs = {
            0: ["stem=64,mid=128,channels=256,stacks=2,landmarks=5,input=256",
                "stem=16,mid=32,channels=64,stacks=2,landmarks=5,input=128",
                "stem=8,mid=8,channels=8,stacks=1,landmarks=5,input=32"],
            1: ["width=1,blocks=3:4:6:3,embedding=512,dropout=0,input=112",
                "width=0.0625,blocks=1:1:1:1,embedding=8,dropout=0,input=32"],
            2: ["width=1,blocks=3:4:6:3,classes=1000,input=224", "width=0.25,blocks=2:2:2:2,classes=10,input=64"],
            3: ["widths=16:24:32:64:96,extra=0:0:1:1:1,fpn=32,input=160",
                "widths=8:8:8:8:8,extra=0:0:1:0:1,fpn=8,input=64"],
        }
        n = 0
        for kind, strings in configs.items():
            for s in strings:
                put("config", f"config_{n:02d}", bytes([kind]) + s.encode())
                n += 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for t in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, t))
        size = sum(os.path.getsize(os.path.join(CORPUS, t, f)) for f in files)
        print(f"tests/fuzz/corpus/{t}: {len(files)} files, {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
