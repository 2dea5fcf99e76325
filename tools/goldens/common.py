"""The Case record shared by the golden modules (see tools/make_goldens.py)."""
from dataclasses import dataclass, field
from typing import Callable, List, Optional


@dataclass
class Case:
    name: str
    sets: List[list]  # per shape set: the input shapes (ignored where make is given)
    fn: Callable
    grad_inputs: List[int] = field(default_factory=list)
    make: Optional[Callable] = None  # make(gen, k) -> list of input tensors
    # True: fn and backward run in float64 on the float32 inputs, the results are stored rounded to
    # float32 (for large sums, where PyTorch's own float32 rounding would set the tolerance)
    ref64: bool = False


def uniform(gen, shape, lo=-1.0, hi=1.0):
    import torch
    return torch.rand(shape, generator=gen) * (hi - lo) + lo
