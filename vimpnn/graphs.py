"""Graphs of SystemArrays: edges built once per dataset, batched by index tensors without padding.

Edges (docs/models.md):
    * molecules (non-periodic, only non-metal elements): the complete graph (Gilmer et al. 2017),
    * metal clusters (non-periodic, any metal atom): pairs closer than `cutoff`,
    * periodic cells: pairs closer than `cutoff` over all periodic images, self-images included,
      so a 1-atom fcc cell has its 12 nearest neighbours at a/sqrt(2).
Each edge takes the bond type of its atom pair from the bond table of SystemArrays (type 0 NONBONDED when
the pair is absent) only if its reference length, distance / scale, is within `vimpnn.bonds.max_bond_length`:
that test picks the bonded periodic image. Imports only numpy and torch.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from vimpnn import keys
from vimpnn.bonds import NONBONDED, ORGANIC, max_bond_length
from vimpnn.data.arrays import SystemArrays


def complete_graph(n: int) -> np.ndarray:
    """Every ordered pair (w, v) with w != v, as (n_edges, 2) [source, receiver]."""
    src, dst = np.nonzero(~np.eye(n, dtype=bool))
    return np.stack([src, dst], axis=1)


def cutoff_graph(
    positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray, cutoff: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs closer than `cutoff` (Å), periodic images included: ((n_edges, 2) [source, receiver],
    (n_edges, 3) Cartesian shift added to the source position). Vectorised over atoms and images.
    """
    n = len(positions)
    pbc = np.asarray(pbc, dtype=bool)
    wrap = np.zeros((n, 3))
    images = np.zeros((1, 3))
    if pbc.any():
        frac = positions @ np.linalg.inv(cell)
        wrap = np.where(pbc, -np.floor(frac), 0.0)  # integer cell offsets bringing atoms into the cell
        spacing = 1.0 / np.linalg.norm(np.linalg.inv(cell).T, axis=1)  # distances between lattice planes
        reach = np.where(pbc, np.ceil(cutoff / spacing).astype(int) + 1, 0)
        grids = np.meshgrid(*[np.arange(-r, r + 1) for r in reach], indexing="ij")
        images = np.stack([g.ravel() for g in grids], axis=1).astype(float)
    wrapped = positions + wrap @ cell if pbc.any() else positions
    shift_cart = images @ cell if pbc.any() else images
    # vec[w, v, k] = wrapped[w] + shift_k - wrapped[v]
    vec = wrapped[:, None, None, :] + shift_cart[None, None, :, :] - wrapped[None, :, None, :]
    dist = np.linalg.norm(vec, axis=-1)
    self_term = (np.arange(n)[:, None] == np.arange(n)[None, :])[:, :, None] & (
        np.abs(images).sum(axis=1) == 0
    )[None, None, :]
    w, v, k = np.nonzero((dist < cutoff) & ~self_term)
    # Shift relative to the unwrapped positions: pos[w] + shift - pos[v] equals vec[w, v, k].
    shift = (images[k] + wrap[w] - wrap[v]) @ cell if pbc.any() else np.zeros((len(w), 3))
    return np.stack([w, v], axis=1), shift


