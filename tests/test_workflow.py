import shutil
import time

import pytest
import yaml

from tests.conftest import ROOT
from tests.workflow_helpers import run_snakemake, same_dataset, workflow_copy


def test_paper_scale_plans_a_few_thousand_chunk_jobs_quickly(tmp_path):
    wd = workflow_copy(tmp_path)
    t0 = time.perf_counter()
    res = run_snakemake(wd, "-n", "datasets")
    elapsed = time.perf_counter() - t0
    assert res.returncode == 0, res.stderr[-2000:]
    out = res.stdout + res.stderr
    # 100,000/50 + 40,000/50 + 4,000/10 + 10,000/20 chunk jobs instead of 154,000 single structures
    assert any(line.split()[:2] == ["dft_chunk", "3700"] for line in out.splitlines())
    assert elapsed < 60


def test_lint_is_clean(tmp_path):
    res = run_snakemake(workflow_copy(tmp_path), "--lint", "--configfile=config/demo.yaml")
    out = res.stdout + res.stderr
    assert res.returncode == 0 and "Lints for" not in out and "workflow is in a good condition" in out, out[-3000:]


@pytest.mark.parametrize("peer", [False, True])
def test_dry_run_trains_the_peer_only_when_enabled(tmp_path, peer):
    cfg = yaml.safe_load(open(workflow_copy(tmp_path) / "config" / "demo.yaml"))
    shutil.copytree(ROOT / "datasets" / "fast", tmp_path / "datasets" / "fast")  # the demo trains on these
    cfg["experiments"].update(peer=peer, tables=["table2"])
    (tmp_path / "config" / "peer.yaml").write_text(yaml.safe_dump(cfg))
    res = run_snakemake(tmp_path, "-n", "-p", "--configfile=config/peer.yaml", "results/tables/table2.md")
    assert res.returncode == 0, res.stderr[-2000:]
    peer_jobs = [line for line in res.stdout.splitlines() if "vimpnn train-peer" in line]
    assert len(peer_jobs) == (len(cfg["experiments"]["datasets"]) * len(cfg["experiments"]["seeds"]) if peer else 0)
    assert all("--config" not in line and "--restart-on-change" in line for line in peer_jobs)
    assert ("results/evals/augqm9/schnet-first50/seed0/metrics.json" in res.stdout) == peer  # demo: 50 molecules


def test_schema_error_names_the_key(tmp_path):
    cfg = yaml.safe_load(open(workflow_copy(tmp_path) / "config" / "demo.yaml"))
    cfg["infcrystal"]["scalingz"] = cfg["infcrystal"].pop("scalings")
    (tmp_path / "config" / "bad.yaml").write_text(yaml.safe_dump(cfg))
    res = run_snakemake(tmp_path, "-n", "--configfile=config/bad.yaml", "datasets")
    assert res.returncode != 0
    out = res.stdout + res.stderr
    assert "scalingz" in out and "Additional properties are not allowed" in out
    cfg["infcrystal"]["scalings"] = cfg["infcrystal"].pop("scalingz")
    cfg["infcrystal"]["elements"] = ["Al", "Au"]
    (tmp_path / "config" / "bad.yaml").write_text(yaml.safe_dump(cfg))
    res = run_snakemake(tmp_path, "-n", "--configfile=config/bad.yaml", "datasets")
    assert res.returncode != 0 and "'Au' is not one of" in res.stdout + res.stderr


def test_slurm_profile_dry_run_places_rules(tmp_path):
    pytest.importorskip("snakemake_executor_plugin_slurm")
    wd = workflow_copy(tmp_path)
    res = run_snakemake(wd, "-n", "--profile", "profiles/slurm", "--configfile=config/demo.yaml", "datasets")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "dft_chunk" in res.stdout


