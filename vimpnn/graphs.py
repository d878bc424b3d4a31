"""Graphs of SystemArrays: edges built once per dataset, batched by index tensors without padding.

Edges (docs/models.md):
    * every system: pairs closer than `cutoff`, periodic images included (a 1-atom fcc cell has its 12
      nearest neighbours at a/sqrt(2)), from vesin's cell-list neighbour search;
    * molecules (non-periodic, only non-metal elements) with `molecule_graph="complete"`: Gilmer et al.'s
      complete graph instead, every ordered pair.
Each edge carries `edge_cutoff`, the radius at which the model's smooth envelope reaches zero (inf for
complete-graph edges, which have none), so energies and forces are continuous as edges come and go.
Bond types come from the reference topology only (the bond table, docs/bonds.md), never from the current
stretch: a non-periodic pair in the table is bonded at any distance; in a periodic system, where a pair
appears with several images, the bonded image is the one whose length in the reference geometry is within
`vimpnn.bonds.max_bond_length`. Imports numpy, torch and vesin only.
"""

from __future__ import annotations

from typing import Final, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from vimpnn import keys
from vimpnn.bonds import NONBONDED, ORGANIC, max_bond_length
from vimpnn.data.arrays import SystemArrays, ragged_take

MOLECULE_GRAPHS: Final[tuple[str, ...]] = ("cutoff", "complete")


def is_molecule(numbers: np.ndarray, pbc: np.ndarray) -> bool:
    """Non-periodic and made of non-metal elements only (the systems `molecule_graph` applies to)."""
    return not np.asarray(pbc).any() and set(np.asarray(numbers).tolist()) <= ORGANIC


def complete_graph(n: int) -> np.ndarray:
    """Every ordered pair (w, v) with w != v, as (n_edges, 2) [source, receiver]."""
    src, dst = np.nonzero(~np.eye(n, dtype=bool))
    return np.stack([src, dst], axis=1)


