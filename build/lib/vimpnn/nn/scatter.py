"""Scatter reductions on `index_add_` (as mace vendors them): no torch_scatter dependency."""

from __future__ import annotations

import torch


def scatter_sum(src: torch.Tensor, index: torch.Tensor, dim_size: int) -> torch.Tensor:
    """Sum rows of `src` that share an `index` value: out[k] = sum of src[i] with index[i] == k."""
    out = src.new_zeros((dim_size, *src.shape[1:]))
    return out.index_add_(0, index, src)


def scatter_mean(src: torch.Tensor, index: torch.Tensor, dim_size: int) -> torch.Tensor:
    """Mean of rows of `src` per `index` value (empty groups give 0)."""
    total = scatter_sum(src, index, dim_size)
    count = scatter_sum(torch.ones_like(index, dtype=src.dtype), index, dim_size).clamp_min(1)
    return total / count.view(-1, *([1] * (src.dim() - 1)))
