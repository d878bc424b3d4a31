"""In-memory form of one dataset, mirroring the HDF5 schema of SPEC §3 field for field.

Ragged per-system data is stored flat with offsets (system i owns atoms offsets[i]:offsets[i+1]),
so loading a file is a handful of array reads and indexing a system is two slices.
Training and evaluation only need this class, numpy and torch: no ASE, RDKit or CP2K.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

SPLIT_NAMES = ("train", "val", "test")


@dataclass
class SystemArrays:
    numbers: np.ndarray  # (n_atoms_total,) int, atomic numbers
    positions: np.ndarray  # (n_atoms_total, 3) float, Å
    offsets: np.ndarray  # (n_systems + 1,) int64
    energy: np.ndarray  # (n_systems,) float64, total energy in eV
    cell: np.ndarray  # (n_systems, 3, 3) float, Å; zeros for molecules/clusters
    pbc: np.ndarray  # (n_systems, 3) bool
    scale: np.ndarray  # (n_systems,) float64, isometric / lattice scaling factor
    group: np.ndarray  # (n_systems,) int64, molecule / growth / element-curve id
    source_id: np.ndarray  # (n_systems,) int64, QM9 index or growth step
    bond_offsets: np.ndarray  # (n_systems + 1,) int64
    bond_pairs: np.ndarray  # (n_bonds, 2) int32, local atom indices (i < j)
    bond_type: np.ndarray  # (n_bonds,) int8, see vimpnn.bonds
    splits: dict[str, np.ndarray] = field(default_factory=dict)  # name -> system indices
    attrs: dict[str, Any] = field(default_factory=dict)  # units, provenance, DFT settings

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_atoms(self) -> np.ndarray:
        """Atoms per system, (n_systems,)."""
        return np.diff(self.offsets)

    def atom_slice(self, i: int) -> slice:
        return slice(int(self.offsets[i]), int(self.offsets[i + 1]))

    def bond_slice(self, i: int) -> slice:
        return slice(int(self.bond_offsets[i]), int(self.bond_offsets[i + 1]))

    def subset(self, index: np.ndarray) -> "SystemArrays":
        """The systems `index` (in that order) as a new SystemArrays; splits are dropped."""
        index = np.asarray(index, dtype=np.int64)
        atom_idx = _ragged_take(self.offsets, index)
        bond_idx = _ragged_take(self.bond_offsets, index)
        return SystemArrays(
            numbers=self.numbers[atom_idx],
            positions=self.positions[atom_idx],
            offsets=_offsets(self.n_atoms[index]),
            energy=self.energy[index],
            cell=self.cell[index],
            pbc=self.pbc[index],
            scale=self.scale[index],
            group=self.group[index],
            source_id=self.source_id[index],
            bond_offsets=_offsets(np.diff(self.bond_offsets)[index]),
            bond_pairs=self.bond_pairs[bond_idx],
            bond_type=self.bond_type[bond_idx],
            attrs=dict(self.attrs),
        )


def _offsets(counts: np.ndarray) -> np.ndarray:
    out = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def _ragged_take(offsets: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Flat element indices of the ragged rows `index`, vectorised (no per-row Python loop)."""
    starts = offsets[index]
    counts = offsets[index + 1] - starts
    if counts.sum() == 0:
        return np.zeros(0, dtype=np.int64)
    row_start_in_out = np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(starts, counts) + np.arange(counts.sum()) - row_start_in_out
