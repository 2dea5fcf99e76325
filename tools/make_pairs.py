#!/usr/bin/env python3
"""tools/make_pairs.py DIR --out PAIRS.txt — a verification pairs list from a CelebA-format folder
(identity_CelebA.txt, list_eval_partition.txt, img_celeba/), in the plain format data/pairs.h
reads: a "folds F" line, then "a.jpg b.jpg 1|0" lines (1: the same person), names relative to
DIR/img_celeba.

LFW's protocol, on identities and photos a model never saw: the pairs come from one partition
(default 2, CelebA's test partition; `faceforge train-embed` never trains on it). Its identities
are dealt into FOLDS folds (no identity in two folds), and each fold gets PER same-person pairs
(two photos of one of its identities) and PER different-person pairs (photos of two of its
identities), written fold after fold, same before different, as LFW's pairs.txt orders them (the
reader puts pair i of n in fold FOLDS * i / n). A pair never repeats. Deterministic for a --seed.

  python3 tools/make_pairs.py ~/celeba --out celeba_test_pairs.txt          # 10 folds of 300 + 300

A folder without a test partition (../shared/data/celeba_subset has only 0 and 1): --holdout-of
MODEL takes the identities a `faceforge train-embed` run held out (its model file's metadata
"train.holdout_identities"; the run never trained on any of their photos), photos of every
partition unless --partition is given.

  python3 tools/make_pairs.py ../shared/data/celeba_subset --holdout-of emb/best.safetensors \
      --per-fold 150 --out heldout_pairs.txt
  faceforge eval-verify --pairs celeba_test_pairs.txt --images ~/celeba/img_celeba --model ...

Plain Python (any python3, no packages). Exit status 1 with one line on a bad folder.
"""
import argparse
import json
import os
import struct
import random
import sys


def fail(msg):
    print(f"make_pairs: error: {msg}", file=sys.stderr)
    sys.exit(1)


def read_two_columns(path, what):
    rows = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                fields = line.split()
                if not fields:
                    continue
                if len(fields) != 2:
                    fail(f"{path}:{n}: expected 2 fields ({what}), got {len(fields)}")
                rows.append((fields[0], fields[1], n))
    except OSError as e:
        fail(f"{path}: cannot read ({e.strerror})")
    return rows


def holdout_identities(model):
    """The identity numbers a train-embed run held out, from its safetensors file's metadata."""
    try:
        with open(model, "rb") as f:
            head = f.read(8)
            if len(head) != 8:
                fail(f"{model}: not a safetensors file (shorter than 8 bytes)")
            n = struct.unpack("<Q", head)[0]
            if n > 100_000_000:
                fail(f"{model}: not a safetensors file (header length {n})")
            meta = json.loads(f.read(n)).get("__metadata__", {})
    except OSError as e:
        fail(f"{model}: cannot read ({e.strerror})")
    except ValueError as e:
        fail(f"{model}: its safetensors header is not JSON ({e})")
    text = meta.get("train.holdout_identities")
    if text is None:
        fail(f"{model}: no metadata 'train.holdout_identities' (not a model written by faceforge train-embed)")
    ids = [t for t in text.split(",") if t]
    if len(ids) < 2:
        fail(f"{model}: the run held out {len(ids)} identities; pairs need at least 2 "
             "(train with --holdout-identities N)")
    return set(ids)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir", help="CelebA-format folder")
    ap.add_argument("--out", required=True, help="pairs file to write")
    ap.add_argument("--partition", type=int, default=None, choices=[0, 1, 2],
                    help="0 train, 1 validation, 2 test [default: 2; with --holdout-of: every partition]")
    ap.add_argument("--holdout-of", metavar="MODEL",
                    help="only the identities this train-embed model file held out")
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--per-fold", type=int, default=300, help="same-person pairs per fold (as many different)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.folds < 1 or a.per_fold < 1:
        fail("--folds and --per-fold must be at least 1")
    keep = holdout_identities(a.holdout_of) if a.holdout_of else None
    if a.partition is None and keep is None:
        a.partition = 2
    ids = read_two_columns(os.path.join(a.dir, "identity_CelebA.txt"), "file identity")
    parts = {f: p for f, p, _ in read_two_columns(os.path.join(a.dir, "list_eval_partition.txt"), "file partition")}
    photos = {}
    for f, ident, n in ids:
        if os.path.isabs(f) or ".." in f.replace("\\", "/").split("/"):
            fail(f"{a.dir}/identity_CelebA.txt:{n}: image name {f!r} leaves the image folder")
        if keep is not None and ident not in keep:
            continue
        if a.partition is None or parts.get(f) == str(a.partition):
            photos.setdefault(ident, []).append(f)
    where = (f"partition {a.partition}" if a.partition is not None else "any partition") + \
        (f" of the {len(keep)} identities {a.holdout_of} held out" if keep is not None else "")
    if not photos:
        fail(f"{a.dir}: no image of {where}")
    rng = random.Random(a.seed)
    people = sorted(photos)
    rng.shuffle(people)
    folds = [people[k::a.folds] for k in range(a.folds)]
    lines, short = [], []
    for k, fold in enumerate(folds):
        twice = [p for p in fold if len(photos[p]) >= 2]
        same, diff, seen = [], [], set()
        # Draw until enough distinct pairs or clearly not possible (a bounded number of tries).
        for _ in range(50 * a.per_fold):
            if len(same) >= a.per_fold or not twice:
                break
            p = rng.choice(twice)
            x, y = sorted(rng.sample(photos[p], 2))
            if (x, y) not in seen:
                seen.add((x, y))
                same.append((x, y))
        for _ in range(50 * a.per_fold):
            if len(diff) >= a.per_fold or len(fold) < 2:
                break
            p, q = rng.sample(fold, 2)
            x, y = sorted((rng.choice(photos[p]), rng.choice(photos[q])))
            if (x, y) not in seen:
                seen.add((x, y))
                diff.append((x, y))
        if len(same) < a.per_fold or len(diff) < a.per_fold:
            short.append(f"fold {k + 1}: {len(same)} same, {len(diff)} different")
        lines += [f"{x} {y} 1" for x, y in same] + [f"{x} {y} 0" for x, y in diff]
    if short:
        fail(f"{where} of {a.dir}: {len(people)} identities, not enough for {a.folds} folds of "
             f"{a.per_fold} + {a.per_fold} pairs ({'; '.join(short[:3])}); lower --per-fold or --folds")
    header = [f"# tools/make_pairs.py {a.dir}" + (f" --partition {a.partition}" if a.partition is not None else "") +
              (f" --holdout-of {a.holdout_of}" if a.holdout_of else "") +
              f" --folds {a.folds} --per-fold {a.per_fold} --seed {a.seed}",
              f"# {a.folds} folds (no identity in two folds), each {a.per_fold} same-person then {a.per_fold} "
              f"different-person pairs; names relative to img_celeba/"]
    tmp = f"{a.out}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write("\n".join(header + [f"folds {a.folds}"] + lines) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, a.out)
    print(f"make_pairs: {len(lines)} pairs ({a.folds} folds of {a.per_fold} + {a.per_fold}) from "
          f"{len(people)} identities of {where} -> {a.out}")


if __name__ == "__main__":
    main()
