"""Batch dictionary keys (schnetpack style): constants, so a typo fails at import, not silently at run time.

A batch is one `dict[str, Tensor]` holding many systems as one disjoint graph, without padding.
Reference labels carry the `ref_` prefix so they never collide with model outputs.
"""

from __future__ import annotations

from typing import Final

# atoms
Z: Final[str] = "Z"  # (n_atoms,) long, atomic numbers
POSITIONS: Final[str] = "positions"  # (n_atoms, 3) float, Å
IDX_M: Final[str] = "idx_m"  # (n_atoms,) long, system of each atom within the batch

# edges: messages flow from EDGE_INDEX[0] (source w) to EDGE_INDEX[1] (receiver v)
EDGE_INDEX: Final[str] = "edge_index"  # (2, n_edges) long, batch-global atom indices
EDGE_SHIFT: Final[str] = "edge_shift"  # (n_edges, 3) float, Å: periodic image offset added to the source
DISTANCE: Final[str] = "distance"  # (n_edges,) float, Å
BOND_TYPE: Final[str] = "bond_type"  # (n_edges,) long, vimpnn.bonds type (0 = non-bonded)

# systems
N_ATOMS: Final[str] = "n_atoms"  # (n_systems,) long
SCALE: Final[str] = "scale"  # (n_systems,) float64, scaling relative to the reference geometry
SYSTEM_INDEX: Final[str] = "system_index"  # (n_systems,) long, index into the dataset's SystemArrays
REF_ENERGY: Final[str] = "ref_energy"  # (n_systems,) float64, eV

# model outputs
ENERGY: Final[str] = "energy"  # (n_systems,) float64, eV
NODE_ENERGY: Final[str] = "node_energy"  # (n_atoms,) float64, eV, per-atom contributions
