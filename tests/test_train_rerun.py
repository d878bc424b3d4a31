"""What a workflow rerun of a training job needs: best.pt recreated, changed settings retrained."""

import numpy as np
import pytest
import torch

from tests.test_training import SMALL, emt_arrays, read_log
from vimpnn.training import TrainConfig, train
from vimpnn.training.checkpoint import CheckpointError


def test_rerun_after_snakemake_deleted_best_pt_recreates_it_without_training(tmp_path):
    arrays = emt_arrays(12)
    config = TrainConfig(model="mpnn", epochs=3, **SMALL)
    first = train(arrays, config, tmp_path)
    best = (tmp_path / "best.pt").read_bytes()
    (tmp_path / "best.pt").unlink()  # what Snakemake does to declared outputs before rerunning a job
    again = train(arrays, config, tmp_path)
    assert (tmp_path / "best.pt").read_bytes() == best
    assert again["epochs_run"] == first["epochs_run"] == 3 and len(read_log(tmp_path)) == 3


def test_recreated_best_pt_holds_the_best_epochs_weights_not_the_last(tmp_path):
    """last.pt keeps a copy of the best checkpoint; a state_dict shares the parameters' storage, so without a
    copy it followed every later optimiser step and a rerun wrote the last epoch's weights as best.pt."""
    arrays = emt_arrays(12)
    config = TrainConfig(model="mpnn", epochs=6, lr=0.1, **SMALL)  # unstable: the best epoch comes early
    summary = train(arrays, config, tmp_path)
    assert summary["best_epoch"] < summary["epochs_run"]
    best = torch.load(tmp_path / "best.pt", weights_only=True)
    (tmp_path / "best.pt").unlink()
    train(arrays, config, tmp_path)
    again = torch.load(tmp_path / "best.pt", weights_only=True)
    assert all(torch.equal(best["state_dict"][k], again["state_dict"][k]) for k in best["state_dict"])


def test_changed_settings_fail_or_retrain(tmp_path):
    arrays = emt_arrays(12)
    train(arrays, TrainConfig(model="mpnn", epochs=2, **SMALL), tmp_path)
    changed = TrainConfig(model="mpnn", epochs=2, **{**SMALL, "message": 8})
    with pytest.raises(CheckpointError, match="settings differ"):
        train(arrays, changed, tmp_path)
    summary = train(arrays, changed, tmp_path, restart_on_change=True)
    assert summary["epochs_run"] == 2 and [r["epoch"] for r in read_log(tmp_path)] == ["1", "2"]
    assert (tmp_path / "last.pt.replaced").exists()


def test_element_missing_from_training_keeps_its_free_atom_energy():
    """With reference energies in the file, an unseen element is not given a zero baseline."""

    from vimpnn.training.normalise import fit_energy_baseline

    arrays = emt_arrays(12)
    train = np.flatnonzero(~np.isin(np.arange(12), [1, 5, 9]))  # drop CH4 (k % 4 == 1): no C in training
    arrays.attrs["reference_energies"] = {"energies": {"H": -13.6, "C": -146.0, "O": -431.6}}
    elements = (1, 6, 8, 13, 29)
    baseline, _ = fit_energy_baseline(arrays, train, elements)
    assert baseline[1] == pytest.approx(-146.0)
    # the elements present are still fitted: training residuals are at the least-squares optimum
    without, _ = fit_energy_baseline(emt_arrays(12), train, elements)
    assert np.isfinite(baseline).all() and without[1] == 0.0


def test_replaced_data_at_the_same_path_retrains_or_stops(tmp_path, capsys):
    """Issue 14.1: a rerun after the HDF5 file was replaced by other data must not report the old best.pt."""
    import yaml

    from vimpnn.cli.main import main
    from vimpnn.data.hdf5 import read_dataset, write_dataset
    from vimpnn.graphs import GraphDataset
    from vimpnn.training import load_model, predict
    from vimpnn.training.checkpoint import load

    data, run, cfg = tmp_path / "d.h5", tmp_path / "run", tmp_path / "train.yaml"
    cfg.write_text(yaml.safe_dump(SMALL))
    args = ["train", "--data", str(data), "--out", str(run), "--model", "mpnn", "--epochs", "2", "--config", str(cfg)]
    write_dataset(data, emt_arrays(12))
    assert main(args) == 0
    other = emt_arrays(12)
    other.energy = 1.5 * other.energy  # other data (not a per-atom shift, which the baseline absorbs), same path
    write_dataset(data, other)
    capsys.readouterr()

    assert main(args) == 2  # the plain CLI stops: resuming would mix two datasets in one model
    err = capsys.readouterr().err
    assert "d.h5" in err and "changed" in err and len(err.strip().splitlines()) == 1

    assert main(args + ["--restart-on-change"]) == 0  # the workflow trains anew on the new data
    assert [r["epoch"] for r in read_log(run)] == ["1", "2"]
    best = load(run / "best.pt")
    assert best["data_sha256"] == read_dataset(data).attrs["content_sha256"]
    model, ckpt = load_model(run / "best.pt")
    val = other.splits["val"]
    pred = predict(model, GraphDataset(other, cutoff=ckpt["cutoff"]), val, 64, torch.device("cpu"))
    assert ckpt["val_mae"] == pytest.approx(float(np.abs(pred - other.energy[val]).mean()), rel=1e-6)
    assert yaml.safe_load((run / "config.yaml").read_text())["data_sha256"] == best["data_sha256"]
