"""The HTML report gathers tables, figures, runs and dataset provenance into one self-contained page."""

import json
import re

import numpy as np
import pytest
from ase import Atoms

from tests.test_plots import _write_results
from vimpnn.cli.plan import split_atoms
from vimpnn.data.arrays import SystemArrays
from vimpnn.data.hdf5 import write_dataset
from vimpnn.experiments import Experiments, RunSpec, design
from vimpnn.plots import Inputs, make_figure
from vimpnn.report import markdown_table_html, write_report
from vimpnn.tables import write_table

EXP = Experiments.from_config(
    {"experiments": {"seeds": [0, 1], "datasets": ["augqm9", "growth_stable"], "tables": ["table2"],
                     "figures": ["fig3", "fig6"]}}
)


def _dataset(path):
    atoms = [Atoms("Cu2", positions=[[0, 0, 0], [0, 0, 2.5 * s]], info={"group": 0, "scale": s}) for s in (0.9, 1.0, 1.2)]
    arrays = SystemArrays.from_atoms(atoms, [-10.0, -12.0, -11.0], attrs={"dft_backend": "emt", "dft_settings": {"x": 1}})
    arrays.splits = {"train": np.array([0]), "val": np.array([1]), "test": np.array([2])}
    write_dataset(path, arrays)


def test_report_is_self_contained(tmp_path):
    _write_results(tmp_path, EXP)
    for run in design(EXP):
        d = tmp_path / "evals" / run.path
        (d / "metrics.json").write_text(json.dumps(
            {"n": 5, "mae": {"mean": 0.2, "std": 0.1}, "mse": {"mean": 0.05, "std": 0.01}, "re": {"mean": 0.01, "std": 0.0},
             "dsc": None}))
        (tmp_path / "runs" / run.path / "train.json").write_text(json.dumps(
            {"epochs_run": 5, "best_epoch": 4, "best_val_mae": 0.3, "device": "cpu", "wall_time_s": 12.5}))
    write_table("table2", EXP, tmp_path / "evals", tmp_path / "tables")
    for f in ("fig3", "fig6"):
        make_figure(f, Inputs(EXP, tmp_path / "evals", tmp_path / "runs"), tmp_path / "figures")
    _dataset(tmp_path / "growth_stable.h5")
    out = write_report(EXP, tmp_path / "tables", tmp_path / "figures", tmp_path / "runs",
                       {"growth_stable": tmp_path / "growth_stable.h5"}, tmp_path / "report" / "report.html")
    page = out.read_text()
    assert page.count("data:image/png;base64,") == 2 and "<img src='results" not in page
    assert "Table 2" in page and "VIMPNN on growth_stable" in page and "0.0650 (0.197)" in page
    assert "-12.000 … -10.000" in page  # energy range of the dataset
    assert "emt" in page and "dft_settings" in page
    assert f"{len(design(EXP))} runs, {12.5 * len(design(EXP)):.0f} s of training" in page


def test_markdown_table_html_keeps_every_cell():
    text = "### Title\n\n| a | b |\n|---|---|\n| 1 | x<y |\n\nnote\n"
    html = markdown_table_html(text)
    assert "<h3>Title</h3>" in html and "<td>x&lt;y</td>" in html and html.count("<tr>") == 2


def test_plan_counts_growth_atoms_by_hand():
    config = {"growth": {"min_size": 15, "max_size": 20, "elements": ["Al", "Cu"],
                         "unstable": {"n_seeds": 2, "scalings": {"n": 3}, "split": {"train": 0.5, "val": 0.25}}}}
    spec = RunSpec("growth_unstable", "mpnn", max_atoms=18)
    train, val = split_atoms(spec, config)
    # 2 elements x 2 seeds x 3 scalings = 12 growth-scalings, each with sizes 15..18 = 66 atoms
    assert train == 12 * 0.5 * 66 and val == 12 * 0.25 * 66
    train25, _ = split_atoms(RunSpec("growth_unstable", "mpnn", max_atoms=18, max_train_atoms=16), config)
    assert train25 == 12 * 0.5 * (15 + 16)


