"""A wheel built from the repository, installed in a fresh venv outside the checkout, finds its package data:
`vimpnn structures` reads the shipped QM9, `vimpnn dft` renders the CP2K templates and runs CP2K, and
`vimpnn predict` runs a checkpoint on a dataset file."""

import csv
import shutil
import subprocess
import sys

import pytest
import torch

from tests.conftest import ROOT
from vimpnn.cli.main import main
from vimpnn.models import build_model
from vimpnn.training.checkpoint import model_state, save_atomic


def _run(cmd, cwd, timeout=900):
    out = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                         env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "HOME": str(cwd)})
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return out.stdout


@pytest.mark.slow
@pytest.mark.cp2k
def test_wheel_outside_the_checkout_runs_structures_dft_and_predict(tmp_path):
    if shutil.which("cp2k.psmp") is None:
        pytest.fail("cp2k.psmp not on PATH (make cp2k installs it)")
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp_path / "dist", ROOT], tmp_path)
    (wheel,) = (tmp_path / "dist").glob("vimpnn-*.whl")
    _run([sys.executable, "-m", "venv", tmp_path / "venv"], tmp_path)
    pip = tmp_path / "venv" / "bin" / "pip"
    _run([pip, "install", "-q", "torch==2.13.0"], tmp_path)  # the CPU build from the local find-links
    _run([pip, "install", "-q", f"{wheel}[dft]"], tmp_path)
    vimpnn = tmp_path / "venv" / "bin" / "vimpnn"
    work = tmp_path / "work"
    work.mkdir()
    where = _run([tmp_path / "venv" / "bin" / "python", "-c", "import vimpnn; print(vimpnn.__file__)"], work)
    assert where.startswith(str(tmp_path / "venv")) and str(ROOT) not in where

    (work / "cfg.yaml").write_text("seed: 0\nqm9: {source: shipped, path: null, n_molecules: 1}\n"
                                   "augqm9: {scalings: {min: 0.9, max: 1.5, n: 3}}\n")
    out = _run([vimpnn, "structures", "--dataset", "augqm9", "--config", "cfg.yaml", "--out", "s.extxyz"], work)
    assert "wrote 3 augqm9 systems" in out
    (work / "dft.yaml").write_text("backend: cp2k\ncache_dir: cache\ncutoff: 250\nrel_cutoff: 40\n"
                                   "eps_scf: 1.0e-5\nvacuum: 3.0\n")
    out = _run([vimpnn, "dft", "--in", "s.extxyz", "--stop", "1", "--settings", "dft.yaml", "--out", "r.jsonl"], work)
    assert "1 ok, 0 failed" in out

    torch.manual_seed(0)
    hparams = dict(message=8, edge_width=8, n_rbf=16)
    (work / "run").mkdir()
    save_atomic(model_state(build_model("mpnn", **hparams), "mpnn", hparams, 5.0, "cutoff"), work / "run" / "best.pt")
    shutil.copy(ROOT / "datasets" / "release" / "augqm9.h5", work / "d.h5")
    _run([vimpnn, "predict", "--run", "run", "--in", "d.h5", "--split", "test", "--out", "p.csv"], work)
    rows = list(csv.DictReader(open(work / "p.csv")))
    assert main(["predict", "--run", str(work / "run"), "--in", str(work / "d.h5"), "--split", "test",
                 "--out", str(tmp_path / "here.csv")]) == 0  # the checkout's code, same checkpoint and data
    here = list(csv.DictReader(open(tmp_path / "here.csv")))
    assert len(rows) == 10 and [r["system_id"] for r in rows] == [r["system_id"] for r in here]
    assert [float(r["energy_pred"]) for r in rows] == pytest.approx([float(r["energy_pred"]) for r in here], abs=1e-9)
