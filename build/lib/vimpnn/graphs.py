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

from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from vimpnn import keys
from vimpnn.bonds import NONBONDED, ORGANIC, max_bond_length
from vimpnn.data.arrays import SystemArrays, ragged_take


def complete_graph(n: int) -> np.ndarray:
    """Every ordered pair (w, v) with w != v, as (n_edges, 2) [source, receiver]."""
    src, dst = np.nonzero(~np.eye(n, dtype=bool))
    return np.stack([src, dst], axis=1)


def complete_graph_edge(n: np.ndarray, w: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Position of the ordered pair (w, v), w != v, in `complete_graph(n)` (vectorised)."""
    return w * (n - 1) + v - (v > w)


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
    return positions.index_select(0, edge_index[0]) + shift - positions.index_select(0, edge_index[1])


def edge_bond_types(
    pairs: np.ndarray, numbers: np.ndarray, distance: np.ndarray, scale: float | np.ndarray,
    bond_pairs: np.ndarray, bond_type: np.ndarray,
) -> np.ndarray:
    """Bond type of each edge: its pair's type from the bond table if its reference length is bonding.

    Atom indices may be local to one system or global over a dataset (then `scale` is per edge).
    """
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
    sorted_key = table_key[order]
    pos = np.minimum(np.searchsorted(sorted_key, edge_key), len(order) - 1)
    hit = np.flatnonzero(sorted_key[pos] == edge_key)
    scale = np.broadcast_to(scale, distance.shape)
    hit = hit[distance[hit] / scale[hit] <= max_bond_length(numbers[lo[hit]], numbers[hi[hit]])]
    types[hit] = bond_type[order][pos[hit]]
    return types


class GraphDataset(Dataset):
    """The systems of a SystemArrays with their edges computed once; item i is the index i.

    Every per-atom and per-edge quantity is one flat array with offsets, so `collate` assembles a batch
    of any size with a few vectorised gathers; use it as the DataLoader's collate_fn.
    """

    def __init__(self, arrays: SystemArrays, cutoff: float = 5.0):
        self.arrays = arrays
        self.cutoff = float(cutoff)
        edge_atoms, shift, molecule = self._edges()
        self.edge_atoms = torch.from_numpy(edge_atoms)  # (2, n_edges) dataset-global [source, receiver]
        self.edge_shift = torch.from_numpy(shift).float()
        self.numbers = torch.from_numpy(arrays.numbers.astype(np.int64))
        self.positions = torch.from_numpy(np.asarray(arrays.positions, dtype=np.float32))
        self.bond_type = torch.from_numpy(self._bond_types(edge_atoms, shift, molecule))
        self.distance = edge_vectors(self.positions, self.edge_atoms, self.edge_shift).norm(dim=-1)

    def _edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Dataset-global (2, n_edges) atom pairs and (n_edges, 3) shifts of every system in system order,
        with `edge_offsets`, and which systems are molecules: their complete graphs are tiled once per
        molecule size, the others' cutoff graphs built per system.
        """
        a = self.arrays
        n_atoms = a.n_atoms
        atom_system = np.repeat(np.arange(len(a)), n_atoms)
        non_organic = np.bincount(atom_system[~np.isin(a.numbers, list(ORGANIC))], minlength=len(a))
        molecule = ~a.pbc.any(axis=1) & (non_organic == 0)
        cut = {int(i): cutoff_graph(np.asarray(a.positions[a.atom_slice(i)], dtype=np.float64), a.cell[i],
                                    a.pbc[i], self.cutoff) for i in np.flatnonzero(~molecule)}
        counts = np.where(molecule, n_atoms * (n_atoms - 1), 0)
        counts[list(cut)] = [len(p) for p, _ in cut.values()]
        self.edge_offsets = np.zeros(len(a) + 1, dtype=np.int64)
        np.cumsum(counts, out=self.edge_offsets[1:])
        pairs = np.zeros((2, self.edge_offsets[-1]), dtype=np.int64)
        shift = np.zeros((self.edge_offsets[-1], 3))
        for n in np.unique(n_atoms[molecule]):
            systems = np.flatnonzero(molecule & (n_atoms == n))
            template = complete_graph(int(n))
            rows = self.edge_offsets[systems][:, None] + np.arange(len(template))
            pairs[:, rows.ravel()] = (template.T[:, None, :] + a.offsets[systems][None, :, None]).reshape(2, -1)
        for i, (p, sh) in cut.items():
            pairs[:, self.edge_offsets[i]:self.edge_offsets[i + 1]] = p.T + a.offsets[i]
            shift[self.edge_offsets[i]:self.edge_offsets[i + 1]] = sh
        return pairs, shift, molecule

    def _bond_types(self, edge_atoms: np.ndarray, shift: np.ndarray, molecule: np.ndarray) -> np.ndarray:
        """Bond type of every edge by `edge_bond_types`' rule, vectorised over the dataset: a molecule's
        bond goes straight to its two edges of the complete graph; cutoff-graph edges are looked up.
        """
        a = self.arrays
        types = np.zeros(edge_atoms.shape[1], dtype=np.int64)
        positions = np.asarray(a.positions, dtype=np.float64)
        bond_system = np.repeat(np.arange(len(a)), np.diff(a.bond_offsets))
        in_molecule = molecule[bond_system]
        s = bond_system[in_molecule]
        i, j = a.bond_pairs[in_molecule].astype(np.int64).T
        gi, gj = i + a.offsets[s], j + a.offsets[s]
        distance = np.linalg.norm(positions[gi] - positions[gj], axis=1)
        ok = distance / a.scale[s] <= max_bond_length(a.numbers[gi], a.numbers[gj])
        first_edge, n, bond_type = self.edge_offsets[s][ok], a.n_atoms[s][ok], a.bond_type[in_molecule][ok]
        for w, v in ((i[ok], j[ok]), (j[ok], i[ok])):
            types[first_edge + complete_graph_edge(n, w, v)] = bond_type
        others = np.flatnonzero(~molecule)
        edges, n_edges = ragged_take(self.edge_offsets, others)
        bonds, _ = ragged_take(a.bond_offsets, others)
        pairs = edge_atoms[:, edges].T
        vec = positions[pairs[:, 0]] + shift[edges] - positions[pairs[:, 1]]
        types[edges] = edge_bond_types(
            pairs, a.numbers, np.linalg.norm(vec, axis=1), np.repeat(a.scale[others], n_edges),
            a.bond_pairs[bonds] + a.offsets[bond_system[bonds]][:, None], a.bond_type[bonds],
        )
        return types

    def _edge_system(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.arrays)), np.diff(self.edge_offsets))

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

    def collate(self, indices: Sequence[int] | np.ndarray) -> dict[str, torch.Tensor]:
        """Many systems as one disjoint graph: one ragged gather for atoms, one for edges, whose atom
        indices are moved from each system's first atom in the dataset to its first atom in the batch.
        """
        a = self.arrays
        idx = np.array(indices, dtype=np.int64)  # a copy: the batch must not alias the caller's array
        atom_idx, n_atoms = ragged_take(a.offsets, idx)
        edge_idx, n_edges = ragged_take(self.edge_offsets, idx)
        atom_t, edge_t = torch.from_numpy(atom_idx), torch.from_numpy(edge_idx)
        to_batch = torch.from_numpy(np.repeat(a.offsets[idx] - (np.cumsum(n_atoms) - n_atoms), n_edges))
        return {
            keys.Z: self.numbers.index_select(0, atom_t),
            keys.POSITIONS: self.positions.index_select(0, atom_t),
            keys.IDX_M: torch.from_numpy(np.repeat(np.arange(len(idx)), n_atoms)),
            keys.EDGE_INDEX: self.edge_atoms.index_select(1, edge_t) - to_batch,
            keys.EDGE_SHIFT: self.edge_shift.index_select(0, edge_t),
            keys.DISTANCE: self.distance.index_select(0, edge_t),
            keys.BOND_TYPE: self.bond_type.index_select(0, edge_t),
            keys.N_ATOMS: torch.from_numpy(n_atoms),
            keys.SCALE: torch.from_numpy(a.scale[idx]),
            keys.SYSTEM_INDEX: torch.from_numpy(idx),
            keys.REF_ENERGY: torch.from_numpy(a.energy[idx]),
        }


def batch_to(batch: dict[str, torch.Tensor], device: torch.device | str) -> dict[str, torch.Tensor]:
    """The batch with every tensor on `device`."""
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}
