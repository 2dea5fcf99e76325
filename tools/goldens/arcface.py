"""Label-indexed ops and the ArcFace loss (C++ side: tests/cases_arcface.cpp).
The ArcFace reference is the notebooks' formula written in torch, for the fused op and for our
unfused composition alike; torch.clamp passes the gradient at its bounds (the *_edges cases put
target cosines exactly at +-1)."""
import math

import torch
import torch.nn.functional as F

from goldens.common import Case, uniform

ROWS = [(1, 1), (3, 5), (6, 11)]


def cos_labels(gen, k):
    n, c = ROWS[k]
    return [uniform(gen, (n, c), -0.99, 0.99), torch.randint(0, c, (n,), generator=gen)]


def cos_labels_v(gen, k):
    return cos_labels(gen, k) + [uniform(gen, (ROWS[k][0],))]


def arcface(cos, labels, s, m):
    tc = cos.gather(1, labels[:, None]).squeeze(1)
    c = tc.clamp(-1, 1)
    sine = (1 - c * c).clamp(min=1e-12).sqrt()
    phi = torch.where(c > math.cos(math.pi - m), c * math.cos(m) - sine * math.sin(m), c - math.sin(math.pi - m) * m)
    onehot = F.one_hot(labels, cos.shape[1]).to(cos.dtype)
    logits = s * (onehot * phi[:, None] + (1 - onehot) * cos)
    return F.cross_entropy(logits, labels)


def edge_cosines(gen, k):
    """Target cosines exactly -1, -0.999 (theta + m > pi for m = 0.5), exactly +1, and 0.3 with a
    wrong class at exactly 1 (tests/cases_arcface.cpp edge_cosines builds the same rows)."""
    cos = uniform(gen, (4, 6), -0.9, 0.9)
    labels = torch.tensor([0, 2, 4, 5])
    cos[0, 0], cos[1, 2], cos[2, 4], cos[3, 5], cos[3, 1] = -1.0, -0.999, 1.0, 0.3, 1.0
    return [cos, labels]


def scatter_add(x, labels, v):
    return x + F.one_hot(labels, x.shape[1]).to(x.dtype) * v[:, None]


CASES = [
    Case("gather_label", [None] * 3, lambda x, l: x.gather(1, l[:, None]).squeeze(1), [0], make=cos_labels),
    Case("scatter_label_add", [None] * 3, scatter_add, [0, 2], make=cos_labels_v),
    Case("arcface_s45_m01", [None] * 3, lambda c, l: arcface(c, l, 45.0, 0.1), [0], make=cos_labels),
    Case("arcface_s8_m05", [None] * 3, lambda c, l: arcface(c, l, 8.0, 0.5), [0], make=cos_labels),
    Case("arcface_loss_unfused", [None] * 3, lambda c, l: arcface(c, l, 45.0, 0.1), [0], make=cos_labels),
    Case("arcface_edges_s64_m01", [None], lambda c, l: arcface(c, l, 64.0, 0.1), [0], make=edge_cosines),
    Case("arcface_edges_s64_m05", [None], lambda c, l: arcface(c, l, 64.0, 0.5), [0], make=edge_cosines),
    Case("arcface_unfused_edges_s64_m05", [None], lambda c, l: arcface(c, l, 64.0, 0.5), [0], make=edge_cosines),
]
