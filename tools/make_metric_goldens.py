#!/usr/bin/python3
"""Write reference values for tests/test_metrics.cpp into tests/data/metrics/.

numpy only (sklearn is not installed, and an independent implementation is the point): every
metric here is computed the slow, obvious way, differently from train/metrics.cpp's sweeps:

  landmarks       per-point distances with numpy broadcasting; the AUC of the CED as the area of
                  the step function, summed interval by interval between its breakpoints
  top-1           numpy argmax (first maximum on ties)
  ROC             one threshold at a time: +inf, then every distinct score, descending;
                  FAR = mean(different >= T), TAR = mean(same >= T)
  ROC AUC         Mann-Whitney: every (same, different) pair compared, ties counting 1/2
  TAR at FAR      brute force over the ROC's thresholds: FAR <= target, largest TAR, then smallest FAR
  k-fold accuracy the accuracy of every candidate threshold (-inf, midpoints of distinct training
                  scores, +inf) on the training folds as one boolean matrix, first argmax

Run with Debian's interpreter:  /usr/bin/python3 tools/make_metric_goldens.py
The generator is seeded, so a rerun writes identical files.
"""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "data", "metrics")
from safetensors_io import write_safetensors  # noqa: E402


# ---------------------------------------------------------------- landmarks

def landmark_case(rng, n, p, noise_scales, threshold=0.10):
    gt = rng.uniform(20, 100, size=(n, p, 2))
    scale = np.asarray(noise_scales)[rng.integers(0, len(noise_scales), size=n)]
    pred = gt + rng.normal(size=(n, p, 2)) * scale[:, None, None]
    pred[0] = gt[0]  # one perfect image: NME 0 sits at the CED's origin
    iod = np.linalg.norm(gt[:, 0] - gt[:, 1], axis=1)  # [N]
    dist = np.linalg.norm(pred - gt, axis=2)  # [N, P]
    e = dist / iod[:, None]
    nme = e.mean(axis=1)
    # CED step function: level k/N on [s_k, s_{k+1}) for the sorted errors s; integrate on [0, t].
    s = np.sort(nme)
    xs = np.concatenate([[0.0], s[s < threshold], [threshold]])
    area = 0.0
    for a, b in zip(xs[:-1], xs[1:]):
        area += np.mean(nme <= a) * (b - a)
    return [
        ("pred", pred), ("gt", gt), ("nme", nme), ("mean_nme", np.array([nme.mean()])),
        ("failure_rate", np.array([np.mean(nme > threshold)])), ("auc", np.array([area / threshold])),
        ("point_nme", e.mean(axis=0)), ("point_error", dist.mean(axis=0)),
        ("threshold", np.array([threshold])),
    ]


# ---------------------------------------------------------------- classification

def top1_case(rng, n, c):
    logits = np.round(rng.normal(size=(n, c)), 1)  # rounded: ties in the row maxima happen
    logits[0, :] = 0.5  # a row of equal logits: the first one wins
    labels = rng.integers(0, c, size=n)
    labels[0] = 0
    return [("logits", logits), ("labels", labels), ("accuracy", np.array([np.mean(logits.argmax(1) == labels)]))]


# ---------------------------------------------------------------- verification

def roc(scores, same):
    pos, neg = scores[same == 1], scores[same == 0]
    ts = np.concatenate([[np.inf], np.unique(scores)[::-1]])
    far = np.array([np.sum(neg >= t) / len(neg) for t in ts])
    tar = np.array([np.sum(pos >= t) / len(pos) for t in ts])
    return far, tar, ts


def mann_whitney_auc(scores, same):
    pos, neg = scores[same == 1], scores[same == 0]
    gt = np.sum(pos[:, None] > neg[None, :])
    eq = np.sum(pos[:, None] == neg[None, :])
    return (gt + 0.5 * eq) / (len(pos) * len(neg))


def tar_at_far(scores, same, target):
    far, tar, ts = roc(scores, same)
    ok = np.nonzero(far <= target)[0]
    best = ok[np.lexsort((far[ok], -tar[ok]))[0]]  # largest TAR, then smallest FAR
    n_neg = np.sum(same == 0)
    return [tar[best], far[best], ts[best], float(n_neg * target >= 1)]


def kfold(scores, same, folds, k):
    acc, thr = [], []
    for f in range(k):
        tr, te = folds != f, folds == f
        u = np.unique(scores[tr])
        cands = np.concatenate([[-np.inf], (u[:-1] + u[1:]) / 2, [np.inf]])
        correct = (scores[tr][None, :] >= cands[:, None]) == (same[tr][None, :] == 1)
        t = cands[np.argmax(correct.sum(axis=1))]
        acc.append(np.mean((scores[te] >= t) == (same[te] == 1)))
        thr.append(t)
    acc, thr = np.array(acc), np.array(thr)
    return acc, thr, acc.mean(), acc.std()


TARGETS = [1e-1, 1e-2, 1e-3, 0.0]


def verification_case(rng, scores, same, k=10):
    same = same.astype(np.int64)
    far, tar, ts = roc(scores, same)
    folds = rng.permutation(len(scores)) % k
    acc, thr, mean, std = kfold(scores, same, folds, k)
    return [
        ("scores", scores), ("same", same),
        ("roc", np.stack([far, tar, ts], axis=1)),
        ("auc", np.array([mann_whitney_auc(scores, same)])),
        ("targets", np.array(TARGETS)),
        ("tar_at_far", np.array([tar_at_far(scores, same, t) for t in TARGETS])),
        ("folds", folds.astype(np.int64)), ("fold_accuracy", acc), ("fold_threshold", thr),
        ("kfold_mean_std", np.array([mean, std])),
    ]


def two_gaussians(rng, n_same, n_diff, mu_same=0.5, mu_diff=0.1, sd=0.2):
    scores = np.concatenate([rng.normal(mu_same, sd, n_same), rng.normal(mu_diff, sd, n_diff)])
    same = np.concatenate([np.ones(n_same), np.zeros(n_diff)])
    perm = rng.permutation(len(scores))
    return scores[perm], same[perm]


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240611)
    files = {
        "landmarks": landmark_case(rng, 40, 5, [0.5, 2.0, 5.0, 12.0]),
        "landmarks_one": landmark_case(rng, 1, 2, [3.0]),
        "top1": top1_case(rng, 60, 7),
    }
    s, y = two_gaussians(rng, 150, 200)
    files["ver_random"] = verification_case(rng, s, y)
    s, y = two_gaussians(rng, 150, 150)
    files["ver_ties"] = verification_case(rng, np.round(s * 20) / 20, y)  # steps of 0.05: many ties
    s, y = two_gaussians(rng, 200, 30)
    files["ver_fewneg"] = verification_case(rng, s, y)  # 30 different: FAR 1e-2 is below resolution
    s, y = two_gaussians(rng, 120, 1010, sd=0.15)
    files["ver_large"] = verification_case(rng, s, y)  # 1010 different: FAR 1e-3 resolved
    s, y = two_gaussians(rng, 60, 60, mu_same=2.0, mu_diff=0.0, sd=0.1)
    files["ver_separable"] = verification_case(rng, s, y)  # AUC 1, accuracy 1
    for name, tensors in files.items():
        write_safetensors(os.path.join(OUT, name + ".safetensors"), tensors, {"writer": "tools/make_metric_goldens.py"})
        print(name, os.path.getsize(os.path.join(OUT, name + ".safetensors")), "bytes")


if __name__ == "__main__":
    main()
