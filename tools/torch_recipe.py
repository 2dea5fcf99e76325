#!/usr/bin/python3
"""The faceforge training recipes written in PyTorch (Debian python3-torch, CPU), for the
comparison in docs/results.md: same data, same networks (tools/torch_models.py), same crops,
augmentation, losses, optimizers and metrics as `faceforge train-landmarks` / `train-embed`.

    /usr/bin/python3 tools/torch_recipe.py landmarks --data DIR [--epochs 8] [--batch 16] [--lr 1e-3]
    /usr/bin/python3 tools/torch_recipe.py embed --data DIR [--epochs 10] [--batch 32] [--lr 0.1] [--holdout N]
        [--head arcface|softmax] [--config small|cpu]
(--config cpu: ResNet50's 3-4-6-3 at width 0.25, 112x112, 512-d embedding with its batch norm,
dropout 0.7, as `train-embed --config cpu`; small: width 0.25, one block per stage, 64x64, 128-d.)

Prints one line per epoch (loss, validation metric, images/s) and a final summary line; both
runs use --threads (default: all cores) and report wall time. Data: CelebA-format folders
(img_celeba/, identity_CelebA.txt, list_eval_partition.txt, list_bbox_celeba.txt,
list_landmarks_celeba.txt), e.g. ../shared/data/celeba_subset or a `faceforge synth` folder.
"""
import argparse
import math
import os
import sys
import time

import cv2
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models as tm  # noqa: E402

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
TEMPLATE112 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                        [41.5493, 92.3655], [70.7299, 92.2041]], np.float64)


def read_rows(path, header_lines):
    with open(path) as f:
        lines = f.read().split("\n")[header_lines:]
    return [l.split() for l in lines if l.strip()]


def load(data):
    ids = {r[0]: int(r[1]) for r in read_rows(os.path.join(data, "identity_CelebA.txt"), 0)}
    part = {r[0]: int(r[1]) for r in read_rows(os.path.join(data, "list_eval_partition.txt"), 0)}
    box = {r[0]: np.array(list(map(float, r[1:5]))) for r in read_rows(os.path.join(data, "list_bbox_celeba.txt"), 2)}
    lmk = {r[0]: np.array(list(map(float, r[1:11]))).reshape(5, 2)
           for r in read_rows(os.path.join(data, "list_landmarks_celeba.txt"), 2)}
    names = sorted(ids)
    return [(n, ids[n], part[n], box.get(n), lmk.get(n)) for n in names]


