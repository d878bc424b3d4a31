"""ASE calculator: forces are minus the gradient of the energy, the energy surface is continuous where edges
cross the cutoff, the topology is the reference one, and the calculator is the model `vimpnn evaluate` runs."""

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk, molecule
from ase.optimize import BFGS

from vimpnn.bonds import perceive_bonds
from vimpnn.calculator import VimpnnCalculator
from vimpnn.cli.main import main
from vimpnn.data.hdf5 import read_dataset
from vimpnn.graphs import GraphDataset
from vimpnn.models import build_model
from vimpnn.nn import radial
from vimpnn.structures.scaling import scaled
from vimpnn.training.checkpoint import model_state, save_atomic
from vimpnn.training.normalise import set_normalisation
from vimpnn.training.trainer import batches

RELEASE = Path(__file__).resolve().parents[1] / "datasets" / "release"
TINY = dict(message=8, edge_width=8, n_rbf=16, variant="a.ii")


def save_model(path, envelope="polynomial", cutoff=4.0, **extra):
    torch.manual_seed(3)
    hparams = dict(TINY, envelope=envelope, rbf_max=cutoff, **extra)
    model = build_model("vimpnn", **hparams)
    save_atomic(model_state(model, "vimpnn", hparams, cutoff, "cutoff"), path)
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_model(tmp_path_factory.mktemp("ckpt") / "best.pt")


def calculator(path, atoms=None, double=True):
    calc = VimpnnCalculator(path, bonds=None if atoms is None else perceive_bonds(atoms))
    if double:
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


def scan(calc, structures):
    out = []
    for a in structures:
        a.calc = calc
        out.append(a.get_potential_energy())
    return np.array(out)


def al_cells(s_values):
    cells = []
    for s in s_values:
        cell = bulk("Al", "fcc", a=4.05 * s)
        cell.info["scale"] = 1.0  # the calculator sees stretched cells as they are: no scale hint
        cells.append(cell)
    return cells


def dimers(d_values):
    return [Atoms("Al2", positions=[[0, 0, 0], [d, 0, 0]]) for d in d_values]


def jump(energies):
    """Largest second difference: a step of size J in a smooth curve shows up as ~J."""
    return float(np.abs(np.diff(energies, 2)).max())


@pytest.mark.parametrize("envelope", ["polynomial", "cosine", "hard"])
def test_energy_is_continuous_through_the_cutoff(tmp_path, monkeypatch, envelope):
    """Al cell (third shell crosses 5 Å at s = 1.0085) and Al2 through the cutoff, steps of 1e-4, with the
    production float32 model: second differences stay at float32 noise. The hard cutoff (envelope switched
    off) must fail the same check, so the scans do cross the cutoff."""
    if envelope == "hard":
        monkeypatch.setattr(radial, "envelope", lambda name, d, rc: (d < rc).to(d.dtype))
        monkeypatch.setattr("vimpnn.models.network.envelope", radial.envelope)
    path = save_model(tmp_path / "best.pt", "polynomial" if envelope == "hard" else envelope, cutoff=5.0)
    calc = calculator(path, double=False)
    cell = scan(calc, al_cells(np.arange(0.95, 1.05 + 5e-5, 1e-4)))
    dimer = scan(calc, dimers(np.arange(4.95, 5.05 + 5e-5, 1e-4)))
    noise = 5e-5  # eV: float32 rounding of O(10) eV node sums, well below any edge's contribution
    if envelope == "hard":
        assert jump(cell) > 20 * noise and jump(dimer) > 20 * noise
    else:
        assert jump(cell) < noise and jump(dimer) < noise


def test_forces_equal_finite_differences_across_the_cutoff(tmp_path):
    calc = calculator(save_model(tmp_path / "best.pt", cutoff=5.0))
    for d in (4.999, 4.9999, 5.0, 5.0001):
        atoms = dimers([d])[0]
        atoms.calc = calc
        fx = atoms.get_forces()[1, 0]
        h = 1e-5
        fd = -(scan(calc, dimers([d + h]))[0] - scan(calc, dimers([d - h]))[0]) / (2 * h)
        assert fx == pytest.approx(fd, abs=1e-7)
    atoms = dimers([5.2])[0]
    atoms.calc = calc
    assert np.abs(atoms.get_forces()).max() == 0.0  # beyond the cutoff: isolated atoms


def test_topology_is_the_reference_one_while_atoms_move(checkpoint):
    """Stretched CH4 and Al keep their bonded edges (they vanished at 1.3x before); perceived once."""
    calc = calculator(checkpoint)
    ch4 = molecule("CH4")
    ch4.calc = calc
    e_ref = ch4.get_potential_energy()
    topology = calc.topology
    stretched = scaled(ch4, 1.4)
    stretched.calc = calc
    stretched.get_potential_energy()
    assert calc.topology is topology and len(topology.bond_pairs) == 4
    with_bonds = calculator(checkpoint, molecule("CH4"))
    stretched2 = scaled(ch4, 1.4)
    stretched2.calc = with_bonds
    assert stretched2.get_potential_energy() == pytest.approx(stretched.get_potential_energy(), abs=1e-10)
    assert stretched.get_potential_energy() != pytest.approx(e_ref, abs=1e-6)
    al = bulk("Al", "fcc", a=4.05)
    al.calc = calculator(checkpoint)
    al.get_potential_energy()
    al.set_cell(al.cell * 1.1, scale_atoms=True)
    al.get_potential_energy()
    assert len(al.calc.topology.bond_pairs) == 1  # the (0, 0) self-image bond of the reference cell


def evaluate_predictions(run, data, out):
    assert main(["evaluate", "--run", str(run), "--data", str(data), "--out", str(out)]) == 0
    with open(out / "predictions.csv") as fh:
        return {int(r["index"]): float(r["energy_pred"]) for r in csv.DictReader(fh)}


@pytest.mark.parametrize("name", ["augqm9", "infcrystal", "growth_stable", "growth_unstable"])
def test_calculator_equals_evaluate_on_release_test_splits(tmp_path, name):
    """Every test structure of the shipped release: the calculator energy is `vimpnn evaluate`'s prediction
    (stored bonds and scale, no RDKit), stretched molecules 1.3-1.5x included."""
    data = RELEASE / f"{name}.h5"
    arrays = read_dataset(data)
    torch.manual_seed(0)
    hparams = dict(TINY, aux=["n_atoms_per_type", "n_orbitals_per_type", "scaling_gaussian"], rbf_max=5.0)
    model = build_model("vimpnn", **hparams)
    dataset = GraphDataset(arrays, cutoff=5.0)
    set_normalisation(model, arrays, arrays.splits["train"], batches(dataset, arrays.splits["train"], 64))
    (tmp_path / "run").mkdir()
    save_atomic(model_state(model, "vimpnn", hparams, 5.0, "cutoff"), tmp_path / "run" / "best.pt")
    pred = evaluate_predictions(tmp_path / "run", data, tmp_path / "eval")
    test = arrays.splits["test"]
    assert len(test) > 0 and set(pred) == set(test.tolist())
    if name == "augqm9":
        assert ((arrays.scale[test] >= 1.3 - 1e-9) & (arrays.scale[test] <= 1.5 + 1e-9)).sum() >= 3
    calc = VimpnnCalculator(tmp_path / "run" / "best.pt")
    for i in test:
        atoms = arrays.atoms(int(i))
        atoms.calc = calc
        assert atoms.get_potential_energy() == pytest.approx(pred[int(i)], abs=1e-5), (name, int(i))
