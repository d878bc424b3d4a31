"""The peer model: schnetpack's SchNet trained on our splits, its run directory read by `vimpnn evaluate`."""

import csv
import json

import numpy as np
import pytest

from tests.test_training import emt_arrays, read_log
from vimpnn.cli.main import main
from vimpnn.data.hdf5 import read_dataset, write_dataset
from vimpnn.training.checkpoint import CheckpointError, load, load_model

# schnetpack's matscipy neighbour list hands torch tensors to ase.Atoms, which numpy 2 warns about
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
SMALL = ["--epochs", "2", "--batch-size", "4", "--no-progress"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """EMT energies of Al/Cu fcc cells (periodic) and CH4/H2O (molecules), written as a dataset file."""
    path = tmp_path_factory.mktemp("peer") / "emt.h5"
    write_dataset(path, emt_arrays(12))
    return path


@pytest.fixture(scope="module")
def peer_run(data, tmp_path_factory):
    run = tmp_path_factory.mktemp("peer") / "run"
    assert main(["train-peer", "--data", str(data), "--out", str(run), "--seed", "3", *SMALL]) == 0
    return run


def _header(path):
    with open(path, newline="") as fh:
        return next(csv.reader(fh))


def test_peer_run_is_evaluated_with_our_files_and_columns(data, peer_run, tmp_path):
    assert {"best.pt", "last.pt", "log.csv", "train.json", "config.yaml"} <= {p.name for p in peer_run.iterdir()}
    summary = json.loads((peer_run / "train.json").read_text())
    assert summary["model"] == "schnet" and summary["epochs_run"] == 2 and summary["framework"].startswith("schnetpack")
    assert [r["epoch"] for r in read_log(peer_run)] == ["1", "2"]
    ours = tmp_path / "ours"
    assert main(["train", "--data", str(data), "--out", str(ours), "--model", "mpnn", "--epochs", "1",
                 "--no-progress"]) == 0
    for run, out in ((peer_run, tmp_path / "eval_peer"), (ours, tmp_path / "eval_ours")):
        assert main(["evaluate", "--run", str(run), "--data", str(data), "--out", str(out)]) == 0
    peer, mine = tmp_path / "eval_peer", tmp_path / "eval_ours"
    for name in ("predictions.csv", "metrics.csv"):
        assert _header(peer / name) == _header(mine / name)
    metrics = json.loads((peer / "metrics.json").read_text())
    assert metrics.keys() == json.loads((mine / "metrics.json").read_text()).keys()
    assert np.isfinite(metrics["mae"]["mean"]) and metrics["n"] == 4


def test_peer_predictions_match_schnetpacks_own_ase_path(data, peer_run, tmp_path):
    """Independent check of our inputs (matscipy neighbour list, periodic images, batching): schnetpack's
    AtomsConverter with ASE's neighbour list, one structure at a time, gives the same energies."""
    import schnetpack as spk

    from vimpnn.peer import build_schnet

    out = tmp_path / "eval"
    assert main(["evaluate", "--run", str(peer_run), "--data", str(data), "--split", "train", "--out", str(out)]) == 0
    with open(out / "predictions.csv", newline="") as fh:
        ours = {int(r["index"]): float(r["energy_pred"]) for r in csv.DictReader(fh)}
    ckpt = load(peer_run / "best.pt")
    model = build_schnet(ckpt["hparams"])
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    convert = spk.interfaces.AtomsConverter(neighbor_list=spk.transform.ASENeighborList(cutoff=ckpt["cutoff"]))
    arrays, atomref = read_dataset(data), np.asarray(ckpt["atomref"])
    assert arrays.pbc.any() and not arrays.pbc.all()  # periodic cells and molecules
    for i, energy in ours.items():
        atoms = arrays.atoms(i)
        theirs = float(model(convert(atoms))["energy"].detach()) + atomref[atoms.numbers].sum()
        assert energy == pytest.approx(theirs, abs=1e-4), i


def test_resume_refuses_other_settings_or_data_and_predict_names_the_peer(data, peer_run, tmp_path, capsys):
    assert main(["train-peer", "--data", str(data), "--out", str(peer_run), "--seed", "3", "--cutoff", "4.0",
                 *SMALL]) == 2
    assert "cannot resume, settings differ" in capsys.readouterr().err
    other = read_dataset(data)
    other.energy[0] += 0.1
    write_dataset(tmp_path / "other.h5", other)
    assert main(["train-peer", "--data", str(tmp_path / "other.h5"), "--out", str(peer_run), "--seed", "3", *SMALL]) == 2
    assert "changed since it was trained" in capsys.readouterr().err
    with pytest.raises(CheckpointError, match="train-peer"):
        load_model(peer_run / "best.pt")


def test_loss_falls_on_a_tiny_overfit_set_seeds_repeat_and_resume_continues(data, tmp_path):
    args = ["--data", str(data), "--batch-size", "2", "--seed", "1", "--no-progress"]
    assert main(["train-peer", *args, "--epochs", "8", "--out", str(tmp_path / "a")]) == 0
    loss = [float(r["train_loss"]) for r in read_log(tmp_path / "a")]
    assert loss[-1] < 0.5 * loss[0], loss
    assert main(["train-peer", *args, "--epochs", "2", "--out", str(tmp_path / "b")]) == 0
    assert [float(r["train_loss"]) for r in read_log(tmp_path / "b")] == loss[:2]  # same seed, same batches
    assert main(["train-peer", *args, "--epochs", "3", "--out", str(tmp_path / "b")]) == 0  # resumes at epoch 3
    resumed = read_log(tmp_path / "b")
    assert [float(r["train_loss"]) for r in resumed] == loss[:3]
    assert float(resumed[2]["val_mae"]) == float(read_log(tmp_path / "a")[2]["val_mae"])  # EMA weights restored too
