"""Radial functions of the edge length: a Gaussian expansion the edge network reads, and the smooth
cutoff envelopes that bring every message to zero at the cutoff (SchNet, DimeNet, MACE)."""

from __future__ import annotations

import math
from typing import Final

import torch
from torch import nn

ENVELOPES: Final[tuple[str, ...]] = ("polynomial", "cosine")
POLYNOMIAL_P: Final[int] = 6  # MACE's PolynomialCutoff default: value and first 5 derivatives vanish at r_c


class GaussianExpansion(nn.Module):
    """exp(-(d - mu_k)^2 / (2 sigma^2)) on `n` centres evenly spaced in [start, stop] Å, sigma = spacing."""

    def __init__(self, n: int = 47, start: float = 0.0, stop: float = 5.0):
        super().__init__()
        self.register_buffer("centres", torch.linspace(start, stop, n))
        self.width = (stop - start) / max(n - 1, 1)

    def forward(self, distance: torch.Tensor) -> torch.Tensor:
        diff = distance.unsqueeze(-1) - self.centres
        return torch.exp(-0.5 * (diff / self.width) ** 2)


def envelope(name: str, distance: torch.Tensor, cutoff: torch.Tensor) -> torch.Tensor:
    """Weight in [0, 1] of each edge: 1 at d = 0, 0 from d = cutoff on, smooth in between.

    `polynomial` (DimeNet/MACE, p = 6): 1 - (p+1)(p+2)/2 x^p + p(p+2) x^(p+1) - p(p+1)/2 x^(p+2), x = d/r_c,
    flat near 0 and C^5 at r_c; `cosine` (SchNet/Behler): (cos(pi x) + 1) / 2, C^1 at r_c. An infinite
    cutoff gives 1 (complete-graph edges).
    """
    x = (distance / cutoff).clamp(max=1.0)
    if name == "polynomial":
        p = POLYNOMIAL_P
        return 1 - (p + 1) * (p + 2) / 2 * x ** p + p * (p + 2) * x ** (p + 1) - p * (p + 1) / 2 * x ** (p + 2)
    if name == "cosine":
        return 0.5 * (torch.cos(math.pi * x) + 1)
    raise ValueError(f"envelope must be one of {ENVELOPES}, not {name!r}")
