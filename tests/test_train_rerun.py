"""What a workflow rerun of a training job needs: best.pt recreated, changed settings retrained."""

import pytest

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
    import numpy as np

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
