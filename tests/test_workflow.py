import time

import pytest
import yaml

from tests.workflow_helpers import run_snakemake, workflow_copy


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
