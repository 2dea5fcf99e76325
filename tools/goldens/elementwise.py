"""Element-wise ops (sqrt, clamp, greater_mask among them), reductions and in-place ops (C++ side:
tests/cases_elementwise.cpp)."""
import torch

from goldens.common import Case, uniform

S = [[(7,)], [(3, 5)], [(2, 3, 4, 5)]]
S2 = [[s[0], s[0]] for s in S]

def clamp_bounds(gen, k):
    x = uniform(gen, (3, 4), -2, 2)
    x.view(-1)[[0, 5, 10]] = -0.5  # exactly at the bounds: torch.clamp passes the gradient there
    x.view(-1)[[3, 6, 11]] = 0.75
    return [x]


def mask_make(gen, k):
    x = uniform(gen, [(7,), (4, 5)][k])
    x.view(-1)[[1, 4]] = 0.25  # exactly at the threshold: not greater
    return [x]


CASES = [
    Case("add", S2, lambda a, b: a + b, [0, 1]),
    Case("sub", S2, lambda a, b: a - b, [0, 1]),
    Case("mul", S2, lambda a, b: a * b, [0, 1]),
    Case("scale", S, lambda x: x * -2.5, [0]),
    Case("add_scalar", S, lambda x: x + 0.75, [0]),
    Case("relu", S, lambda x: x.relu(), [0]),
    Case("prelu", [[(2, 3, 5, 7), (3,)], [(4, 6), (6,)], [(3, 10, 1, 1), (10,)], [(2, 3, 40, 72), (3,)]],
         torch.nn.functional.prelu, [0, 1]),
    Case("sum", S, lambda x: x.sum(), [0]),
    Case("mean", S, lambda x: x.mean(), [0]),
    Case("flatten", S, lambda x: x.flatten(1 if x.dim() > 1 else 0) ** 2, [0]),
    # in place, not differentiable: scale_, add_, axpy_ (alpha 0.625), fill_ (0.375)
    Case("scale_inplace", S, lambda x: x * -2.5),
    Case("add_inplace", S2, lambda a, b: a + b),
    Case("axpy_inplace", S2, lambda a, b: a + 0.625 * b),
    Case("fill_inplace", S, lambda x: torch.full_like(x, 0.375)),
    # sqrt, clamp (torch.clamp passes the gradient at its bounds), greater_mask
    Case("sqrt", [[(7,)], [(4, 5)]], torch.sqrt, [0], make=lambda g, k: [uniform(g, [(7,), (4, 5)][k], 0.05, 2.0)]),
    Case("clamp", [[(7,)], [(4, 5)]], lambda x: x.clamp(-0.5, 0.75), [0],
         make=lambda g, k: [uniform(g, [(7,), (4, 5)][k], -2, 2)]),
    Case("clamp_at_bounds", [None], lambda x: x.clamp(-0.5, 0.75), [0], make=clamp_bounds),
    Case("greater_mask", [None] * 2, lambda x: (x > 0.25).to(x.dtype), [], make=mask_make),
]
