"""Trainer: learns (overfits 20 EMT structures), baseline fit, size filters, exact and killed-process resume,
the train -> evaluate command line."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml
from ase.build import bulk, molecule
from ase.calculators.emt import EMT

from vimpnn.bonds import perceive_bonds
from vimpnn.cli.main import main
from vimpnn.data import SystemArrays
from vimpnn.training import TrainConfig, train
from vimpnn.training.normalise import fit_energy_baseline
from vimpnn.training import trainer
from vimpnn.training.trainer import linear_lr_factor, select_splits

SMALL = dict(message=16, edge_width=32, n_rbf=16, rbf_max=6.0, batch_size=5)


def emt_arrays(n=20) -> SystemArrays:
    """Al and Cu fcc cells and CH4/H2O molecules over scalings 0.9-1.5, labelled by ASE's EMT."""
    structures = []
    for k in range(n):
        s = 0.9 + 0.6 * k / (n - 1)
        if k % 2 == 0:
            atoms = bulk("Al", "fcc", a=4.05 * s) if k % 4 == 0 else bulk("Cu", "fcc", a=3.61 * s)
        else:
            atoms = molecule("CH4" if k % 4 == 1 else "H2O")
            c = atoms.positions.mean(axis=0)
            atoms.positions = c + (atoms.positions - c) * s
        atoms.info.update(scale=s, group=k % 4, source_id=k)
        structures.append(atoms)
    energies = []
    for atoms in structures:
        atoms.calc = EMT()
        energies.append(atoms.get_potential_energy())
    arrays = SystemArrays.from_atoms(structures, energies, [perceive_bonds(a, a.info["scale"]) for a in structures])
    idx = np.arange(n)
    arrays.splits = {"train": idx, "val": idx[::3], "test": idx[1::3]}
    return arrays


@pytest.fixture(scope="module")
def arrays():
    return emt_arrays()


def read_log(run):
    with open(run / "log.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_overfits_twenty_emt_structures(arrays, tmp_path):
    arrays.splits["val"] = arrays.splits["train"]  # validation MAE = training MAE
    config = TrainConfig(model="vimpnn", epochs=200, lr=3e-3, lr_patience=20, **SMALL)
    summary = train(arrays, config, tmp_path)
    print(f"overfit MAE after {summary['epochs_run']} epochs (800 steps): {summary['best_val_mae']:.5f} eV")
    assert np.ptp(arrays.energy) > 5.0  # energies span > 5 eV ...
    assert summary["best_val_mae"] < 0.02  # ... and are fitted to better than 20 meV


def test_baseline_recovers_per_element_energies():
    per_element = {1: -0.5, 6: -2.0, 8: -3.0, 13: -1.0, 29: -4.0}
    structures = [molecule(m) for m in ("CH4", "H2O", "C2H6", "CO2", "H2")]
    structures += [bulk("Al", "fcc", a=4.0), bulk("Cu", "fcc", a=3.6, cubic=True)]
    energies = [sum(per_element[int(z)] for z in a.numbers) for a in structures]
    synthetic = SystemArrays.from_atoms(structures, energies)
    baseline, _ = fit_energy_baseline(synthetic, np.arange(len(structures)), (1, 6, 7, 8, 9, 13, 29))
    assert baseline == pytest.approx([-0.5, -2.0, 0.0, -3.0, 0.0, -1.0, -4.0], abs=1e-9)


def test_size_filters(arrays):
    splits = select_splits(arrays, TrainConfig(max_train_atoms=3), "x")
    assert set(arrays.n_atoms[splits["train"]]) == {1, 3}
    assert 5 in arrays.n_atoms[splits["val"]]
    splits = select_splits(arrays, TrainConfig(max_atoms=1), "x")
    assert all(arrays.n_atoms[splits[k]].max() == 1 for k in ("train", "val", "test"))


def test_max_train_groups_keeps_whole_nested_groups():
    group = np.array([7, 7, 3, 3, 3, 9, 5, 5, 1])
    index = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8])
    first2 = trainer.first_groups(group, index, 2, "x")
    assert first2.tolist() == [0, 1, 2, 3, 4]  # groups 7 and 3, in order of appearance, every member
    assert set(first2) <= set(trainer.first_groups(group, index, 3, "x"))  # nested
    with pytest.raises(trainer.SplitError, match="max_train_groups 6 exceeds the 5 groups"):
        trainer.first_groups(group, index, 6, "x")


def test_resume_of_a_run_saved_before_a_config_key_existed(arrays, tmp_path):
    """A key added later (exclude_state_changed) compares as its default, so runs of older vimpnn still resume."""
    import torch

    config = dict(model="mpnn", **SMALL)
    train(arrays, TrainConfig(epochs=1, **config), tmp_path)
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    del state["config"]["exclude_state_changed"]
    torch.save(state, tmp_path / "last.pt")
    assert train(arrays, TrainConfig(epochs=2, **config), tmp_path)["epochs_run"] == 2
    with pytest.raises(Exception, match="exclude_state_changed"):
        train(arrays, TrainConfig(epochs=3, exclude_state_changed=False, **config), tmp_path)


