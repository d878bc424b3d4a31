"""Readouts (Eq. 3) and the auxiliary targets of paper Sec. 4.3; choices documented in docs/models.md.

The energy readout is a per-node perceptron on [h_T, h_0] (Gilmer's readout sees both). The auxiliary
heads are parallel readouts on the final hidden states h_T only, so they can be solved only through
message passing, not by a linear map of the input one-hot. Per system they are summed (counts) or
averaged and turned into a probability distribution (scaling).
"""

from __future__ import annotations

from typing import Final, Sequence

import torch
from torch import nn

from vimpnn import keys
from vimpnn.nn import scatter_mean, scatter_sum

AUX_HEADS: Final[tuple[str, ...]] = ("n_atoms_per_type", "n_orbitals_per_type", "scaling_gaussian")
# Width (in units of the scaling factor) of the Gaussian around the true scaling, and the bins it is spread
# over (min, max, count): 0.05-wide bins over 0.80-1.60 cover the datasets' 0.90-1.50 grid with margin.
SCALING_SIGMA: Final[float] = 0.05
SCALING_BINS: Final[tuple[float, float, int]] = (0.8, 1.6, 17)


def scaling_centres(bins: Sequence[float], device: torch.device | None = None) -> torch.Tensor:
    lo, hi, n = bins
    return torch.linspace(float(lo), float(hi), int(n), dtype=torch.float64, device=device)


def sigma_orbitals(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Per atom, its orbitals engaged in sigma bonds: one per bonded neighbour in the reference topology
    (bonded edges received; each bond is two directed edges). C sp3/sp2/sp gives 4/3/2, a metal atom its
    coordination: information the element counts do not hold."""
    bonded = (batch[keys.BOND_TYPE] > 0).double()
    return scatter_sum(bonded, batch[keys.EDGE_INDEX][1], batch[keys.Z].shape[0])


def aux_target(name: str, batch: dict[str, torch.Tensor], element_index: torch.Tensor, n_elements: int,
               sigma: float, bins: Sequence[float]) -> torch.Tensor:
    """Per-system target of auxiliary head `name`, (n_systems, width), float64."""
    n_systems = batch[keys.N_ATOMS].shape[0]
    if name == "scaling_gaussian":
        s = batch[keys.SCALE].double().unsqueeze(1)
        weight = torch.exp(-0.5 * ((scaling_centres(bins, s.device) - s) / sigma) ** 2)
        return weight / weight.sum(1, keepdim=True).clamp_min(1e-300)
    per_atom = nn.functional.one_hot(element_index, n_elements).double()
    if name == "n_orbitals_per_type":
        per_atom = per_atom * sigma_orbitals(batch).unsqueeze(1)
    elif name != "n_atoms_per_type":
        raise ValueError(f"unknown auxiliary head {name!r}; choose from {', '.join(AUX_HEADS)}")
    return scatter_sum(per_atom, batch[keys.IDX_M], n_systems)


def head_width(name: str, n_elements: int, bins: Sequence[float]) -> int:
    return int(bins[2]) if name == "scaling_gaussian" else n_elements


class NodeReadout(nn.Module):
    """Per-node perceptron in_dim -> hidden -> width (ReLU)."""

    def __init__(self, in_dim: int, hidden: int, width: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x)


def reduce_per_system(name: str, node_values: torch.Tensor, idx_m: torch.Tensor, n_systems: int) -> torch.Tensor:
    """Counts: sum over nodes (standardised units); scaling: softmax of the node-averaged logits."""
    if name == "scaling_gaussian":
        return torch.softmax(scatter_mean(node_values, idx_m, n_systems), dim=1)
    return scatter_sum(node_values, idx_m, n_systems)
