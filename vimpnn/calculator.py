"""ASE calculator from a vimpnn checkpoint: energy, per-atom node contributions, forces by autograd.

Its graph is the training graph: the same edge rule (`vimpnn.graphs.system_edges`, vesin neighbour list,
the checkpoint's cutoff and molecule graph) and the same bond-type rule (`edge_bond_types`) on a reference
topology that is fixed once per structure and kept while the atoms move:

* reference geometry: `reference` (Atoms) if given, else the first geometry seen divided by
  `info['scale']` (1 when absent);
* bonds: `bonds=(pairs, types)` if given, else the bond table a structure from a dataset file carries
  (`SystemArrays.atoms` sets `info['bond_pairs']`, `info['bond_types']` and `info['scale']`, so the
  calculator sees it exactly as `vimpnn evaluate` does, without RDKit), else perceived once on the
  reference geometry (`vimpnn.bonds`, RDKit for molecules).

The topology is derived again only when the atomic numbers or pbc change, or a structure brings another
bond table. Forces are -dE/dR through the edge vectors; with the smooth envelope they stay exact when
edges cross the cutoff.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
from ase.calculators.calculator import Calculator, all_changes

from vimpnn import keys
from vimpnn.bonds import perceive_bonds, reference_geometry
from vimpnn.graphs import edge_bond_types, edge_vectors, system_edges
from vimpnn.training.checkpoint import load_model


@dataclass
class Topology:
    """Bond table of a structure and the reference geometry it holds on (positions, cell)."""

    numbers: np.ndarray
    pbc: np.ndarray
    bond_pairs: np.ndarray
    bond_type: np.ndarray
    positions: np.ndarray
    cell: np.ndarray
    scale: float

    @classmethod
    def of(cls, reference, bonds: tuple[np.ndarray, np.ndarray] | None, scale: float = 1.0) -> "Topology":
        """Topology of the Atoms `reference` (already the reference geometry); bonds perceived if None."""
        pairs, types = bonds if bonds is not None else perceive_bonds(reference)
        return cls(reference.numbers.copy(), reference.pbc.copy(), np.asarray(pairs, np.int64).reshape(-1, 2),
                   np.asarray(types, np.int64), reference.positions.copy(), reference.cell.array.copy(), scale)

    def matches(self, atoms) -> bool:
        return np.array_equal(self.numbers, atoms.numbers) and np.array_equal(self.pbc, atoms.pbc)

    def reference_lengths(self, pairs: np.ndarray, image: np.ndarray, atoms) -> np.ndarray:
        """Length of each periodic edge in the reference geometry. Atoms wrapped into another cell since
        then are mapped back by their integer change of fractional coordinates, so the image follows."""
        frac = atoms.positions @ np.linalg.inv(atoms.cell.array)
        frac_ref = self.positions @ np.linalg.inv(self.cell)
        moved = np.where(atoms.pbc, np.rint(frac - frac_ref), 0.0)
        ref_image = image + moved[pairs[:, 0]] - moved[pairs[:, 1]]
        vec = self.positions[pairs[:, 0]] + ref_image @ self.cell - self.positions[pairs[:, 1]]
        return np.linalg.norm(vec, axis=1)


def _info_bonds(atoms) -> tuple[np.ndarray, np.ndarray] | None:
    """The bond table a structure carries: `SystemArrays.atoms` sets bond_pairs/bond_types, `vimpnn export`
    writes `bonds` rows [i, j, type] (docs/exchange.md)."""
    if "bond_pairs" in atoms.info and "bond_types" in atoms.info:
        return np.asarray(atoms.info["bond_pairs"]).reshape(-1, 2), np.asarray(atoms.info["bond_types"])
    if "bonds" in atoms.info:
        rows = np.asarray(atoms.info["bonds"], dtype=np.int64).reshape(-1, 3)
        return rows[:, :2], rows[:, 2]
    return None


class VimpnnCalculator(Calculator):
    implemented_properties = ["energy", "energies", "forces"]

    def __init__(self, checkpoint: str | os.PathLike, bonds: tuple[np.ndarray, np.ndarray] | None = None,
                 reference=None, device: str = "cpu", **kwargs):
        super().__init__(**kwargs)
        self.model, ckpt = load_model(checkpoint)
        self.model.to(device)
        self.cutoff, self.molecule_graph = float(ckpt["cutoff"]), str(ckpt["molecule_graph"])
        self.device = torch.device(device)
        self.bonds, self.reference = bonds, reference
        self.topology: Topology | None = None

    def _topology(self, atoms) -> Topology:
        """The cached topology, or a new one by the rules of the module docstring."""
        info_bonds = None if self.bonds is not None else _info_bonds(atoms)
        cached = self.topology
        if cached is not None and cached.matches(atoms) and (
                info_bonds is None or (np.array_equal(info_bonds[0], cached.bond_pairs)
                                       and np.array_equal(info_bonds[1], cached.bond_type))):
            return cached
        scale = float(atoms.info.get("scale", 1.0))
        reference = self.reference if self.reference is not None else reference_geometry(atoms, scale)
        self.topology = Topology.of(reference, self.bonds if self.bonds is not None else info_bonds, scale)
        if not self.topology.matches(atoms):
            raise ValueError("the reference structure has other atomic numbers or pbc than the structure computed")
        return self.topology

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        topo = self._topology(atoms)
        pairs, image, edge_cutoff = system_edges(atoms.numbers, atoms.positions, atoms.cell.array, atoms.pbc,
                                                 self.cutoff, self.molecule_graph)
        periodic = bool(atoms.pbc.any())
        ref_length = topo.reference_lengths(pairs, image, atoms) if periodic and len(pairs) else 0.0
        bond_type = edge_bond_types(pairs, atoms.numbers, periodic, ref_length, topo.bond_pairs, topo.bond_type)
        dtype, dev = next(self.model.parameters()).dtype, self.device
        n = len(atoms)
        # In the model's dtype: float32 rounds positions and shifts exactly as GraphDataset stores them.
        positions = torch.tensor(atoms.positions, dtype=dtype, device=dev)
        positions.requires_grad_(True)
        edge_index = torch.from_numpy(pairs.T.copy()).to(dev)
        shift = torch.tensor(image @ atoms.cell.array, dtype=dtype, device=dev)
        batch = {
            keys.Z: torch.from_numpy(atoms.numbers.astype(np.int64)).to(dev),
            keys.POSITIONS: positions,
            keys.IDX_M: torch.zeros(n, dtype=torch.long, device=dev),
            keys.EDGE_INDEX: edge_index,
            keys.EDGE_SHIFT: shift,
            keys.EDGE_CUTOFF: torch.full((len(pairs),), edge_cutoff, dtype=dtype, device=dev),
            keys.DISTANCE: edge_vectors(positions, edge_index, shift).norm(dim=-1),
            keys.BOND_TYPE: torch.from_numpy(bond_type).to(dev),
            keys.N_ATOMS: torch.tensor([n], device=dev),
            keys.SCALE: torch.tensor([topo.scale], dtype=torch.float64, device=dev),
        }
        out = self.model(batch)
        energy = out[keys.ENERGY].sum()
        (grad,) = torch.autograd.grad(energy, positions)
        self.results["energy"] = float(energy.detach())
        self.results["energies"] = out[keys.NODE_ENERGY].detach().cpu().numpy()
        self.results["forces"] = -grad.detach().cpu().double().numpy()