def cutoff_graph(
    positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray, cutoff: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs closer than `cutoff` (Å), periodic images included: ((n_edges, 2) [source, receiver],
    (n_edges, 3) integer image of the source, whose Cartesian shift `image @ cell` is added to the source
    position as given, wrapped into the cell or not). Cell-list search (vesin): linear in the atom count.
    """
    import vesin

    pbc = np.asarray(pbc, dtype=bool)
    box = np.asarray(cell, dtype=np.float64) if pbc.any() else np.zeros((3, 3))
    nl = vesin.NeighborList(cutoff=float(cutoff), full_list=True)
    # vesin's pair (i, j, S) is the vector pos[j] + S @ cell - pos[i]: j is our source, i the receiver.
    i, j, image = nl.compute(np.ascontiguousarray(positions, dtype=np.float64), box, pbc, "ijS")
    pairs = np.stack([j, i], axis=1).astype(np.int64)
    return pairs.reshape(-1, 2), np.asarray(image, dtype=np.int64).reshape(-1, 3)


def system_edges(
    numbers: np.ndarray, positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray, cutoff: float,
    molecule_graph: str = "cutoff",
) -> tuple[np.ndarray, np.ndarray, float]:
    """Edges of one system: (n_edges, 2) [source, receiver], (n_edges, 3) integer source images and the
    envelope radius of its edges (inf for a complete graph). The one graph rule of training and inference.
    """
    if molecule_graph not in MOLECULE_GRAPHS:
        raise ValueError(f"molecule_graph must be one of {MOLECULE_GRAPHS}, not {molecule_graph!r}")
    if molecule_graph == "complete" and is_molecule(numbers, pbc):
        pairs = complete_graph(len(numbers))
        return pairs, np.zeros((len(pairs), 3), dtype=np.int64), float("inf")
    pairs, image = cutoff_graph(positions, cell, pbc, cutoff)
    return pairs, image, float(cutoff)


def edge_vectors(positions: torch.Tensor, edge_index: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Receiver-to-source vectors pos[w] + shift - pos[v]; differentiable in `positions` (forces)."""
    return positions.index_select(0, edge_index[0]) + shift - positions.index_select(0, edge_index[1])


def edge_bond_types(
    pairs: np.ndarray, numbers: np.ndarray, periodic: np.ndarray, reference_length: np.ndarray,
    bond_pairs: np.ndarray, bond_type: np.ndarray,
) -> np.ndarray:
    """Bond type of each edge from the reference topology (0 NONBONDED when its pair is not in the table).

    A pair in the table is bonded; on a periodic edge (`periodic` True) only if `reference_length`, the
    edge's length in the reference geometry, is bonding, which picks the bonded image. Atom indices may be
    local to one system or global over a dataset (then `bond_pairs` must be global too).
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
    periodic = np.broadcast_to(periodic, (len(pairs),))[hit]
    length = np.broadcast_to(reference_length, (len(pairs),))[hit]
    hit = hit[~periodic | (length <= max_bond_length(numbers[lo[hit]], numbers[hi[hit]]))]
    types[hit] = bond_type[order][pos[hit]]
    return types


class GraphDataset(Dataset):
    """The systems of a SystemArrays with their edges computed once; item i is the index i.

    Every per-atom and per-edge quantity is one flat array with offsets, so `collate` assembles a batch
    of any size with a few vectorised gathers; use it as the DataLoader's collate_fn. The reference
    geometry of system i is its geometry divided by `scale[i]`, so an edge's reference length is
    distance / scale.
    """

    def __init__(self, arrays: SystemArrays, cutoff: float = 5.0, molecule_graph: str = "cutoff"):
        self.arrays = arrays
        self.cutoff = float(cutoff)
        self.molecule_graph = molecule_graph
        edge_atoms, image, edge_cutoff = self._edges()
        shift = np.einsum("ek,ekl->el", image, arrays.cell[self._edge_system()]) if len(image) else np.zeros((0, 3))
        self.edge_atoms = torch.from_numpy(edge_atoms)  # (2, n_edges) dataset-global [source, receiver]
        self.edge_shift = torch.from_numpy(shift).float()
        self.edge_cutoff = torch.from_numpy(edge_cutoff).float()
        self.numbers = torch.from_numpy(arrays.numbers.astype(np.int64))
        self.positions = torch.from_numpy(np.asarray(arrays.positions, dtype=np.float32))
        self.distance = edge_vectors(self.positions, self.edge_atoms, self.edge_shift).norm(dim=-1)
        self.bond_type = torch.from_numpy(self._bond_types(edge_atoms, shift))

    def _edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Dataset-global (2, n_edges) atom pairs, (n_edges, 3) integer images and per-edge envelope radii
        of every system in system order (`system_edges` per system), with `edge_offsets`."""
        a = self.arrays
        parts = [system_edges(a.numbers[a.atom_slice(i)], a.positions[a.atom_slice(i)], a.cell[i], a.pbc[i],
                              self.cutoff, self.molecule_graph) for i in range(len(a))]
        counts = np.array([len(p) for p, _, _ in parts], dtype=np.int64)
        self.edge_offsets = np.zeros(len(a) + 1, dtype=np.int64)
        np.cumsum(counts, out=self.edge_offsets[1:])
        if not parts or self.edge_offsets[-1] == 0:
            return np.zeros((2, 0), np.int64), np.zeros((0, 3), np.int64), np.zeros(0)
        pairs = np.concatenate([p for p, _, _ in parts]) + np.repeat(a.offsets[:-1], counts)[:, None]
        image = np.concatenate([im for _, im, _ in parts])
        edge_cutoff = np.repeat([rc for _, _, rc in parts], counts)
        return pairs.T.copy(), image, edge_cutoff

    def _bond_types(self, edge_atoms: np.ndarray, shift: np.ndarray) -> np.ndarray:
        """Bond type of every edge by `edge_bond_types`, vectorised over the dataset (global indices)."""
        a = self.arrays
        system = self._edge_system()
        positions = np.asarray(a.positions, dtype=np.float64)
        vec = positions[edge_atoms[0]] + shift - positions[edge_atoms[1]]
        bond_system = np.repeat(np.arange(len(a)), np.diff(a.bond_offsets))
        return edge_bond_types(
            edge_atoms.T, a.numbers, a.pbc.any(axis=1)[system], np.linalg.norm(vec, axis=1) / a.scale[system],
            a.bond_pairs.astype(np.int64) + a.offsets[bond_system][:, None], a.bond_type,
        )

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
            keys.EDGE_CUTOFF: self.edge_cutoff.index_select(0, edge_t),
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