@pytest.mark.parametrize("schedule", ["plateau", "linear"])
def test_resume_continues_exactly(arrays, tmp_path, monkeypatch, schedule):
    """plateau: a finished 2-epoch run extended to 4; linear (its ramp depends on the epoch count): a 4-epoch
    run interrupted after epoch 2, then resumed."""
    config = dict(model="mpnn", lr=1e-3, lr_schedule=schedule, **SMALL)
    train(arrays, TrainConfig(epochs=4, **config), tmp_path / "straight")
    if schedule == "plateau":
        train(arrays, TrainConfig(epochs=2, **config), tmp_path / "resumed")
    else:
        append = trainer.append_log

        def killed_at_epoch_3(path, row):
            if row[0] == 3:
                raise KeyboardInterrupt
            append(path, row)

        monkeypatch.setattr(trainer, "append_log", killed_at_epoch_3)
        with pytest.raises(KeyboardInterrupt):
            train(arrays, TrainConfig(epochs=4, **config), tmp_path / "resumed")
        monkeypatch.setattr(trainer, "append_log", append)
    summary = train(arrays, TrainConfig(epochs=4, **config), tmp_path / "resumed")
    straight, resumed = read_log(tmp_path / "straight"), read_log(tmp_path / "resumed")
    assert [r["epoch"] for r in resumed] == ["1", "2", "3", "4"]
    for a, b in zip(straight, resumed):
        assert float(a["train_loss"]) == pytest.approx(float(b["train_loss"]), rel=1e-9)
        assert float(a["val_mae"]) == pytest.approx(float(b["val_mae"]), rel=1e-9)
    assert summary["best_val_mae"] == pytest.approx(min(float(r["val_mae"]) for r in straight), rel=1e-9)


def test_killed_training_resumes_then_evaluates(arrays, tmp_path):
    from vimpnn.data.hdf5 import write_dataset

    data, run, ev = tmp_path / "emt.h5", tmp_path / "run", tmp_path / "eval"
    write_dataset(data, arrays)
    (tmp_path / "train.yaml").write_text(yaml.safe_dump({"train": {**SMALL, "lr": 1e-3, "model": "mpnn"}}))
    args = ["train", "--data", str(data), "--config", str(tmp_path / "train.yaml"), "--model", "vimpnn",
            "--variant", "b.ii", "--aux", "n_atoms_per_type,scaling_gaussian", "--out", str(run)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "vimpnn.cli.main", *args, "--epochs", "10000"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and not ((run / "log.csv").exists() and len(read_log(run)) >= 3):
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = len(read_log(run))
    assert killed_at >= 3 and (run / "last.pt").exists() and (run / "best.pt").exists()

    assert main([*args, "--epochs", str(killed_at + 2)]) == 0
    log = read_log(run)
    assert [int(r["epoch"]) for r in log] == list(range(1, killed_at + 3))  # the counter continued
    summary = json.loads((run / "train.json").read_text())
    assert summary["epochs_run"] == killed_at + 2
    assert summary["best_val_mae"] == pytest.approx(min(float(r["val_mae"]) for r in log))
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert (config["model"], config["variant"], config["lr"]) == ("vimpnn", "b.ii", 1e-3)  # flag > file
    assert config["aux"] == ["n_atoms_per_type", "scaling_gaussian"]
    assert not list(run.glob("*.tmp"))

    assert main(["evaluate", "--run", str(run), "--data", str(data), "--out", str(ev)]) == 0
    metrics = json.loads((ev / "metrics.json").read_text())
    assert metrics["n"] == len(arrays.splits["test"]) and {"mae", "mse", "re", "dsc", "run", "data"} <= set(metrics)
    with open(ev / "predictions.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["index", "group", "source_id", "scale", "n_atoms", "formula", "energy_ref",
                             "energy_pred"]
    assert [int(r["index"]) for r in rows] == arrays.splits["test"].tolist()
    assert {r["formula"] for r in rows} >= {"CH4", "H2O"}
    mae = np.mean([abs(float(r["energy_ref"]) - float(r["energy_pred"])) for r in rows])
    assert metrics["mae"]["mean"] == pytest.approx(mae)


def test_training_and_evaluation_import_neither_ase_nor_rdkit():
    code = ("import sys, vimpnn.graphs, vimpnn.models, vimpnn.training, vimpnn.metrics, vimpnn.cli.train, "
            "vimpnn.cli.evaluate; print(sorted({m.split('.')[0] for m in sys.modules} & {'ase', 'rdkit'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_linear_schedule_is_nmp_qc_ramp(arrays, tmp_path):
    """nmp_qc (360 epochs, decay 0.6, schedule [0.1, 0.9]): lr flat until epoch 36, then down by
    0.4 lr / 288 per epoch through epoch 323, then flat at 1 - 0.4 x 287 / 288 = 0.6014."""
    f = [linear_lr_factor(e, 360, 0.6, [0.1, 0.9]) for e in range(360)]
    assert f[:37] == [1.0] * 37
    assert f[37] == pytest.approx(1 - 0.4 / 288) and f[323] == pytest.approx(1 - 0.4 * 287 / 288)
    assert f[323:] == [f[323]] * 37
    assert np.allclose(np.diff(f[36:324]), -0.4 / 288)
    train(arrays, TrainConfig(epochs=10, model="mpnn", lr=1e-3, **SMALL), tmp_path / "run")
    lr = [float(r["lr"]) for r in read_log(tmp_path / "run")]
    # logged after the epoch's step: the rate of the next epoch; 10 epochs: drops at k = 2..8 by 0.4e-3 / 8
    assert lr == pytest.approx([1e-3 - 0.05e-3 * min(max(e - 1, 0), 7) for e in range(1, 11)])
