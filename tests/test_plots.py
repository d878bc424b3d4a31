"""Figures from synthetic evaluation/run directories, and curve extraction on curves with known minima."""

import csv

import numpy as np
import pytest

from vimpnn.experiments import Experiments, design
from vimpnn.plots import Inputs, element_of, extract_curves, make_figure, moving_atom_scan, read_predictions

EXP = Experiments.from_config({"experiments": {"seeds": [0, 1], "epochs": 3}})
SCALES = np.linspace(0.9, 1.5, 7)


def _systems(dataset):
    """(group, formula, n_atoms, scale, E_ref) rows: parabolas E = 5 (s - s0)^2 - 100 with s0 off the grid."""
    if dataset == "augqm9":
        return [(g, "CH4", 5, s, 5 * (s - 1.03 - 0.01 * g) ** 2 - 100) for g in range(4) for s in SCALES]
    if dataset == "infcrystal":
        return [(g, el, 1, s, 5 * (s - 1.07) ** 2 - 50) for g, el in enumerate(("Al", "Cu")) for s in SCALES]
    if dataset == "growth_stable":
        return [(g, f"{el}{n}", n, 1.0, -10.0 * n) for g, el in enumerate(("Al", "Cu")) for n in range(15, 40)]
    return [(10 * g + n, f"{el}{n}", n, s, 5 * (s - 1.1) ** 2 - 10.0 * n)
            for g, el in enumerate(("Al", "Cu")) for n in (15, 30, 75) for s in SCALES]


