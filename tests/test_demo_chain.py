"""The whole chain under Snakemake on EMT energies: datasets -> train_all -> evaluate -> tables -> figures -> report."""

import csv
import math

import pytest

from tests.test_workflow import EMT_CONFIG
from tests.workflow_helpers import run_snakemake, workflow_copy
from vimpnn.experiments import TABLES, Experiments, table_rows

CHAIN_CONFIG = {
    **EMT_CONFIG,
    # 4 molecules (CH4, NH3, H2O, C2H2): the test molecule's elements are in training (evaluate refuses others)
    "qm9": {**EMT_CONFIG["qm9"], "n_molecules": 4},
    # 3 growths per element, so splitting growth lineages 60/20/20 per element leaves a test growth of each
    # 3 scalings per cluster for the energy curves of Fig 5
    "growth": {**EMT_CONFIG["growth"], "stable": {"n_seeds": 3},
               "unstable": {"n_seeds": 3, "scalings": {"min": 0.9, "max": 1.5, "n": 3}}},
    "workflow": {**EMT_CONFIG["workflow"], "chunk_size": {"augqm9": 9, "infcrystal": 12, "growth_stable": 4,
                                                          "growth_unstable": 8}},
    "train": {"message": 8, "edge_width": 16, "n_rbf": 12, "epochs": 2},
    "experiments": {"seeds": [0], "epochs": 2, "resources": {"gpu": 0, "threads": 1, "mem_mb": 1000, "runtime": 10}},
}


@pytest.mark.slow
@pytest.mark.ci
def test_demo_chain_produces_every_table_row_with_numbers_and_the_report(tmp_path):
    wd = workflow_copy(tmp_path, CHAIN_CONFIG)
    res = run_snakemake(wd, "--cores", "2", "--configfile=config/test.yaml", "all", timeout=1200)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    exp = Experiments.from_config(CHAIN_CONFIG)
    for table in TABLES:
        with open(wd / "results" / "tables" / f"{table}.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == len(table_rows(table, exp))
        for row in rows:
            for metric in ("mae", "mse", "re"):
                assert math.isfinite(float(row[f"{metric}_mean"])), (table, row)
    assert (wd / "results" / "report" / "report.html").stat().st_size > 10_000
    # a second run has nothing to do: finished runs are not retrained
    res = run_snakemake(wd, "-n", "--configfile=config/test.yaml", "all")
    assert "Nothing to be done" in res.stdout + res.stderr
