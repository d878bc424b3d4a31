"""Readouts (Eq. 3) and the auxiliary targets of paper Sec. 4.3; choices documented in docs/models.md.

Every head is a per-node perceptron on [h_T, h_0] (Gilmer's readout sees both), reduced per system:
summed for extensive quantities (energy, counts), averaged for the intensive scaling Gaussian.
"""

from __future__ import annotations

from typing import Final

import torch
from torch import nn

from vimpnn import keys
from vimpnn.nn import scatter_mean, scatter_sum

AUX_HEADS: Final[tuple[str, ...]] = ("n_atoms_per_type", "n_orbitals_per_type", "scaling_gaussian")
# Default width (in units of the scaling factor) of the Gaussian target around the reference geometry.
SCALING_SIGMA: Final[float] = 0.15


def minimal_basis_size(z: torch.Tensor) -> torch.Tensor:
    """Orbitals of a minimal (STO-3G-like) basis per element: H,He 1; Li-Ne 5 (1s2s2p); Na-Ar 9 (+3s3p);
    K,Ca 13 (+4s4p); Sc-Kr 18 (+3d)."""
    bounds = torch.tensor([2, 10, 18, 20, 36], device=z.device)
    sizes = torch.tensor([1.0, 5.0, 9.0, 13.0, 18.0], device=z.device)
    return sizes[torch.bucketize(z, bounds).clamp_max(len(sizes) - 1)]


def aux_target(name: str, batch: dict[str, torch.Tensor], element_index: torch.Tensor, n_elements: int,
               sigma: float) -> torch.Tensor:
    """Per-system target of auxiliary head `name`, (n_systems, width), float64."""
    n_systems = batch[keys.N_ATOMS].shape[0]
    if name == "scaling_gaussian":
        s = batch[keys.SCALE].double()
        return torch.exp(-0.5 * ((s - 1.0) / sigma) ** 2).unsqueeze(1)
    per_atom = nn.functional.one_hot(element_index, n_elements).double()
    if name == "n_orbitals_per_type":
        per_atom = per_atom * minimal_basis_size(batch[keys.Z]).double().unsqueeze(1)
    elif name != "n_atoms_per_type":
        raise ValueError(f"unknown auxiliary head {name!r}; choose from {', '.join(AUX_HEADS)}")
    return scatter_sum(per_atom, batch[keys.IDX_M], n_systems)


def head_width(name: str, n_elements: int) -> int:
    return 1 if name == "scaling_gaussian" else n_elements


class NodeReadout(nn.Module):
    """Per-node perceptron [h_T, h_0] -> `width` outputs."""

    def __init__(self, hidden: int, width: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, width))

    def forward(self, h: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
        return self.mlp(torch.cat([h, h0], dim=1))


def reduce_per_system(name: str, node_values: torch.Tensor, idx_m: torch.Tensor, n_systems: int) -> torch.Tensor:
    reduce = scatter_mean if name == "scaling_gaussian" else scatter_sum
    return reduce(node_values, idx_m, n_systems)
