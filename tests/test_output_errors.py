"""Issues 14.7, 15.4: an unwritable output folder or a full disk is one line naming the path, with no `.tmp` left behind;
evaluating a model on elements it never saw in training is an error naming them.

A full disk is simulated with a file-size limit (RLIMIT_FSIZE): the kernel then fails every write that grows a
file (EFBIG), whatever library writes it (h5py, torch, ASE, plain Python), as a real ENOSPC would.
"""

import resource
import signal
from contextlib import contextmanager

import numpy as np
import pytest
import yaml

from tests.conftest import ROOT
from tests.test_training import SMALL, emt_arrays
from vimpnn.cli.main import main
from vimpnn.data.hdf5 import write_dataset


@contextmanager
def disk_full():
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Inputs of every writer: structures, EMT results (cached), a dataset file, a trained run, a manifest."""
    tmp = tmp_path_factory.mktemp("inputs")
    s, r, d, run = tmp / "s.extxyz", tmp / "r.jsonl", tmp / "d.h5", tmp / "run"
    demo = str(ROOT / "config/demo.yaml")
    assert main(["structures", "--dataset", "infcrystal", "--config", demo, "--out", str(s)]) == 0
    assert main(["dft", "--in", str(s), "--out", str(r), "--backend", "emt", "--cache", str(tmp / "cache"),
                 "--no-progress"]) == 0
    assert main(["dft-refs", "--elements", "Al,Cu", "--backend", "emt", "--cache", str(tmp / "cache"),
                 "--out", str(tmp / "refs.json")]) == 0
    arrays = emt_arrays(12)
    arrays.system_id = np.array([f"emt-{k}" for k in range(len(arrays))], dtype=object)  # ASE db: ids not numbers
    write_dataset(d, arrays)
    (tmp / "train.yaml").write_text(yaml.safe_dump(SMALL))
    assert main(["train", "--data", str(d), "--out", str(run), "--model", "mpnn", "--epochs", "1",
                 "--config", str(tmp / "train.yaml")]) == 0
    (tmp / "release").mkdir()
    (tmp / "release" / "x.h5").write_bytes(d.read_bytes())
    from vimpnn.data.download import sha256sum

    entry = {"name": "x.h5", "url": "release/x.h5", "sha256": sha256sum(d), "size": d.stat().st_size}
    (tmp / "manifest.yaml").write_text(yaml.safe_dump({"files": [entry]}))
    return {"s": str(s), "r": str(r), "d": str(d), "run": str(run), "cache": str(tmp / "cache"), "demo": demo,
            "train": str(tmp / "train.yaml"), "manifest": str(tmp / "manifest.yaml")}


# command -> (argv with {out} the output folder, the file the error must name)
WRITERS = {
    "structures": (["structures", "--dataset", "infcrystal", "--config", "{demo}", "--out", "{out}/s.extxyz"], "s.extxyz"),
    "dft": (["dft", "--in", "{s}", "--out", "{out}/r.jsonl", "--backend", "emt", "--cache", "{cache}", "--no-progress"],
            "r.jsonl"),
    "dft-refs": (["dft-refs", "--elements", "Al,Cu", "--backend", "emt", "--cache", "{cache}", "--out", "{out}/refs.json"],
                 "refs.json"),
    "pack": (["pack", "--dataset", "infcrystal", "--structures", "{s}", "--results", "{r}", "--config", "{demo}",
              "--out", "{out}/d.h5"], "d.h5"),
    "train": (["train", "--data", "{d}", "--out", "{out}/run", "--model", "mpnn", "--epochs", "1", "--config", "{train}"],
              "run"),
    "evaluate": (["evaluate", "--run", "{run}", "--data", "{d}", "--out", "{out}/eval"], "eval"),
    "download": (["download", "--manifest", "{manifest}", "--name", "x.h5", "--out", "{out}/x.h5", "--no-progress"],
                 "x.h5"),
    "predict-csv": (["predict", "--run", "{run}", "--in", "{d}", "--out", "{out}/p.csv", "--device", "cpu"], "p"),
    "predict-extxyz": (["predict", "--run", "{run}", "--in", "{d}", "--out", "{out}/p.extxyz", "--device", "cpu"],
                       "p.extxyz"),
    "export-extxyz": (["export", "{d}", "--format", "extxyz", "--out", "{out}/e.extxyz"], "e.extxyz"),
    "export-ase-db": (["export", "{d}", "--format", "ase-db", "--out", "{out}/e.db"], "e"),
    "export-mace": (["export", "{d}", "--format", "mace", "--out", "{out}/mace"], "mace"),
}


@pytest.mark.parametrize("failure", ["folder is a file", "disk full"])
@pytest.mark.parametrize("command", list(WRITERS))
def test_write_error_is_one_line_naming_the_path_and_leaves_no_tmp(command, failure, inputs, tmp_path, capsys):
    argv, name = WRITERS[command]
    out = tmp_path / "out"
    if failure == "folder is a file":  # root may write anywhere, so an unwritable folder is a path through a file
        out.write_text("")
    else:
        out.mkdir()
    argv = [a.format(out=out, **inputs) for a in argv]
    capsys.readouterr()
    if failure == "disk full":
        with disk_full():
            rc = main(argv)
    else:
        rc = main(argv)
    # progress lines (`<date> <time> INFO ...`) may come first; the error itself is one line, no traceback
    err = [line for line in capsys.readouterr().err.strip().splitlines() if " INFO " not in line]
    assert rc == 2 and len(err) == 1 and str(out) in err[0] and name in err[0] and "cannot write" in err[0], err
    left = sorted(p.name for p in tmp_path.rglob("*") if ".tmp" in p.name or p.is_file() and p != out)
    assert left == [], left  # neither temporary files nor half-written outputs


def test_evaluating_or_predicting_on_elements_never_seen_in_training_is_an_error(tmp_path, capsys):
    """Issue 14.7: a molecule model evaluated on Al/Cu crystals wrote metrics (MAE 654 eV) without a word."""
    arrays = emt_arrays(12)
    molecules = np.flatnonzero(arrays.n_atoms > 1)  # CH4 and H2O; the fcc cells are one-atom Al and Cu
    metals = np.flatnonzero(arrays.n_atoms == 1)
    train_set, test_set = arrays.subset(molecules), arrays.subset(metals)
    idx = np.arange(len(molecules))
    train_set.splits = {"train": idx, "val": idx, "test": idx}
    test_set.splits = {"test": np.arange(len(metals))}
    write_dataset(tmp_path / "molecules.h5", train_set)
    write_dataset(tmp_path / "metals.h5", test_set)
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(SMALL))
    assert main(["train", "--data", str(tmp_path / "molecules.h5"), "--out", str(tmp_path / "run"), "--model", "mpnn",
                 "--epochs", "1", "--config", str(tmp_path / "train.yaml")]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--run", str(tmp_path / "run"), "--data", str(tmp_path / "metals.h5"),
                 "--out", str(tmp_path / "eval")]) == 2
    err = capsys.readouterr().err.strip()
    assert "Al, Cu" in err and "never saw in training" in err and "H, C" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "eval" / "metrics.json").exists()
    assert main(["evaluate", "--run", str(tmp_path / "run"), "--data", str(tmp_path / "molecules.h5"),
                 "--out", str(tmp_path / "eval")]) == 0  # the elements it was trained on: metrics as before
    # Issue 15.5: predict printed an MAE of hundreds of eV for the same crystals; structures without energies too
    from ase.io import write

    write(tmp_path / "metals.extxyz", [test_set.atoms(i) for i in range(len(test_set))], format="extxyz")
    for inp in ("metals.h5", "metals.extxyz"):
        capsys.readouterr()
        assert main(["predict", "--run", str(tmp_path / "run"), "--in", str(tmp_path / inp),
                     "--out", str(tmp_path / "p.csv"), "--device", "cpu"]) == 2
        err = capsys.readouterr().err.strip()
        assert f"{inp} holds Al, Cu, which the model" in err and len(err.splitlines()) == 1, err
        assert not (tmp_path / "p.csv").exists()
