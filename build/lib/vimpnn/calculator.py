"""ASE calculator from a vimpnn checkpoint: energy, per-atom node contributions, forces by autograd.

The structure goes through the same SystemArrays -> GraphDataset -> collate path as training. Bond types are
perceived on the given geometry with vimpnn.bonds (pass `bonds=(pairs, types)` to fix them, e.g. the
equilibrium bonds while relaxing a stretched molecule). Graph topology is rebuilt for every new geometry;
forces are -dE/dR through the edge vectors, so they are exact gradients of the energy for fixed topology.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from ase.calculators.calculator import Calculator, all_changes

from vimpnn import keys
from vimpnn.bonds import perceive_bonds
from vimpnn.data.arrays import SystemArrays
from vimpnn.graphs import GraphDataset, edge_vectors
from vimpnn.training.checkpoint import load_model


class VimpnnCalculator(Calculator):
    implemented_properties = ["energy", "energies", "forces"]

    def __init__(self, checkpoint: str | os.PathLike, bonds: tuple[np.ndarray, np.ndarray] | None = None,
                 device: str = "cpu", **kwargs):
        super().__init__(**kwargs)
        self.model, ckpt = load_model(checkpoint)
        self.model.to(device)
        self.cutoff = float(ckpt["cutoff"])
        self.device = torch.device(device)
        self.bonds = bonds

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms.copy()
        atoms.info = {"scale": 1.0}
        bonds = self.bonds if self.bonds is not None else perceive_bonds(atoms)
        dataset = GraphDataset(SystemArrays.from_atoms([atoms], [0.0], [bonds]), cutoff=self.cutoff)
        batch = {k: v.to(self.device) for k, v in dataset.collate([0]).items()}
        dtype = next(self.model.parameters()).dtype
        positions = torch.as_tensor(atoms.positions, dtype=dtype, device=self.device).requires_grad_(True)
        vec = edge_vectors(positions, batch[keys.EDGE_INDEX], batch[keys.EDGE_SHIFT].to(dtype))
        batch[keys.DISTANCE] = vec.norm(dim=-1)
        out = self.model(batch)
        energy = out[keys.ENERGY].sum()
        (grad,) = torch.autograd.grad(energy, positions)
        self.results["energy"] = float(energy.detach())
        self.results["energies"] = out[keys.NODE_ENERGY].detach().cpu().numpy()
        self.results["forces"] = -grad.detach().cpu().double().numpy()
