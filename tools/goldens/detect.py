"""The detector's training ops (C++ side: tests/cases_detect.cpp, same case names, shape sets and
edits): torch.sigmoid; CenterNet's penalty-reduced focal loss written in torch from
F.logsigmoid; the masked L1 loss written in torch. The losses run in float64 (ref64) on the float32
inputs: sums of up to 3080 terms, where PyTorch's own float32 rounding would set the tolerance."""
import math

import torch
import torch.nn.functional as F

from goldens.common import Case, uniform

SIGMOID_SHAPES = [(7,), (3, 5), (2, 3, 37, 29)]
LARGE_LOGITS = [0.0, 15.0, -15.0, 40.0, -40.0, 88.0, -88.0, 89.0, -89.0, 100.0, -100.0, 1e4, -1e4]


def sigmoid_inputs(gen, k):
    return [uniform(gen, SIGMOID_SHAPES[k], -6, 6)]


def sigmoid_large_inputs(gen, k):
    x = uniform(gen, (3, 9), -3, 3).flatten()
    for i, v in enumerate(LARGE_LOGITS):
        x[2 * i] = v
    return [x.reshape(3, 9)]


# ---------------------------------------------------------------- focal loss

HEAT_SHAPES = [(1, 1, 5, 7), (2, 1, 13, 11), (2, 1, 41, 37)]


def logits_heatmap(gen, k, every=9, tmax=0.95):
    """Logits uniform in [-4, 4), target uniform in [0, tmax) with every `every`-th element from
    index 3 exactly 1 (a face centre)."""
    s = HEAT_SHAPES[k]
    x = uniform(gen, s, -4, 4)
    t = uniform(gen, s, 0, tmax).flatten()
    if every > 0:
        t[3::every] = 1.0
    return [x, t.reshape(s)]


def focal(x, t, alpha=2.0, beta=4.0):
    """-(sum_pos (1-p)^alpha log p + sum_neg (1-t)^beta p^alpha log(1-p)) / max(1, npos)."""
    pos = t == 1
    p = torch.sigmoid(x)
    pos_term = (1 - p) ** alpha * F.logsigmoid(x)
    neg_term = (1 - t) ** beta * p ** alpha * F.logsigmoid(-x)
    zero = torch.zeros_like(x)
    total = torch.where(pos, pos_term, zero).sum() + torch.where(pos, zero, neg_term).sum()
    return -total / max(1, int(pos.sum()))


def no_positives(gen, k):
    return logits_heatmap(gen, k, every=0, tmax=0.99)


def zero_target(gen, k):
    x, t = logits_heatmap(gen, k, every=0)
    return [x, torch.zeros_like(t)]


def all_positive(gen, k):
    x, t = logits_heatmap(gen, 1, every=0)
    return [x, torch.ones_like(t)]


def large_logits(gen, k):
    """Each large logit but +-1e4 once on a negative and once on a positive."""
    x = uniform(gen, (1, 1, 6, 9), -3, 3).flatten()
    t = uniform(gen, (1, 1, 6, 9), 0, 0.9).flatten()
    for i, v in enumerate(LARGE_LOGITS[:-2]):
        x[2 * i] = v
        x[2 * i + 1] = v
        t[2 * i + 1] = 1.0
    return [x.reshape(1, 1, 6, 9), t.reshape(1, 1, 6, 9)]


# ---------------------------------------------------------------- masked L1 loss

BOX_SHAPES = [(1, 2, 3, 5), (2, 4, 7, 9), (2, 10, 11, 14)]


def make_mask(gen, s):
    """1 at one cell in 5, a weight in (0.1, 1) at one in 7 others, else 0."""
    m = uniform(gen, (s[0], 1, s[2], s[3]), 0.1, 1).flatten()
    i = torch.arange(m.numel())
    m = torch.where(i % 5 == 1, torch.ones_like(m), torch.where(i % 7 != 3, torch.zeros_like(m), m))
    return m.reshape(s[0], 1, s[2], s[3])


def pred_target_mask(gen, k):
    s = BOX_SHAPES[k]
    return [uniform(gen, s, -2, 2), uniform(gen, s, -2, 2), make_mask(gen, s)]


def masked_l1(p, t, m):
    """sum m |p - t| / max(1, C sum m), the elements where m == 0 skipped: their target (NaN or
    infinite in the *_unlabelled case) is replaced before the difference, so neither the value
    nor the gradient (torch.where passes 0 * NaN = NaN through abs otherwise) sees it."""
    mb = m.expand_as(p)
    t_safe = torch.where(mb != 0, t, torch.zeros_like(t))
    denom = torch.clamp(p.shape[1] * m.sum(), min=1)
    return (mb * (p - t_safe).abs()).sum() / denom


def zero_mask(gen, k):
    p, t, m = pred_target_mask(gen, k)
    return [p, t, torch.zeros_like(m)]


def unlabelled(gen, k):
    """NaN, +inf, -inf in turn where the mask is 0; pred == target at every 4th masked-in element."""
    p, t, m = pred_target_mask(gen, k)
    mb = m.expand_as(p).flatten()
    t = t.flatten()
    pf = p.flatten()
    special = [math.nan, math.inf, -math.inf]
    zero = equal = 0
    for i in range(t.numel()):
        if mb[i] == 0:
            t[i] = special[zero % 3]
            zero += 1
        else:
            if equal % 4 == 0:
                t[i] = pf[i]
            equal += 1
    return [p, t.reshape(p.shape), m]


CASES = [
    Case("sigmoid", [None] * 3, torch.sigmoid, [0], make=sigmoid_inputs),
    Case("sigmoid_large", [None], torch.sigmoid, [0], make=sigmoid_large_inputs),
    Case("focal_loss", [None] * 3, focal, [0], make=logits_heatmap, ref64=True),
    Case("focal_loss_a15_b3", [None] * 3, lambda x, t: focal(x, t, 1.5, 3.0), [0], make=logits_heatmap, ref64=True),
    Case("focal_loss_no_positives", [None] * 3, focal, [0], make=no_positives, ref64=True),
    Case("focal_loss_zero_target", [None] * 3, focal, [0], make=zero_target, ref64=True),
    Case("focal_loss_all_positive", [None], focal, [0], make=all_positive, ref64=True),
    Case("focal_loss_large_logits", [None], focal, [0], make=large_logits, ref64=True),
    Case("masked_l1_loss", [None] * 3, masked_l1, [0], make=pred_target_mask, ref64=True),
    Case("masked_l1_loss_zero_mask", [None] * 3, masked_l1, [0], make=zero_mask, ref64=True),
    Case("masked_l1_loss_unlabelled", [None] * 3, masked_l1, [0], make=unlabelled, ref64=True),
]
