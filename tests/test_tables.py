"""Tables 1-5 from synthetic evaluation directories: every paper row present, numeric cells, right aggregates."""

import csv
import json
import math

import pytest

from vimpnn import paper
from vimpnn.errors import InputFormatError
from vimpnn.experiments import TABLES, Experiments, design, table_rows
from vimpnn.tables import fmt3, write_table

EXP = Experiments.from_config({"experiments": {"seeds": [0, 1]}})


def _write_evals(root, exp):
    """metrics.json per run: MAE = 0.1 + 0.02*seed, so each row's seed mean is 0.11 and seed std 0.01*sqrt(2)."""
    for run in design(exp):
        d = root / run.path
        d.mkdir(parents=True)
        m = 0.1 + 0.02 * run.seed
        dsc = None if run.spec.dataset == "growth_stable" else {"mean": 0.05, "std": 0.01, "n_curves": 3}
        metrics = {"n": 10, "mae": {"mean": m, "std": 0.3}, "mse": {"mean": m * m, "std": 0.1},
                   "re": {"mean": 0.001, "std": 0.0005}, "dsc": dsc, "run": str(run.path), "data": "x.h5"}
        (d / "metrics.json").write_text(json.dumps(metrics))


@pytest.mark.parametrize("table", TABLES)
def test_every_row_with_numeric_cells(tmp_path, table):
    _write_evals(tmp_path / "evals", EXP)
    csv_path, md_path = write_table(table, EXP, tmp_path / "evals", tmp_path / "tables")
    rows = list(csv.DictReader(open(csv_path)))
    assert [r["row"] for r in rows] == [r.label for r in table_rows(table, EXP)]
    for r in rows:
        assert r["n_seeds"] == "2" and r["n_test"] == "10"
        assert float(r["mae_mean"]) == pytest.approx(0.11)
        assert float(r["mae_seed_std"]) == pytest.approx(0.02 / math.sqrt(2))
        assert float(r["mae_test_std"]) == pytest.approx(0.3)
        for key in ("mse_mean", "re_mean", "paper_mae_mean", "paper_mse_mean", "paper_re_mean"):
            float(r[key])
    md = md_path.read_text()
    assert md.count("\n| ") == len(rows) + 1  # header + one line per row
    assert "0.110 ± 0.0141" in md
    assert "paper" in md and paper.SOURCE in md


def test_table2_paper_numbers_and_dsc(tmp_path):
    _write_evals(tmp_path / "evals", EXP)
    csv_path, _ = write_table("table2", EXP, tmp_path / "evals", tmp_path / "tables")
    rows = {r["row"]: r for r in csv.DictReader(open(csv_path))}
    assert float(rows["VIMPNN on augqm9"]["paper_mae_mean"]) == 0.065
    assert float(rows["MPNN on growth_unstable"]["paper_dsc_mean"]) == 0.497
    assert float(rows["VIMPNN on infcrystal"]["dsc_mean"]) == pytest.approx(0.05)
    assert rows["VIMPNN on growth_stable"]["dsc_mean"] == "" == rows["VIMPNN on growth_stable"]["paper_dsc_mean"]


def test_disabled_dataset_rows_say_not_run(tmp_path):
    exp = Experiments.from_config({"experiments": {"seeds": [0], "datasets": ["augqm9"], "tables": ["table2"]}})
    _write_evals(tmp_path / "evals", exp)
    _, md_path = write_table("table2", exp, tmp_path / "evals", tmp_path / "tables")
    lines = [l for l in md_path.read_text().splitlines() if l.startswith("| MPNN")]
    assert len(lines) == 4 and sum("not run" in l for l in lines) == 3


def test_missing_evaluation_names_the_file(tmp_path):
    with pytest.raises(InputFormatError, match="metrics.json"):
        write_table("table1", EXP, tmp_path / "evals", tmp_path / "tables")


@pytest.mark.parametrize(
    "x, text",
    [(0.50999999, "0.510"), (0.51, "0.510"), (0.0038, "0.00380"), (0.47, "0.470"), (100.0, "100"),
     (0.0954, "0.0954"), (0.00132, "0.00132"), (1319.6, "1320"), (6.684, "6.68"), (float("nan"), "")],
)
def test_fmt3_keeps_three_significant_figures(x, text):
    """A mean that rounds up to a trailing zero keeps it: 0.510, not 0.51 (numpy's positional format drops it)."""
    assert fmt3(x) == text
