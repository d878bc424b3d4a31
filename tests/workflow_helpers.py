"""Run the real Snakemake workflow in a scratch copy of the project's workflow files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import ROOT

WORKFLOW_FILES = ("Snakefile", "workflow", "config", "datasets/manifest.yaml", "profiles", "envs")


def workflow_copy(dest: Path, config: dict | None = None) -> Path:
    """A directory holding the workflow (not the results) so each test has its own .snakemake and results."""
    for name in WORKFLOW_FILES:
        src = ROOT / name
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dest / name)
        else:
            shutil.copy(src, dest / name)
    if config is not None:
        (dest / "config" / "test.yaml").write_text(yaml.safe_dump(config))
    return dest


def snakemake_cmd(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("snakemake")), *args]


def env() -> dict[str, str]:
    """PATH with the venv's `vimpnn` first, one thread per process (CI has 2 cores)."""
    e = dict(os.environ)
    e["PATH"] = f"{Path(sys.executable).parent}:{e['PATH']}"
    e.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return e


def run_snakemake(cwd: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(snakemake_cmd(*args), cwd=cwd, env=env(), capture_output=True, text=True, timeout=timeout)


def same_dataset(a: Path, b: Path) -> bool:
    """Two HDF5 datasets hold the same structures, energies, bonds and splits (provenance may differ)."""
    import numpy as np

    from vimpnn.data.hdf5 import read_dataset

    x, y = read_dataset(a), read_dataset(b)
    fields = ("numbers", "positions", "offsets", "energy", "cell", "pbc", "scale", "group", "source_id",
              "bond_offsets", "bond_pairs", "bond_type")
    same_splits = x.splits.keys() == y.splits.keys() and all(np.array_equal(x.splits[k], y.splits[k]) for k in x.splits)
    return all(np.array_equal(getattr(x, f), getattr(y, f)) for f in fields) and same_splits
