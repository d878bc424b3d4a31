"""`vimpnn predict`: energies and per-atom contributions from HDF5 or extxyz input, equal to the ASE
calculator's on the same structures and bonds; checkpoints load with torch.load(weights_only=True)."""

import csv

import ase.io
import numpy as np
import pytest
import torch

from tests.conftest import ROOT
from vimpnn.calculator import VimpnnCalculator
from vimpnn.cli.main import main
from vimpnn.data.hdf5 import read_dataset
from vimpnn.models import build_model
from vimpnn.training.checkpoint import CheckpointError, load, model_state, save_atomic

DATA = ROOT / "datasets" / "release" / "augqm9.h5"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    torch.manual_seed(0)
    hparams = dict(message=8, edge_width=8, n_rbf=16, variant="a.ii")
    run = tmp_path_factory.mktemp("run")
    save_atomic(model_state(build_model("vimpnn", **hparams), "vimpnn", hparams, 5.0, "cutoff"), run / "best.pt")
    return run


def test_predict_matches_the_calculator_and_contributions_sum_up(run_dir, tmp_path):
    assert main(["predict", "--run", str(run_dir), "--in", str(DATA), "--split", "test",
                 "--out", str(tmp_path / "p.csv")]) == 0
    systems = list(csv.DictReader(open(tmp_path / "p.csv")))
    atoms_rows = list(csv.DictReader(open(tmp_path / "p_atoms.csv")))
    data = read_dataset(DATA)
    assert [int(r["index"]) for r in systems] == data.splits["test"].tolist()
    for r in systems:
        i = int(r["index"])
        contrib = [float(a["energy_contribution"]) for a in atoms_rows if int(a["index"]) == i]
        assert sum(contrib) == pytest.approx(float(r["energy_pred"]), abs=1e-6)
        sl = data.bond_slice(i)
        atoms = data.atoms(i)
        atoms.calc = VimpnnCalculator(run_dir / "best.pt", bonds=(data.bond_pairs[sl], data.bond_type[sl]))
        assert atoms.get_potential_energy() == pytest.approx(float(r["energy_pred"]), abs=1e-6)
        assert float(r["energy_ref"]) == data.energy[i]


def test_extxyz_input_gives_the_same_energies_as_hdf5(run_dir, tmp_path):
    main(["export", str(DATA), "--format", "extxyz", "--out", str(tmp_path / "d.extxyz")])
    frames = [a for a in ase.io.read(tmp_path / "d.extxyz", ":") if a.info.get("config_type") != "IsolatedAtom"]
    for a in frames:  # a user's file: no bond tables, no energies; bonds perceived on positions / scale
        del a.info["bonds"]
        a.calc = None
    ase.io.write(tmp_path / "plain.extxyz", frames)
    main(["predict", "--run", str(run_dir), "--in", str(DATA), "--out", str(tmp_path / "a.extxyz")])
    main(["predict", "--run", str(run_dir), "--in", str(tmp_path / "plain.extxyz"), "--out", str(tmp_path / "b.extxyz")])
    a, b = ase.io.read(tmp_path / "a.extxyz", ":"), ase.io.read(tmp_path / "b.extxyz", ":")
    assert [x.info["energy_pred"] for x in a] == pytest.approx([x.info["energy_pred"] for x in b], abs=1e-9)
    assert "energy_ref" in a[0].info and "energy_ref" not in b[0].info
    assert np.sum(a[0].arrays["energy_contribution"]) == pytest.approx(a[0].info["energy_pred"], abs=1e-6)


class Payload:
    """Any class: unpickling it would run code of the pickle's choosing, weights_only refuses it."""


def test_checkpoints_load_without_unpickling_code(tmp_path):
    torch.save({"model_name": "mpnn", "x": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="evil.pt: cannot read checkpoint"):
        load(tmp_path / "evil.pt")


def test_unknown_element_is_named(run_dir, tmp_path):
    from ase import Atoms

    ase.io.write(tmp_path / "si.extxyz", Atoms("Si2", positions=[[0, 0, 0], [0, 0, 2.3]]))
    assert main(["predict", "--run", str(run_dir), "--in", str(tmp_path / "si.extxyz"),
                 "--out", str(tmp_path / "o.csv")]) == 2
