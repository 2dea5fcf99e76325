"""linear, mse_loss, cross_entropy, l2_normalize (C++ side: tests/cases_linear.cpp)."""
import torch
import torch.nn.functional as F

from goldens.common import Case, uniform

LIN_X = [(3, 5), (1, 1), (4, 17)]
LIN_W = [(7, 5), (1, 1), (9, 17)]
MSE = [(7,), (3, 5), (2, 3, 4, 5)]


def ce_make(gen, k):
    n, c, r = [(5, 10, 1.0), (3, 1, 1.0), (4, 7, 40.0)][k]
    return [uniform(gen, (n, c), -r, r), torch.randint(0, c, (n,), generator=gen)]


def ce_spiked_make(gen, k):
    # set 0: +30 at a random column of each row; set 1: +30 at the label; set 2: -30 at the label
    n, c = [(6, 10), (4, 5), (3, 10)][k]
    logits = uniform(gen, (n, c))
    labels = torch.randint(0, c, (n,), generator=gen)
    rows = torch.arange(n)
    if k == 0:
        logits[rows, torch.randint(0, c, (n,), generator=gen)] += 30.0
    elif k == 1:
        logits[rows, labels] += 30.0
    else:
        logits[rows, labels] -= 30.0
    return [logits, labels]


def l2_tiny_make(gen, k):
    shape, tiny = [((4, 6), [1]), ((2, 3), [0, 1]), ((5, 1), [0, 2, 4])][k]
    x = uniform(gen, shape)
    x[tiny] *= 1e-4  # norm < eps = 1e-3: the clamped branch
    return [x]


CASES = [
    Case("linear", [[x, w, (w[0],)] for x, w in zip(LIN_X, LIN_W)], lambda x, w, b: F.linear(x, w, b), [0, 1, 2]),
    Case("linear_nobias", [[x, w] for x, w in zip(LIN_X, LIN_W)], lambda x, w: F.linear(x, w), [0, 1]),
    Case("linear_gemm_split", [[(64, 128), (32, 128), (32,)], [(64, 32), (128, 32), (128,)]],
         lambda x, w, b: F.linear(x, w, b), [0, 1, 2], ref64=True),
    Case("mse_loss", [[s, s] for s in MSE], lambda x, t: F.mse_loss(x, t), [0, 1]),
    Case("cross_entropy", [None] * 3, lambda l, y: F.cross_entropy(l, y), [0], make=ce_make),
    Case("cross_entropy_spiked", [None] * 3, lambda l, y: F.cross_entropy(l, y), [0], make=ce_spiked_make),
    Case("l2_normalize", [[x] for x in LIN_X], lambda x: F.normalize(x, dim=1), [0]),
    Case("l2_normalize_tiny", [None] * 3, lambda x: F.normalize(x, dim=1, eps=1e-3), [0], make=l2_tiny_make),
]
