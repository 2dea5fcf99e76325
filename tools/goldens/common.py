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


def uniform(gen, shape, lo=-1.0, hi=1.0):
    import torch
    return torch.rand(shape, generator=gen) * (hi - lo) + lo