def test_dsc_cell_is_empty_for_an_unbracketed_curve(tmp_path):
    """infcrystal scanned from s = 1.02 with the minimum near 1.0 (the artefact that printed '0 (0) ± 0'): the
    curve is excluded from DSC, the report's DSC cell is empty; a bracketed curve gets a number and its count."""
    from vimpnn import metrics

    exp = Experiments.from_config({"experiments": {"seeds": [0], "datasets": ["augqm9", "infcrystal"],
                                                   "tables": ["table2"], "figures": []}})
    s = np.linspace(1.02, 1.5, 8)
    for run in design(exp):
        lo = 1.0 if run.spec.dataset == "infcrystal" else 1.2  # reference minimum outside / inside the scan
        ref, pred = (s - lo) ** 2, (s - lo - 0.03) ** 2
        summary = metrics.summarise(pred, ref, s, np.zeros(8), np.full(8, 2.0), None)
        d = tmp_path / "evals" / run.path
        d.mkdir(parents=True)
        (d / "metrics.json").write_text(json.dumps(summary))
    write_table("table2", exp, tmp_path / "evals", tmp_path / "tables")
    page = write_report(exp, tmp_path / "tables", tmp_path / "figures", tmp_path / "runs", {},
                        tmp_path / "report.html").read_text()
    header = re.search(r"<tr>(<th>.*?</th>)</tr>", page)[1]
    col = re.findall(r"<th>(.*?)</th>", header).index("DSC [Å] ours")
    cells = {row[0]: row for row in (re.findall(r"<td>(.*?)</td>", tr) for tr in re.findall(r"<tr>(<td>.*?)</tr>", page))}
    assert cells["MPNN on infcrystal"][col] == "" and cells["VIMPNN on infcrystal"][col] == ""
    assert cells["MPNN on augqm9"][col] == "0.0600 (1 curve)"  # |1.23 - 1.20| x 2 Å


def test_suspicious_runs_are_flagged():
    from vimpnn.report import suspicious

    assert suspicious({"best_epoch": 1, "epochs_run": 51, "stopped_early": True}, 360) == "best epoch 1"
    assert suspicious({"best_epoch": 1, "epochs_run": 11, "stopped_early": True}, 360) == \
        "best epoch 1; stopped early at epoch 11 of 360"
    assert suspicious({"best_epoch": 3, "epochs_run": 15, "stopped_early": True}, 360) == \
        "stopped early at epoch 15 of 360"
    assert suspicious({"best_epoch": 40, "epochs_run": 90, "stopped_early": True}, 360) == ""
    assert suspicious({"best_epoch": 1, "epochs_run": 1, "stopped_early": False}, 1) == ""  # a 1-epoch run


def test_plan_reports_the_fast_level_dataset_time(tmp_path, capsys):
    """Structures counted from the config, times measured now: core-hours = structures x measured time."""
    import re

    import yaml

    from vimpnn.cli.main import main
    from vimpnn.structures.datasets import count_systems

    config = {"datasets": ["augqm9", "growth_stable"], "qm9": {"n_molecules": 3}, "augqm9": {"scalings": {"n": 2}},
              "growth": {"max_size": 17, "stable": {"n_seeds": 1}},
              "experiments": {"seeds": [0], "datasets": ["augqm9"], "tables": ["table2"], "figures": []}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["plan", "--config", str(tmp_path / "c.yaml"), "--atoms-per-second", "1000", "--fast-sample", "3",
                 "--cores", "2"]) == 0
    out = capsys.readouterr().out
    rows = {m[0]: m[1:] for m in re.findall(r"^(augqm9|growth_stable)\s+([\d,]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$",
                                            out, re.MULTILINE)}
    assert set(rows) == {"augqm9", "growth_stable"} and "GPU-hours" in out
    for name, (n, ms, core_h, wall_h) in rows.items():
        assert int(n.replace(",", "")) == count_systems(name, config) and float(ms) > 0
        assert float(core_h) == pytest.approx(int(n) * float(ms) / 3.6e6, abs=0.006)
        assert float(wall_h) == pytest.approx(float(core_h) / 2, abs=0.006)


def test_plan_without_a_throughput_gives_the_dataset_time_and_says_why_no_training_estimate(tmp_path, capsys):
    """`plan --config` with no measured run: the fast-level time, then one line naming the missing flags (exit 0);
    with neither the fast level nor a throughput there is nothing to report, and it fails with that line."""
    import yaml

    from vimpnn.cli.main import main

    config = {"datasets": ["augqm9"], "qm9": {"n_molecules": 2}, "augqm9": {"scalings": {"n": 2}},
              "experiments": {"seeds": [0], "datasets": ["augqm9"], "tables": ["table2"], "figures": []}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["plan", "--config", str(tmp_path / "c.yaml"), "--fast-sample", "2"]) == 0
    out = capsys.readouterr().out
    assert "augqm9" in out and "training: not estimated" in out and "--atoms-per-second" in out
    assert main(["plan", "--config", str(tmp_path / "c.yaml"), "--fast-sample", "0"]) != 0
    assert "no throughput" in capsys.readouterr().err