def _write_results(root, exp):
    for run in design(exp):
        rows = _systems(run.spec.dataset)
        rng = np.random.default_rng(run.seed)
        d = root / "evals" / run.path
        d.mkdir(parents=True)
        with open(d / "predictions.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["index", "group", "source_id", "scale", "n_atoms", "formula", "energy_ref", "energy_pred"])
            for i, (g, f, n, s, e) in enumerate(rows):
                w.writerow([i, g, n, s, n, f, e, e + 0.1 * rng.normal() + 0.01 * n])
        r = root / "runs" / run.path
        r.mkdir(parents=True)
        epochs = np.arange(1, 6)
        with open(r / "log.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["epoch", "train_loss", "val_mae", "lr", "seconds"])
            for e in epochs:
                w.writerow([e, 1.0 / e, 0.5 / e + 0.01 * run.seed, 1e-4, 0.1])


def test_extract_curves_known_minima(tmp_path):
    """Curves come out grouped and sorted, and vimpnn.metrics finds each parabola's off-grid minimum on them."""
    from vimpnn import metrics

    _write_results(tmp_path, EXP)
    run = next(r for r in design(EXP) if r.spec.dataset == "augqm9")
    pred = read_predictions(tmp_path / "evals" / run.path / "predictions.csv")
    curves = extract_curves(pred)
    assert [c.group for c in curves] == [0, 1, 2, 3]
    for c in curves:
        assert np.all(np.diff(c.scale) > 0) and len(c.scale) == 7
        assert metrics.curve_minimum(c.scale, c.ref) == pytest.approx(1.03 + 0.01 * c.group, abs=1e-9)
        shifted = 5 * (c.scale - 1.13 - 0.01 * c.group) ** 2 - 100  # minimum moved by exactly 0.1 in s
        dsc = metrics.dsc_per_curve(c.scale, c.ref, shifted, np.full(7, c.group), np.full(7, 1.5))
        assert dsc == {c.group: pytest.approx(0.15, abs=1e-9)}  # 0.1 x 1.5 Å characteristic length
    stable = next(r for r in design(EXP) if r.spec.dataset == "growth_stable")
    assert extract_curves(read_predictions(tmp_path / "evals" / stable.path / "predictions.csv")) == []


def test_element_of():
    assert element_of("Cu15") == "Cu" and element_of("Al") == "Al" and element_of("CH4") == "mixed"


def test_moving_atom_scan_moves_one_atom_along_the_centroid_line():
    from ase import Atoms

    atoms = Atoms("Cu3", positions=[[0, 0, 0], [2, 0, 0], [1, 3, 0]])
    scan = moving_atom_scan(atoms, 2, np.array([1.0, 2.0]))
    np.testing.assert_allclose(scan[0].positions, atoms.positions)
    np.testing.assert_allclose(scan[1].positions[2], [1, 6, 0])
    np.testing.assert_allclose(scan[1].positions[:2], atoms.positions[:2])


@pytest.mark.parametrize("figure", ["fig3", "fig4", "fig5", "fig6", "training", "parity"])
def test_figures_are_written(tmp_path, figure):
    _write_results(tmp_path, EXP)
    paths = make_figure(figure, Inputs(EXP, tmp_path / "evals", tmp_path / "runs"), tmp_path / "figures")
    assert [p.suffix for p in paths] == [".png", ".svg"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths[0].stat().st_size > 10_000
    assert "<svg" in paths[1].read_text()[:2000]


def test_learning_curve_plots_mean_test_mae_per_training_size(tmp_path, monkeypatch):
    """x: training molecules (the full-split run at the split's group count), y: mean test MAE over seeds."""
    from pathlib import Path

    from vimpnn import plots

    exp = Experiments.from_config({"experiments": {"seeds": [0, 1], "datasets": ["augqm9"], "tables": [],
                                                   "figures": ["learning_curve"], "learning_curve": {"n_groups": [1, 2]}}})
    _write_results(tmp_path, exp)
    monkeypatch.setattr(plots, "train_group_count", lambda path, max_atoms: 3)
    fig = plots.learning_curve(Inputs(exp, tmp_path / "evals", tmp_path / "runs", {"augqm9": Path("unused.h5")}))
    lines = [container.lines[0] for container in fig.axes[0].containers]  # errorbar data lines
    assert len(lines) == 2  # MPNN and VIMPNN
    expected = []
    for seed in (0, 1):
        p = read_predictions(tmp_path / "evals" / f"augqm9/mpnn-T3/seed{seed}" / "predictions.csv")
        expected.append(np.abs(p["energy_pred"] - p["energy_ref"]).mean())
    assert list(lines[0].get_xdata()) == [1, 2, 3]
    assert lines[0].get_ydata()[-1] == pytest.approx(np.mean(expected))


def test_train_group_count_of_the_fast_release():
    from pathlib import Path

    from vimpnn.plots import train_group_count

    data = Path(__file__).parents[1] / "datasets" / "fast" / "augqm9.h5"
    assert train_group_count(data, None) == 800  # 1,000 molecules split 8:1:1 by molecule
    assert train_group_count(data, 5) < 800  # molecules with more than 5 atoms leave the count


@pytest.mark.parametrize("span, labelled", [((0.1, 2.0), {0.1, 0.2, 0.5, 1.0, 2.0}), ((1e-8, 20.0), None)])
def test_log_axis_labels_stay_readable(span, labelled):
    """1-2-5 labels on a short log axis; only powers of ten when it spans many decades (a training loss from 20
    down to 1e-8 had 30 labels piled on each other)."""
    from vimpnn import plots

    plt = plots._pyplot()
    fig, ax = plt.subplots()
    ax.plot([0, 1], span)
    plots._log_axis(ax)
    low, high = ax.get_ylim()
    ticks = [t for t in ax.get_yticks() if low <= t <= high]
    mantissas = {round(t / 10 ** np.floor(np.log10(t)), 6) for t in ticks}
    if labelled is None:
        assert mantissas == {1.0} and 5 <= len(ticks) <= 11
    else:
        assert labelled <= {round(t, 6) for t in ticks}
    plt.close(fig)


def test_close_value_labels_are_pushed_apart():
    """Two means 5 % apart at one x get labels at least `gap` points apart, the higher value's label on top."""
    from vimpnn import plots

    plt = plots._pyplot()
    fig, ax = plt.subplots()
    ax.plot([100, 800], [0.5, 0.09])
    ax.set_xscale("log")
    plots._log_axis(ax)
    plots._label_points(ax, [(800, 0.0954, "0.0954", "C1"), (800, 0.0902, "0.0902", "C0"), (100, 0.5, "0.5", "C0")])
    placed = {a.get_text(): a for a in ax.texts}
    to_pt = 72 / fig.dpi
    top = ax.transData.transform((800, 0.0954))[1] * to_pt + placed["0.0954"].xyann[1]
    bottom = ax.transData.transform((800, 0.0902))[1] * to_pt + placed["0.0902"].xyann[1]
    assert top - bottom >= 10.0 - 1e-9
    assert placed["0.5"].xyann == (6, 5)
    plt.close(fig)
