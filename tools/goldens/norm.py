"""Batch norm, bilinear upsampling and dropout (C++ side: tests/cases_norm.cpp, tests/test_norm.cpp).

Regenerate with:  /usr/bin/python3 tools/make_goldens.py <case names>

Dropout in training cannot share torch's RNG, so its mask comes from a Python Philox4x32-10 (the
generator of kernels/philox.h, checked here against the Random123 known-answer vectors) and torch
does the arithmetic and the gradient; "dropout_eval" checks the identity paths with F.dropout.
"""
import numpy as np
import torch
import torch.nn.functional as F

from goldens.common import Case, uniform

EPS = 1e-5
MOMENTUM = 0.1

# ---------------------------------------------------------------- batch norm

BN_SHAPES = [(2, 3, 4, 5), (1, 2, 3, 3), (3, 4, 1, 2), (4, 3, 1, 1)]


def bn_train_make(gen, k):
    n, c, h, w = BN_SHAPES[k]
    return [uniform(gen, (n, c, h, w), -1, 2), uniform(gen, (c,), 0.5, 1.5), uniform(gen, (c,))]


def bn_train(x, g, b):
    c = x.shape[1]
    return F.batch_norm(x, torch.zeros(c), torch.ones(c), g, b, training=True, momentum=MOMENTUM, eps=EPS)


def bn_eval_make(gen, k):
    n, c, h, w = BN_SHAPES[k]
    return [uniform(gen, (n, c, h, w), -1, 2), uniform(gen, (c,), 0.5, 1.5), uniform(gen, (c,)),
            uniform(gen, (c,), -0.5, 0.5), uniform(gen, (c,), 0.5, 2.0)]


def bn_eval(x, g, b, rm, rv):
    return F.batch_norm(x, rm.clone(), rv.clone(), g, b, training=False, momentum=MOMENTUM, eps=EPS)


# Three training steps from fresh running statistics; the output is stack(running_mean, running_var).
# Each batch has its own offset and spread, so the statistics move.
RUN_SHAPE = (4, 3, 3, 5)


def bn_running_make(gen, k):
    n, c, h, w = RUN_SHAPE
    xs = [uniform(gen, (n, c, h, w), shift - spread, shift + spread)
          for shift, spread in ((0.5, 1.0), (-1.0, 2.0), (2.0, 0.5))]
    return xs + [uniform(gen, (c,), 0.5, 1.5), uniform(gen, (c,))]


def bn_running(x0, x1, x2, g, b):
    c = x0.shape[1]
    rm, rv = torch.zeros(c), torch.ones(c)
    for x in (x0, x1, x2):
        F.batch_norm(x, rm, rv, g, b, training=True, momentum=MOMENTUM, eps=EPS)
    return torch.stack([rm, rv])


# ---------------------------------------------------------------- bilinear upsampling

# Input (H, W) -> output (OH, OW) per shape set; tests/cases_norm.cpp holds the same tables.
UP_X2 = [((1, 2, 3, 4), (6, 8)), ((2, 1, 5, 5), (10, 10))]
UP_ODD = [((1, 2, 5, 7), (9, 4)), ((1, 1, 8, 8), (11, 13))]
UP_DOWN = [((1, 2, 9, 7), (4, 3)), ((2, 1, 8, 8), (3, 5)), ((1, 1, 5, 4), (1, 3))]


def up_case(name, table, align):
    sizes = {shape: out for shape, out in table}

    def fn(x):
        return F.interpolate(x, size=sizes[tuple(x.shape)], mode="bilinear", align_corners=align)

    return Case(name, [[shape] for shape, _ in table], fn, [0])


# ---------------------------------------------------------------- dropout

M32 = 0xFFFFFFFF


def philox4x32_10(ctr, key):
    """Philox4x32-10 block: ctr is four 32-bit words, key two. Plain Python integers."""
    c = list(ctr)
    k0, k1 = key
    for _ in range(10):
        p0 = 0xD2511F53 * c[0]
        p1 = 0xCD9E8D57 * c[2]
        c = [((p1 >> 32) ^ c[1] ^ k0) & M32, p1 & M32, ((p0 >> 32) ^ c[3] ^ k1) & M32, p0 & M32]
        k0 = (k0 + 0x9E3779B9) & M32
        k1 = (k1 + 0xBB67AE85) & M32
    return c


# Random123's known-answer vectors (kat_vectors, philox4x32 10 rounds).
assert philox4x32_10([0, 0, 0, 0], [0, 0]) == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
assert philox4x32_10([M32] * 4, [M32, M32]) == [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]
assert philox4x32_10([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0]) == \
    [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]


def philox_uniform(seed, i):
    """Draw i of stream `seed`, as kernels/philox.h: word i % 4 of block i // 4, top 24 bits / 2^24."""
    block = i >> 2
    w = philox4x32_10([block & M32, block >> 32, 0, 0], [seed & M32, seed >> 32])[i & 3]
    return (w >> 8) / 16777216.0


DROP_P = 0.3
DROP_SEED = 123  # tests/cases_norm.cpp: Rng rng(123) made inside fn, so the first draw is 0
DROP_SHAPES = [[(7,)], [(3, 5)], [(2, 3, 4, 5)]]


def dropout_philox(x):
    n = x.numel()
    p32 = float(np.float32(DROP_P))  # the kernels compare in float
    keep = torch.tensor([philox_uniform(DROP_SEED, i) >= p32 for i in range(n)]).reshape(x.shape)
    scale = float(np.float32(1.0 / (1.0 - DROP_P)))  # the float32 scale the kernels multiply by
    return x * keep.to(x.dtype) * scale


def dropout_eval(x):
    return F.dropout(x, DROP_P, training=False) + F.dropout(x, 0.0, training=True)


CASES = [
    Case("batch_norm2d_train", [[s] for s in BN_SHAPES], bn_train, [0, 1, 2], make=bn_train_make),
    Case("batch_norm2d_eval", [[s] for s in BN_SHAPES], bn_eval, [0, 1, 2], make=bn_eval_make),
    Case("batch_norm2d_running", [[RUN_SHAPE]], bn_running, [], make=bn_running_make),
    up_case("upsample_bilinear2d_x2_align", UP_X2, True),
    up_case("upsample_bilinear2d_x2", UP_X2, False),
    up_case("upsample_bilinear2d_odd_align", UP_ODD, True),
    up_case("upsample_bilinear2d_odd", UP_ODD, False),
    up_case("upsample_bilinear2d_down_align", UP_DOWN, True),
    up_case("upsample_bilinear2d_down", UP_DOWN, False),
    Case("dropout", DROP_SHAPES, dropout_philox, [0]),
    Case("dropout_eval", DROP_SHAPES, dropout_eval, [0]),
]