def similarity(src, dst):
    """Umeyama least-squares similarity (rotation, scale, translation) src -> dst, 2x3."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    e = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        e[1, 1] = -1
    r = u @ e @ vt
    scale = (sig * np.diag(e)).sum() / s.var(0).sum()
    t = mu_d - scale * r @ mu_s
    return np.hstack([scale * r, t[:, None]])


def random_aug(rng, size, flip_p=0.5, rot=30, scale=(0.75, 1.25), shift=0.1):
    """An affine about the output centre: flip, rotation (deg), scale, shift (fraction of size)."""
    c = (size - 1) / 2
    flip = rng.random() < flip_p
    a = math.radians(rng.uniform(-rot, rot))
    s = rng.uniform(*scale)
    tx, ty = rng.uniform(-shift, shift) * size, rng.uniform(-shift, shift) * size
    m = np.array([[s * math.cos(a), -s * math.sin(a)], [s * math.sin(a), s * math.cos(a)]])
    if flip:
        m = m @ np.array([[-1, 0], [0, 1]])
    t = np.array([c + tx, c + ty]) - m @ np.array([c, c])
    return np.hstack([m, t[:, None]]), flip


def compose(a, b):
    """a after b, both 2x3."""
    A = np.vstack([a, [0, 0, 1]])
    B = np.vstack([b, [0, 0, 1]])
    return (A @ B)[:2]


def jitter(img, rng, amount=0.2):
    """faceforge's colour jitter (data/augment.cpp): brightness, contrast, saturation factors
    uniform in [1 - amount, 1 + amount], applied in that order on [0, 1] RGB, clamped."""
    b, c, s = (rng.uniform(1 - amount, 1 + amount) for _ in range(3))
    x = np.clip(img * b, 0, 1)
    grey = lambda v: 0.2989 * v[..., 0] + 0.587 * v[..., 1] + 0.114 * v[..., 2]  # noqa: E731
    x = np.clip(c * x + (1 - c) * grey(x).mean(), 0, 1)
    return np.clip(s * x + (1 - s) * grey(x)[..., None], 0, 1)


def warp(img, m, size):
    """One bilinear warp, black outside the photo (as faceforge's warp_affine), RGB in [0, 1]."""
    out = cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out[:, :, ::-1].astype(np.float32) / 255.0  # BGR -> RGB


def to_tensor(x):
    return torch.from_numpy(np.ascontiguousarray(((x - MEAN) / STD).transpose(2, 0, 1)))


def crop_matrix(box, size, enlarge=1.35):
    """face/landmarks.h face_crop_matrix: pixel centres at integers."""
    x, y, w, h = box
    side = max(w, h) * enlarge
    cx, cy = x + w / 2 - 0.5, y + h / 2 - 0.5
    s = size / side
    return np.array([[s, 0, size / 2 - 0.5 - s * cx], [0, s, size / 2 - 0.5 - s * cy]])


def render(points, hm, sigma):
    ys, xs = np.mgrid[0:hm, 0:hm].astype(np.float32)
    return np.stack([np.exp(-((xs - px) ** 2 + (ys - py) ** 2) / (2 * sigma ** 2)) for px, py in points])


def decode(h):
    """argmax + quarter-pixel step toward the larger neighbour; h [K, H, W] -> [K, 2]."""
    k, H, W = h.shape
    out = np.zeros((k, 2))
    for i in range(k):
        y, x = np.unravel_index(np.argmax(h[i]), (H, W))
        px, py = float(x), float(y)
        if 0 < x < W - 1:
            px += 0.25 * np.sign(h[i, y, x + 1] - h[i, y, x - 1])
        if 0 < y < H - 1:
            py += 0.25 * np.sign(h[i, y + 1, x] - h[i, y - 1, x])
        out[i] = (px, py)
    return out


def image_cache(data):
    """name -> the decoded BGR photo of DATA/img_celeba/name, each file read once."""
    cache = {}

    def img(n):
        if n not in cache:
            cache[n] = cv2.imread(os.path.join(data, "img_celeba", n), cv2.IMREAD_COLOR)
        return cache[n]
    return img


def landmarks(a):
    items = [it for it in load(a.data) if it[3] is not None and it[4] is not None]
    train = [it for it in items if it[2] == 0][: a.max_images or None]
    val = [it for it in items if it[2] == 1]
    size, hm = a.input, a.input // 4
    sigma = 2.0 * hm / 64
    model = tm.StackedHourglass(a.stem, a.mid, a.channels, 2, 5)
    with torch.no_grad():  # faceforge's head_init_scale: the heatmap convs start 100x smaller
        for name, p in model.named_parameters():
            if name.startswith("out_conv"):
                p.mul_(0.01)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=3)
    rng = np.random.default_rng(a.seed)
    img = image_cache(a.data)
    swap = [1, 0, 2, 4, 3]
    t0 = time.time()
    for ep in range(a.epochs):
        model.train()
        order = rng.permutation(len(train))
        losses, seen, te = [], 0, time.time()
        for b in range(len(order) // a.batch):
            xs, ts = [], []
            for j in order[b * a.batch:(b + 1) * a.batch]:
                n, _, _, box, pts = train[j]
                aug, flip = random_aug(rng, size)
                m = compose(aug, crop_matrix(box, size))
                warped = jitter(warp(img(n), m, size), rng)
                p = (m[:, :2] @ pts.T).T + m[:, 2]
                if flip:
                    p = p[swap]
                xs.append(to_tensor(warped))
                ts.append(torch.from_numpy(render((p + 0.5) / 4 - 0.5, hm, sigma)))
            x, t = torch.stack(xs), torch.stack(ts).float()
            w = 1 + a.fg_weight * t  # faceforge's heatmap_loss: mean(w (o - t)^2) over every stack
            loss = sum((w * (o - t) ** 2).mean() for o in model(x))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            seen += len(xs)
        ips = seen / (time.time() - te)
        model.eval()
        nmes = []
        with torch.no_grad():
            for i in range(0, len(val), 32):
                chunk = val[i:i + 32]
                ms = [crop_matrix(it[3], size) for it in chunk]
                x = torch.stack([to_tensor(warp(img(it[0]), m, size)) for it, m in zip(chunk, ms)])
                h = model(x)[-1].numpy()
                for it, m, hh in zip(chunk, ms, h):
                    p = (decode(hh) + 0.5) * 4 - 0.5
                    mi = np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2]
                    p = (mi[:, :2] @ p.T).T + mi[:, 2]
                    iod = np.linalg.norm(it[4][0] - it[4][1])
                    nmes.append(np.linalg.norm(p - it[4], axis=1).mean() / iod)
        nme = float(np.mean(nmes))
        sched.step(nme)
        print(f"epoch {ep + 1}: loss {np.mean(losses):.5f}  val NME {nme:.4f}  {ips:.1f} img/s  lr {opt.param_groups[0]['lr']:.2e}", flush=True)
    print(f"torch landmarks: {len(train)} train / {len(val)} val images, final val NME {nme:.4f}, wall {time.time() - t0:.0f} s")


