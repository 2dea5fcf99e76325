"""Element-wise ops, reductions and in-place ops (C++ side: tests/cases_elementwise.cpp)."""
import torch

from goldens.common import Case

S = [[(7,)], [(3, 5)], [(2, 3, 4, 5)]]
S2 = [[s[0], s[0]] for s in S]

CASES = [
    Case("add", S2, lambda a, b: a + b, [0, 1]),
    Case("sub", S2, lambda a, b: a - b, [0, 1]),
    Case("mul", S2, lambda a, b: a * b, [0, 1]),
    Case("scale", S, lambda x: x * -2.5, [0]),
    Case("add_scalar", S, lambda x: x + 0.75, [0]),
    Case("relu", S, lambda x: x.relu(), [0]),
    Case("sum", S, lambda x: x.sum(), [0]),
    Case("mean", S, lambda x: x.mean(), [0]),
    Case("flatten", S, lambda x: x.flatten(1 if x.dim() > 1 else 0) ** 2, [0]),
    # in place, not differentiable: scale_, add_, axpy_ (alpha 0.625), fill_ (0.375)
    Case("scale_inplace", S, lambda x: x * -2.5),
    Case("add_inplace", S2, lambda a, b: a + b),
    Case("axpy_inplace", S2, lambda a, b: a + 0.625 * b),
    Case("fill_inplace", S, lambda x: torch.full_like(x, 0.375)),
]
