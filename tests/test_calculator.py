"""ASE calculator: forces are minus the gradient of the energy, node energies sum to it, optimisers run."""

import numpy as np
import pytest
import torch
from ase.build import bulk, molecule
from ase.optimize import BFGS

from vimpnn.bonds import perceive_bonds
from vimpnn.calculator import VimpnnCalculator
from vimpnn.models import build_model
from vimpnn.training.checkpoint import model_state, save_atomic


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(3)
    hparams = dict(message=8, edge_width=8, n_rbf=16, variant="a.ii")
    model = build_model("vimpnn", **hparams)
    path = tmp_path_factory.mktemp("ckpt") / "best.pt"
    save_atomic(model_state(model, "vimpnn", hparams, 4.0), path)
    return path


def calculator(path, atoms):
    calc = VimpnnCalculator(path, bonds=perceive_bonds(atoms))
    calc.model.double()  # float64 so finite differences are a sharp check
    return calc


def finite_difference_forces(atoms, h=1e-4):
    forces = np.zeros((len(atoms), 3))
    for i in range(len(atoms)):
        for k in range(3):
            energies = []
            for sign in (1, -1):
                moved = atoms.copy()
                moved.calc = atoms.calc
                moved.positions[i, k] += sign * h
                energies.append(moved.get_potential_energy())
            forces[i, k] = -(energies[0] - energies[1]) / (2 * h)
    return forces


@pytest.mark.parametrize("kind", ["molecule", "periodic"])
def test_forces_match_finite_differences(checkpoint, kind):
    atoms = molecule("CH3OH") if kind == "molecule" else bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.rattle(0.05, seed=2)
    atoms.calc = calculator(checkpoint, atoms)
    forces = atoms.get_forces()
    assert np.abs(forces).max() > 1e-6
    assert np.allclose(forces, finite_difference_forces(atoms), atol=1e-6)
    assert atoms.get_potential_energies().sum() == pytest.approx(atoms.get_potential_energy(), abs=1e-9)


def test_usable_with_an_ase_optimiser(checkpoint):
    atoms = molecule("H2O")
    atoms.positions *= 1.3
    atoms.calc = calculator(checkpoint, molecule("H2O"))
    e0 = atoms.get_potential_energy()
    BFGS(atoms, logfile=None).run(fmax=1e-3, steps=20)
    assert atoms.get_potential_energy() < e0