def best_threshold(scores, same):
    """train/metrics.h's rule: candidates -inf, the midpoints between distinct scores, +inf; the one
    with the highest accuracy (same >= T, different < T), the lowest on ties."""
    order = np.argsort(scores, kind="stable")
    s, l = scores[order], same[order]
    uniq, first = np.unique(s, return_index=True)
    last = np.append(first[1:] - 1, len(s) - 1)  # last sorted index of each distinct value
    same_le, diff_le, n_same = np.cumsum(l), np.cumsum(1 - l), l.sum()
    acc = np.concatenate([[n_same], diff_le[last[:-1]] + (n_same - same_le[last[:-1]]), [len(s) - n_same]])
    cands = np.concatenate([[-np.inf], (uniq[:-1] + uniq[1:]) / 2, [np.inf]])
    return cands[int(np.argmax(acc))]


def embed(a):
    items = [it for it in load(a.data) if it[4] is not None]
    idents = sorted({it[1] for it in items})
    rng = np.random.default_rng(a.seed)
    n_held = a.holdout if a.holdout is not None else int(round(0.15 * len(idents)))  # train-embed's default
    held = set(rng.choice(idents, size=n_held, replace=False).tolist()) if n_held else set()
    known = [i for i in idents if i not in held]
    cls = {ident: k for k, ident in enumerate(known)}
    train = [it for it in items if it[1] in cls and it[2] == 0][: a.max_images or None]
    val = [it for it in items if it[1] in cls and it[2] == 1]
    size = a.input
    tmpl = TEMPLATE112 * size / 112.0
    model = tm.EmbeddingNet(a.width, (1, 1, 1, 1) if a.blocks == "1111" else (3, 4, 6, 3), a.embedding, a.dropout,
                            bn=bool(a.bn))
    weight = torch.nn.Parameter(torch.empty(len(known), a.embedding))
    if a.head == "arcface":
        torch.nn.init.xavier_uniform_(weight)
        head_params = [weight]
    else:  # softmax: torch.nn.Linear(embedding, classes), as layers/heads.h SoftmaxHead
        lin = torch.nn.Linear(a.embedding, len(known))
        weight = lin.weight
        head_params = [lin.weight, lin.bias]

    def head_loss(emb, y):
        return tm.arcface_loss(emb, weight, y, a.s, a.m) if a.head == "arcface" else F.cross_entropy(lin(emb), y)

    def head_scores(emb):  # closed-set prediction: cosine to the class weights, or the logits
        return F.linear(F.normalize(emb), F.normalize(weight)) if a.head == "arcface" else lin(emb)
    params = list(model.parameters()) + head_params
    decay = [p for p in params if p.dim() >= 2]  # as train-embed: no decay on batch norm or biases
    rest = [p for p in params if p.dim() < 2]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4}, {"params": rest, "weight_decay": 0.0}],
                          lr=a.lr, momentum=0.9)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=a.epochs)
    img = image_cache(a.data)

    def aligned(it, aug=None):
        m = similarity(it[4], tmpl)
        if aug is not None:
            m = compose(aug, m)
        x = warp(img(it[0]), m, size)
        return to_tensor(jitter(x, rng) if aug is not None else x)
    t0 = time.time()
    for ep in range(a.epochs):
        model.train()
        order = rng.permutation(len(train))
        losses, seen, te = [], 0, time.time()
        for b in range(len(order) // a.batch):
            chunk = [train[j] for j in order[b * a.batch:(b + 1) * a.batch]]
            x = torch.stack([aligned(it, random_aug(rng, size, rot=10, scale=(0.9, 1.1), shift=0.05)[0]) for it in chunk])
            y = torch.tensor([cls[it[1]] for it in chunk])
            loss = head_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            seen += len(chunk)
        sched.step()
        ips = seen / (time.time() - te)
        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(val), 64):
                chunk = val[i:i + 64]
                x = torch.stack([aligned(it) for it in chunk])
                e = model(x) + model(torch.flip(x, dims=[3]))
                pred = head_scores(e / 2).argmax(1)
                correct += sum(int(p) == cls[it[1]] for p, it in zip(pred, chunk))
        acc = correct / max(1, len(val))
        print(f"epoch {ep + 1}: loss {np.mean(losses):.4f}  val acc (flip TTA) {acc:.4f}  {ips:.1f} img/s", flush=True)
    # Open set, as eval-embed: the held-out identities' flip-TTA unit embeddings, all same-identity
    # pairs and as many random different-identity pairs, ROC AUC of the cosine.
    auc = float("nan")
    held_items = [it for it in items if it[1] in held]
    if len(held) >= 2:  # different-identity pairs need two held-out identities
        with torch.no_grad():
            embs = []
            for i in range(0, len(held_items), 64):
                x = torch.stack([aligned(it) for it in held_items[i:i + 64]])
                embs.append(F.normalize(F.normalize(model(x)) + F.normalize(model(torch.flip(x, dims=[3])))))
            e = torch.cat(embs).numpy()
        ident = np.array([it[1] for it in held_items])
        same = [(i, j) for i in range(len(ident)) for j in range(i + 1, len(ident)) if ident[i] == ident[j]]
        diff = []
        while len(diff) < len(same):
            i, j = rng.integers(0, len(ident), 2)
            if ident[i] != ident[j]:
                diff.append((i, j))
        ss = np.array([e[i] @ e[j] for i, j in same])
        ds = np.array([e[i] @ e[j] for i, j in diff])
        # AUC = P(same score > different score), ties counted half
        allv = np.concatenate([ss, ds])
        ranks = allv.argsort().argsort() + 1.0
        auc = (ranks[:len(ss)].sum() - len(ss) * (len(ss) + 1) / 2) / (len(ss) * len(ds))
        # TAR at FAR 1e-2 (train/metrics.h tar_at_far): at most floor(1% of the different pairs) may
        # be accepted, so accept the scores above the next different-pair score down
        k = int(math.floor(0.01 * len(ds)))
        tar = float((ss > np.sort(ds)[::-1][k]).mean())
        # 10-fold accuracy (LFW style): per fold the threshold that is best on the other nine
        lab = np.concatenate([np.ones(len(ss)), np.zeros(len(ds))])
        fold = np.empty(len(allv), int)
        for kind in (1, 0):
            idx = np.flatnonzero(lab == kind)
            rng.shuffle(idx)
            fold[idx] = (np.arange(len(idx)) + (0 if kind == 1 else len(ss))) % 10
        accs = []
        for f in range(10):
            tr, te = fold != f, fold == f
            best = best_threshold(allv[tr], lab[tr])
            accs.append(((allv[te] >= best) == (lab[te] == 1)).mean())
        kfold = f", TAR at FAR 1e-2 {tar:.4f}, 10-fold accuracy {np.mean(accs):.4f} +- {np.std(accs):.4f}"
    else:
        kfold = ""
    print(f"torch embed: {a.head} head, {len(known)} identities, {len(train)} train / {len(val)} val images, "
          f"closed-set accuracy {acc:.4f}, held-out {len(held)} identities ROC AUC {auc:.4f}{kfold}, "
          f"wall {time.time() - t0:.0f} s", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("task", choices=["landmarks", "embed"])
    ap.add_argument("--data", required=True)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--max-images", type=int, default=0)
    # landmark network (the small configuration by default)
    ap.add_argument("--input", type=int, default=None)
    ap.add_argument("--stem", type=int, default=16)
    ap.add_argument("--mid", type=int, default=32)
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--fg-weight", type=float, default=50.0, help="heatmap loss weight 1 + F * target (0: plain MSE)")
    # embedding network (the small configuration by default)
    ap.add_argument("--width", type=float, default=0.25)
    ap.add_argument("--blocks", default="1111")
    ap.add_argument("--embedding", type=int, default=128)
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--holdout", type=int, default=None, help="held-out identities (default 15%%, as train-embed)")
    ap.add_argument("--bn", type=int, default=1, help="BatchNorm1d on the embedding (the small configuration)")
    ap.add_argument("--s", type=float, default=45.0)
    ap.add_argument("--m", type=float, default=0.1)
    ap.add_argument("--head", choices=["arcface", "softmax"], default="arcface")
    ap.add_argument("--config", choices=["small", "cpu"], default="small",
                    help="cpu: ResNet50 3-4-6-3 width 0.25, 112x112, 512-d, bn, dropout 0.7 (train-embed --config cpu)")
    a = ap.parse_args()
    if a.task == "embed" and a.config == "cpu":
        a.blocks, a.embedding, a.dropout, a.bn, a.width = "3463", 512, 0.7, 1, 0.25
        a.input = a.input or 112
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    if a.task == "landmarks":
        a.input = a.input or 128
        a.lr = a.lr or 1e-3
        landmarks(a)
    else:
        a.input = a.input or 64
        a.lr = a.lr or 0.1
        embed(a)


if __name__ == "__main__":
    main()