def edge_vectors(positions: torch.Tensor, edge_index: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Receiver-to-source vectors pos[w] + shift - pos[v]; differentiable in `positions` (forces)."""
    return positions[edge_index[0]] + shift - positions[edge_index[1]]


def edge_bond_types(
    pairs: np.ndarray, numbers: np.ndarray, distance: np.ndarray, scale: float,
    bond_pairs: np.ndarray, bond_type: np.ndarray,
) -> np.ndarray:
    """Bond type of each edge: its pair's type from the bond table if its reference length is bonding."""
    types = np.full(len(pairs), NONBONDED, dtype=np.int64)
    if len(bond_pairs) == 0 or len(pairs) == 0:
        return types
    n = int(numbers.shape[0])
    lo, hi = np.minimum(pairs[:, 0], pairs[:, 1]), np.maximum(pairs[:, 0], pairs[:, 1])
    edge_key = lo * n + hi
    table_key = np.minimum(bond_pairs[:, 0], bond_pairs[:, 1]).astype(np.int64) * n + np.maximum(
        bond_pairs[:, 0], bond_pairs[:, 1]
    )
    order = np.argsort(table_key)
    pos = np.clip(np.searchsorted(table_key[order], edge_key), 0, len(order) - 1)
    found = table_key[order][pos] == edge_key
    bonding = distance / scale <= max_bond_length(numbers[lo], numbers[hi])
    hit = found & bonding
    types[hit] = bond_type[order][pos[hit]]
    return types


class GraphDataset(Dataset):
    """The systems of a SystemArrays with their edges computed once; item i is the index i.

    Use `collate` as the DataLoader's collate_fn: it slices the precomputed flat edge arrays.
    """

    def __init__(self, arrays: SystemArrays, cutoff: float = 5.0):
        self.arrays = arrays
        self.cutoff = float(cutoff)
        pairs, shifts, types, counts = [], [], [], []
        for i in range(len(arrays)):
            p, s, t = self._system_edges(i)
            pairs.append(p), shifts.append(s), types.append(t), counts.append(len(p))
        self.edge_offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
        np.cumsum(counts, out=self.edge_offsets[1:])
        self.edge_pairs = torch.from_numpy(np.concatenate(pairs).astype(np.int64).reshape(-1, 2))
        self.edge_shift = torch.from_numpy(np.concatenate(shifts).reshape(-1, 3)).float()
        self.bond_type = torch.from_numpy(np.concatenate(types).astype(np.int64))
        self.numbers = torch.from_numpy(arrays.numbers.astype(np.int64))
        self.positions = torch.from_numpy(np.asarray(arrays.positions, dtype=np.float32))
        self.distance = edge_vectors(
            self.positions, self._global_pairs().T, self.edge_shift
        ).norm(dim=-1)

    def _system_edges(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a = self.arrays
        sl = a.atom_slice(i)
        numbers, positions = a.numbers[sl], np.asarray(a.positions[sl], dtype=np.float64)
        if not a.pbc[i].any() and set(numbers.tolist()) <= ORGANIC:
            pairs = complete_graph(len(numbers))
            shift = np.zeros((len(pairs), 3))
        else:
            pairs, shift = cutoff_graph(positions, a.cell[i], a.pbc[i], self.cutoff)
        distance = np.linalg.norm(positions[pairs[:, 0]] + shift - positions[pairs[:, 1]], axis=1)
        bsl = a.bond_slice(i)
        types = edge_bond_types(
            pairs, numbers, distance, float(a.scale[i]), a.bond_pairs[bsl], a.bond_type[bsl]
        )
        return pairs, shift, types

    def _edge_system(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.arrays)), np.diff(self.edge_offsets))

    def _global_pairs(self) -> torch.Tensor:
        """Edge pairs as dataset-global atom indices (for the one-off distance computation)."""
        return self.edge_pairs + torch.from_numpy(self.arrays.offsets[self._edge_system()]).unsqueeze(1)

    def characteristic_length(self) -> np.ndarray:
        """Per system, Å: mean bonded edge length of the reference geometry (distance / scale), the DSC unit.

        For an fcc cell it is the nearest-neighbour distance a/sqrt(2); a system without bonded edges uses
        its shortest edge, one without edges NaN.
        """
        n = len(self.arrays)
        system = self._edge_system()
        ref = self.distance.double().numpy() / self.arrays.scale[system]
        bonded = self.bond_type.numpy() > 0
        n_bonded = np.bincount(system[bonded], minlength=n)
        mean_bonded = np.bincount(system[bonded], weights=ref[bonded], minlength=n) / np.maximum(n_bonded, 1)
        shortest = np.full(n, np.inf)
        np.minimum.at(shortest, system, ref)
        out = np.where(n_bonded > 0, mean_bonded, shortest)
        return np.where(np.isinf(out), np.nan, out)

    def __len__(self) -> int:
        return len(self.arrays)

    def __getitem__(self, i: int) -> int:
        return int(i)

    def n_edges(self, i: int) -> int:
        return int(self.edge_offsets[i + 1] - self.edge_offsets[i])

    def collate(self, indices: list[int]) -> dict[str, torch.Tensor]:
        """Many systems as one disjoint graph: idx_m by repeat_interleave, edges shifted by atom offsets."""
        a = self.arrays
        idx = np.asarray(indices, dtype=np.int64)
        atom_sl = [slice(int(a.offsets[i]), int(a.offsets[i + 1])) for i in idx]
        edge_sl = [slice(int(self.edge_offsets[i]), int(self.edge_offsets[i + 1])) for i in idx]
        n_atoms = torch.from_numpy(a.offsets[idx + 1] - a.offsets[idx])
        n_edges = torch.from_numpy(self.edge_offsets[idx + 1] - self.edge_offsets[idx])
        first_atom = torch.cumsum(n_atoms, 0) - n_atoms
        pairs = torch.cat([self.edge_pairs[s] for s in edge_sl])
        pairs = pairs + torch.repeat_interleave(first_atom, n_edges).unsqueeze(1)
        return {
            keys.Z: torch.cat([self.numbers[s] for s in atom_sl]),
            keys.POSITIONS: torch.cat([self.positions[s] for s in atom_sl]),
            keys.IDX_M: torch.repeat_interleave(torch.arange(len(idx)), n_atoms),
            keys.EDGE_INDEX: pairs.T.contiguous(),
            keys.EDGE_SHIFT: torch.cat([self.edge_shift[s] for s in edge_sl]),
            keys.DISTANCE: torch.cat([self.distance[s] for s in edge_sl]),
            keys.BOND_TYPE: torch.cat([self.bond_type[s] for s in edge_sl]),
            keys.N_ATOMS: n_atoms,
            keys.SCALE: torch.from_numpy(a.scale[idx]),
            keys.SYSTEM_INDEX: torch.from_numpy(idx),
            keys.REF_ENERGY: torch.from_numpy(a.energy[idx]),
        }


def batch_to(batch: dict[str, torch.Tensor], device: torch.device | str) -> dict[str, torch.Tensor]:
    """The batch with every tensor on `device`."""
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}
