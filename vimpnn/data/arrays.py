"""In-memory form of one dataset, mirroring the HDF5 schema of docs/hdf5.md field for field.

Ragged per-system data is stored flat with offsets (system i owns atoms offsets[i]:offsets[i+1]),
so loading a file is a handful of array reads and indexing a system is two slices.
Training and evaluation only need this class, numpy and torch: no ASE, RDKit or CP2K.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:
    from ase import Atoms

SPLIT_NAMES = ("train", "val", "test")
UNKNOWN_SCF_STEPS = -1  # /provenance/scf_steps of backends without an SCF count (EMT) or records without one
# Chemical symbols up to Kr, so training and evaluation read reference energies and formulas without ASE.
SYMBOLS = ("X H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br "
           "Kr").split()


@dataclass
class Provenance:
    """How each system's energy was computed (docs/hdf5.md, /provenance): one row per system, and the table of
    the distinct settings blocks (backend + settings, canonical JSON) the rows point into, so a file says per
    structure which settings, input and retry-ladder rung produced its energy."""

    settings: list[str]  # canonical JSON {"backend": ..., "settings": {...}} of each distinct settings block
    settings_index: np.ndarray  # (n_systems,) int64, row of `settings` of each system
    input_hash: np.ndarray  # (n_systems,) str, sha256 of the DFT input (the cache key); "" when not recorded
    ladder_step: np.ndarray  # (n_systems,) str, the retry-ladder rung whose attempt gave the energy
    scf_steps: np.ndarray  # (n_systems,) int64, SCF iterations of that attempt; UNKNOWN_SCF_STEPS when none
    walltime_s: np.ndarray  # (n_systems,) float64, seconds of all attempts; NaN when not recorded

    def take(self, index: np.ndarray) -> "Provenance":
        """Rows `index`, the settings table unchanged (indices stay valid)."""
        return Provenance(self.settings, self.settings_index[index], self.input_hash[index],
                          self.ladder_step[index], self.scf_steps[index], self.walltime_s[index])


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
    system_id: np.ndarray | None = None  # (n_systems,) str, the structures file's ids (provenance)
    failed: list[dict[str, str]] = field(default_factory=list)  # {"system_id", "reason"}: excluded systems
    forces: np.ndarray | None = None  # (n_atoms_total, 3) float64, eV/Å, -dE/dR; None unless every system has them
    provenance: Provenance | None = None  # per-system DFT provenance; None in schema-1 and imported files
    electronic_state_changed: np.ndarray | None = None  # (n_systems,) bool: energy from a smearing retry rung

    @property
    def state_changed(self) -> np.ndarray:
        """(n_systems,) bool, True where the energy belongs to another electronic state than the rest of the file
        (docs/hdf5.md); all False for files that do not record it."""
        if self.electronic_state_changed is None:
            return np.zeros(len(self), dtype=bool)
        return self.electronic_state_changed

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

    def atoms(self, i: int) -> "Atoms":
        """System `i` as ASE Atoms with its energy and forces (SinglePointCalculator) and metadata in `info`
        (group, source_id, scale, system_id, electronic_state_changed where recorded, and its bond table as bond_pairs (n, 2) and bond_types (n,))."""
        from ase import Atoms
        from ase.calculators.singlepoint import SinglePointCalculator

        sl = self.atom_slice(i)
        pbc = self.pbc[i]
        out = Atoms(numbers=self.numbers[sl], positions=self.positions[sl], cell=self.cell[i] if pbc.any() else None, pbc=pbc)
        out.info.update(group=int(self.group[i]), source_id=int(self.source_id[i]), scale=float(self.scale[i]))
        bsl = self.bond_slice(i)  # the reference topology, which VimpnnCalculator uses as training does
        out.info.update(bond_pairs=self.bond_pairs[bsl].copy(), bond_types=self.bond_type[bsl].copy())
        if self.system_id is not None:
            out.info["system_id"] = str(self.system_id[i])
        if self.electronic_state_changed is not None:
            out.info["electronic_state_changed"] = bool(self.electronic_state_changed[i])
        forces = None if self.forces is None else self.forces[sl]
        out.calc = SinglePointCalculator(out, energy=float(self.energy[i]), forces=forces)
        return out

    @classmethod
    def from_atoms(
        cls,
        atoms_list: Sequence["Atoms"],
        energies: Sequence[float],
        bonds: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> "SystemArrays":
        """Pack ASE Atoms (metadata from `atoms.info`: group, source_id, scale) with their energies (eV).

        `bonds[i]` is `(pairs, types)` from `vimpnn.bonds.perceive_bonds`; None means no bonded pairs.
        """
        if len(energies) != len(atoms_list):
            raise ValueError(f"{len(atoms_list)} structures but {len(energies)} energies")
        n = len(atoms_list)
        if bonds is None:
            bonds = [(np.zeros((0, 2), np.int32), np.zeros(0, np.int8))] * n
        info = [a.info for a in atoms_list]
        return cls(
            numbers=np.concatenate([a.numbers for a in atoms_list]).astype(np.int16),
            positions=np.concatenate([a.positions for a in atoms_list]).astype(np.float64),
            offsets=_offsets(np.array([len(a) for a in atoms_list])),
            energy=np.asarray(energies, dtype=np.float64),
            cell=np.stack([a.cell.array if a.pbc.any() else np.zeros((3, 3)) for a in atoms_list]),
            pbc=np.stack([a.pbc for a in atoms_list]).astype(bool),
            scale=np.array([i.get("scale", 1.0) for i in info], dtype=np.float64),
            group=np.array([i.get("group", k) for k, i in enumerate(info)], dtype=np.int64),
            source_id=np.array([i.get("source_id", k) for k, i in enumerate(info)], dtype=np.int64),
            bond_offsets=_offsets(np.array([len(t) for _, t in bonds])),
            bond_pairs=np.concatenate([np.asarray(p, np.int32).reshape(-1, 2) for p, _ in bonds]),
            bond_type=np.concatenate([np.asarray(t, np.int8) for _, t in bonds]),
            attrs=dict(attrs or {}),
            system_id=np.array([str(i.get("system_id", k)) for k, i in enumerate(info)], dtype=object),
        )

    def subset(self, index: np.ndarray) -> "SystemArrays":
        """The systems `index` (in that order) as a new SystemArrays; splits are dropped."""
        index = np.asarray(index, dtype=np.int64)
        atom_idx, _ = ragged_take(self.offsets, index)
        bond_idx, _ = ragged_take(self.bond_offsets, index)
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
            system_id=None if self.system_id is None else self.system_id[index],
            forces=None if self.forces is None else self.forces[atom_idx],
            provenance=None if self.provenance is None else self.provenance.take(index),
            electronic_state_changed=None if self.electronic_state_changed is None
            else self.electronic_state_changed[index],
        )


def _offsets(counts: np.ndarray) -> np.ndarray:
    out = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def ragged_take(offsets: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat element indices of the ragged rows `index` (row i owns offsets[i]:offsets[i+1]), in that order,
    and each row's length; vectorised, no per-row Python loop.
    """
    starts = offsets[index]
    counts = offsets[index + 1] - starts
    ends = np.cumsum(counts)
    flat = np.arange(ends[-1] if len(ends) else 0, dtype=np.int64)
    return flat + np.repeat(starts - (ends - counts), counts), counts
