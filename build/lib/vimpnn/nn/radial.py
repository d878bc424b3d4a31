"""Gaussian radial basis: a smooth, fixed expansion of distances the edge network can read."""

from __future__ import annotations

import torch
from torch import nn


class GaussianExpansion(nn.Module):
    """exp(-(d - mu_k)^2 / (2 sigma^2)) on `n` centres evenly spaced in [start, stop] Å, sigma = spacing.

    The default range covers the longest complete-graph distance of a QM9 molecule scaled 1.5x.
    """

    def __init__(self, n: int = 47, start: float = 0.0, stop: float = 15.0):
        super().__init__()
        self.register_buffer("centres", torch.linspace(start, stop, n))
        self.width = (stop - start) / max(n - 1, 1)

    def forward(self, distance: torch.Tensor) -> torch.Tensor:
        diff = distance.unsqueeze(-1) - self.centres
        return torch.exp(-0.5 * (diff / self.width) ** 2)