EMT_CONFIG = {
    "seed": 0,
    "qm9": {"source": "shipped", "path": None, "n_molecules": 3},
    "augqm9": {"scalings": {"min": 0.9, "max": 1.5, "n": 3}, "split": {"train": 0.34, "val": 0.33, "test": 0.33}},
    "infcrystal": {"elements": ["Al", "Cu"], "cell": "primitive", "scalings": {"min": 0.9, "max": 1.5, "n": 6},
                   "n_train_per_element": 2},
    "growth": {"elements": ["Al", "Cu"], "min_size": 15, "max_size": 16, "stable": {"n_seeds": 1},
               "unstable": {"n_seeds": 1, "scalings": {"min": 0.9, "max": 1.5, "n": 2}}},
    "dft": {"backend": "emt", "cache_dir": "results/dft/cache"},
    "workflow": {"chunk_size": {"augqm9": 1, "infcrystal": 2, "growth_stable": 1, "growth_unstable": 2}, "dft_threads": 1},
}


@pytest.mark.slow
@pytest.mark.ci
def test_kill_9_then_rerun_incomplete_reuses_cache_and_matches_uninterrupted_run(tmp_path):
    """snakemake datasets (EMT) killed with SIGKILL mid-run, rerun: cached structures are not recomputed."""
    import os
    import signal
    import subprocess

    from tests.workflow_helpers import env, snakemake_cmd

    ref = workflow_copy(tmp_path / "ref", EMT_CONFIG)
    res = run_snakemake(ref, "--cores", "2", "--configfile=config/test.yaml", "datasets")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]

    wd = workflow_copy(tmp_path / "killed", EMT_CONFIG)
    proc = subprocess.Popen(snakemake_cmd("--cores", "1", "--configfile=config/test.yaml", "datasets"), cwd=wd,
                            env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    cache = wd / "results" / "dft" / "cache"
    deadline = time.time() + 300
    while time.time() < deadline and len(list(cache.rglob("*.json"))) < 6:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {p: p.stat().st_mtime_ns for p in cache.rglob("*.json")}
    assert 6 <= len(before) and not (wd / "results/datasets/growth_unstable.h5").exists()

    # what a user does after a SIGKILL: release Snakemake's lock, rerun with --rerun-incomplete
    assert run_snakemake(wd, "--unlock", "--configfile=config/test.yaml").returncode == 0
    res = run_snakemake(wd, "--cores", "2", "--rerun-incomplete", "--configfile=config/test.yaml", "datasets")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())  # finished structures were not recomputed
    for name in ("augqm9", "infcrystal", "growth_stable", "growth_unstable"):
        assert same_dataset(wd / f"results/datasets/{name}.h5", ref / f"results/datasets/{name}.h5")


@pytest.mark.slow
@pytest.mark.ci
def test_fast_level_workflow_end_to_end(tmp_path):
    """`dft.backend: fast` through Snakemake: xTB molecules, EMT clusters, forces in every file, equal to tblite."""
    import numpy as np
    from tblite.ase import TBLite

    from vimpnn.data.hdf5 import read_dataset

    config = {**EMT_CONFIG, "qm9": {**EMT_CONFIG["qm9"], "n_molecules": 2}, "datasets": ["augqm9", "growth_unstable"],
              "dft": {"backend": "fast", "cache_dir": "results/dft/cache"},
              "workflow": {**EMT_CONFIG["workflow"], "chunk_size": {"augqm9": 4, "infcrystal": 12, "growth_stable": 2,
                                                                     "growth_unstable": 4}}}
    wd = workflow_copy(tmp_path, config)
    res = run_snakemake(wd, "--cores", "2", "--configfile=config/test.yaml", "datasets")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    for name, backend, n in (("augqm9", "xtb", 6), ("growth_unstable", "emt", 8)):
        data = read_dataset(wd / f"results/datasets/{name}.h5")
        assert data.attrs["dft_backend"] == backend and data.forces.shape == data.positions.shape
        assert not data.failed and len(data) == n
        if name == "augqm9":
            assert [v.split()[0] + " " + v.split()[-1] for v in data.attrs["code_version"]] == ["tblite GFN2-xTB"]
            assert set(data.attrs["reference_energies"]["energies"]) == {"H", "C", "N"}
            for i in (0, 5):
                atoms = data.atoms(i)
                atoms.calc = TBLite(method="GFN2-xTB", verbosity=0)
                assert data.energy[i] == pytest.approx(atoms.get_potential_energy(), abs=1e-8)
                np.testing.assert_allclose(data.forces[data.atom_slice(i)], atoms.get_forces(), atol=1e-8)
