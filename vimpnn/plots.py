"""Figures 3-7 of the paper, training curves and parity plots, from evaluation directories, run directories and
checkpoints.

Every figure is written as PNG and SVG with the matplotlib Agg backend (no display needed on cluster
nodes). Energies are plotted relative to a per-curve reference (eV) because total energies of
different systems differ by thousands of eV; units are on every axis. A model has one colour in every
figure (`model_color`: MPNN dark blue, VIMPNN light blue, DFT black, other variants a fixed palette) and
seeds differ by line style.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from vimpnn.errors import InputFormatError
from vimpnn.metrics import curve_minimum
from vimpnn.experiments import Experiments, RunSpec, figure_datasets, figure_specs, full_vimpnn, mpnn, seeds_of
from vimpnn.tables import fmt3

PREDICTION_COLUMNS = ("index", "group", "source_id", "scale", "n_atoms", "formula", "energy_ref", "energy_pred")
COLORS = {"DFT": "black", "MPNN": "#1f3b73", "VIMPNN": "#5aa9e6", "VIMPNN (no atom-type head)": "#2ca02c",
          "VIMPNN, trained on small systems": "#d62728", "SchNet (schnetpack)": "#ff7f0e"}
# every other run kind (ablations, variants), in a fixed order so a kind keeps its colour across figures
OTHER_COLORS = ("#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
                "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2")
SEED_STYLES = ("-", "--", ":", "-.")


def model_color(spec: RunSpec) -> str:
    """The colour of a run kind in every figure: MPNN and VIMPNN (a.ii + all heads) fixed, the others by tag."""
    if spec.model == "schnet":
        return COLORS["SchNet (schnetpack)"]
    if spec.model == "mpnn" and not spec.aux and spec.T == 3:
        return COLORS["MPNN"]
    if spec.model == "vimpnn" and spec.variant == "a.ii" and len(spec.aux) == 3 and spec.T == 3:
        return COLORS["VIMPNN" if spec.max_train_atoms is None else "VIMPNN, trained on small systems"]
    key = spec.tag.replace(f"-le{spec.max_atoms}", "")  # the same kind on every dataset
    return OTHER_COLORS[sum(map(ord, key)) % len(OTHER_COLORS)]


def _log_axis(ax) -> None:
    """Log y axis labelled with plain numbers (0.2, 0.5, 1, 2) instead of 2×10⁰; call it after plotting. Over
    more than 3 decades only the powers of ten are labelled: 1-2-5 ticks there pile up into an unreadable column."""
    from matplotlib import ticker

    ax.set_yscale("log")
    low, high = ax.get_ylim()
    subs = (1.0,) if np.log10(high / low) > 3 else (1.0, 2.0, 5.0)
    ax.yaxis.set_major_locator(ticker.LogLocator(base=10, subs=subs))
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())


def _pyplot():
    from vimpnn.extras import require

    matplotlib = require("matplotlib", "drawing figures")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 11, "axes.titlesize": 11, "legend.fontsize": 9, "figure.dpi": 100})
    return plt


def _read_columns(path: Path, columns: tuple[str, ...], what: str, text: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """The named columns of a CSV file as arrays (numeric unless listed in `text`); errors name the file."""
    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    except FileNotFoundError:
        raise InputFormatError(f"{path}: {what} missing") from None
    missing = [c for c in columns if rows and c not in rows[0]]
    if missing or not rows:
        raise InputFormatError(f"{path}: no rows or missing column(s) {missing or list(columns)}")
    return {c: np.array([r[c] for r in rows]) if c in text else np.array([float(r[c]) for r in rows]) for c in columns}


def read_predictions(path: Path) -> dict[str, np.ndarray]:
    """predictions.csv (docs/architecture.md) as columns; formula stays text, the rest numeric."""
    return _read_columns(path, PREDICTION_COLUMNS, "predictions (run `snakemake evaluate` first)", text=("formula",))


@dataclass
class Curve:
    """One energy curve: a molecule's scalings, an element's lattice scan or a cluster's scalings."""

    group: int
    formula: str
    n_atoms: int
    scale: np.ndarray  # sorted ascending
    ref: np.ndarray  # eV
    pred: np.ndarray  # eV

    @property
    def mae(self) -> float:
        return float(np.abs(self.pred - self.ref).mean())


def extract_curves(pred: dict[str, np.ndarray], min_points: int = 3) -> list[Curve]:
    """Group predictions by `group` into curves sorted by scale; groups with fewer than `min_points` distinct
    scalings (e.g. the stable growth subset) are not curves and are skipped."""
    curves = []
    for g in np.unique(pred["group"]):
        idx = np.flatnonzero(pred["group"] == g)
        idx = idx[np.argsort(pred["scale"][idx], kind="stable")]
        if len(np.unique(pred["scale"][idx])) < min_points:
            continue
        curves.append(
            Curve(int(g), str(pred["formula"][idx[0]]), int(pred["n_atoms"][idx[0]]), pred["scale"][idx],
                  pred["energy_ref"][idx], pred["energy_pred"][idx])
        )
    return curves


def element_of(formula: str) -> str:
    """The element of a single-element formula ('Cu15' -> 'Cu'), else 'mixed'."""
    elements = set(re.findall(r"[A-Z][a-z]?", formula))
    return elements.pop() if len(elements) == 1 else "mixed"


def save(fig, out_dir: Path, name: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.png", out_dir / f"{name}.svg"]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    _pyplot().close(fig)
    return paths


class Inputs:
    """Where a figure's inputs live: evaluation and run roots, dataset files."""

    def __init__(self, exp: Experiments, evals: Path, runs: Path, data: dict[str, Path] | None = None):
        self.exp, self.evals, self.runs, self.data = exp, Path(evals), Path(runs), dict(data or {})

    def predictions(self, spec: RunSpec) -> list[dict[str, np.ndarray]]:
        return [read_predictions(self.evals / run.path / "predictions.csv") for run in seeds_of(spec, self.exp)]


def _model_label(spec: RunSpec) -> str:
    if spec.model == "mpnn":
        return "MPNN"
    return "VIMPNN" if "n_atoms_per_type" in spec.aux else "VIMPNN (no atom-type head)"


def _pick_curves(curves: list[Curve], chosen: list[int] | None, how: str) -> list[Curve]:
    """Configured groups, else contrasting cases: the lowest and highest MPNN error (`how='error'`), or the
    smallest and largest system of each element (`how='size'`)."""
    if chosen:
        by_group = {c.group: c for c in curves}
        missing = [g for g in chosen if g not in by_group]
        if missing:
            raise InputFormatError(f"experiments.curves: group(s) {missing} not in the test split")
        return [by_group[g] for g in chosen]
    if how == "size":  # per element, so both metals appear
        out = []
        for element in sorted({element_of(c.formula) for c in curves}):
            ordered = sorted((c for c in curves if element_of(c.formula) == element), key=lambda c: (c.n_atoms, c.group))
            out += [ordered[0], ordered[-1]] if len(ordered) > 1 else ordered
        return out
    ordered = sorted(curves, key=lambda c: (c.mae, c.group))
    return [ordered[0], ordered[-1]] if len(ordered) > 2 else ordered


def _curve_name(c: Curve) -> str:
    return f"{c.formula} ({c.n_atoms} atom{'s' * (c.n_atoms != 1)})"


def energy_curves(inputs: Inputs, datasets: list[str], how: str) -> object:
    """Fig 3 / Fig 5: DFT vs MPNN vs VIMPNN energy along chosen curves (first seed of each model); dotted
    vertical lines mark each curve's minimum as DSC locates it (vimpnn.metrics.curve_minimum).

    Fig 3 (`how='error'`): one panel per curve. Fig 5 (`how='size'`): one panel per element with its smallest
    (solid) and largest (dashed) test cluster."""
    plt = _pyplot()
    panels: list[tuple[str, list[tuple[Curve, Curve]]]] = []
    for d in datasets:
        mpnn_spec, vimpnn_spec = mpnn(inputs.exp, d), full_vimpnn(inputs.exp, d)
        mpnn_curves = {c.group: c for c in extract_curves(inputs.predictions(mpnn_spec)[0])}
        vimpnn_curves = {c.group: c for c in extract_curves(inputs.predictions(vimpnn_spec)[0])}
        chosen = _pick_curves(list(mpnn_curves.values()), inputs.exp.curves.get(d), how)
        if how == "size":
            for element in sorted({element_of(c.formula) for c in chosen}):
                pairs = [(c, vimpnn_curves[c.group]) for c in chosen if element_of(c.formula) == element]
                panels.append((f"{d}: {element}", pairs))
        else:
            panels += [(f"{d}: {_curve_name(c)}", [(c, vimpnn_curves[c.group])]) for c in chosen]
    if not panels:
        raise InputFormatError(f"no energy curves (>= 3 scalings per group) in the test splits of {datasets}")
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 3.9), squeeze=False)
    for ax, (title, pairs) in zip(axes[0], panels):
        for k, (m, v) in enumerate(pairs):
            e0 = m.ref.min()
            ls = SEED_STYLES[k % len(SEED_STYLES)]
            suffix = f", {_curve_name(m)}" if len(pairs) > 1 else ""
            for x, y, marker, name in ((m.scale, m.ref, "o", "DFT"), (m.scale, m.pred, "s", "MPNN"),
                                       (v.scale, v.pred, "^", "VIMPNN")):
                label = ("DFT reference" if name == "DFT" else name) + suffix
                ax.plot(x, y - e0, marker=marker, ls=ls, ms=4, color=COLORS[name], label=label)
                ax.axvline(curve_minimum(x, y), color=COLORS[name], ls=":", lw=1)
        ax.set_title(title)
        ax.set_xlabel("scaling factor s (× equilibrium geometry)")
        ax.set_ylabel("E − min E_DFT (eV)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def per_element_error(inputs: Inputs) -> object:
    """Fig 4: test MAE per element for each model (bars: mean over seeds, error bars: std over seeds)."""
    plt = _pyplot()
    datasets = figure_datasets("fig4", inputs.exp)
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.5 * len(datasets), 3.8), squeeze=False)
    for ax, d in zip(axes[0], datasets):
        specs = [s for s in figure_specs("fig4", inputs.exp) if s.dataset == d]
        first = inputs.predictions(specs[0])[0]
        element = np.array([element_of(f) for f in first["formula"]])
        elements = sorted(set(element.tolist()))
        width = 0.8 / len(specs)
        for k, spec in enumerate(specs):
            per_seed = []
            for p in inputs.predictions(spec):
                err = np.abs(p["energy_pred"] - p["energy_ref"])
                el = np.array([element_of(f) for f in p["formula"]])
                per_seed.append([err[el == e].mean() for e in elements])
            per_seed = np.array(per_seed)
            x = np.arange(len(elements)) + (k - (len(specs) - 1) / 2) * width
            label = _model_label(spec)
            ax.bar(x, per_seed.mean(0), width, yerr=per_seed.std(0), capsize=3, label=label, color=model_color(spec))
        counts = [int(np.sum(element == e)) for e in elements]
        ax.set_xticks(np.arange(len(elements)), [f"{e}\n(n = {n})" for e, n in zip(elements, counts)])
        ax.set_title(d)
        ax.set_xlabel("element")
        ax.set_ylabel("test MAE (eV)")
        ax.grid(alpha=0.3, axis="y")
    handles = {label: h for ax in axes[0] for h, label in zip(*ax.get_legend_handles_labels())}
    fig.legend(handles.values(), handles.keys(), loc="upper center", ncol=len(handles), bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return fig


def mae_vs_size(inputs: Inputs) -> object:
    """Fig 6: test MAE per system size, trained on all sizes vs on small systems only (mean ± std over seeds)."""
    plt = _pyplot()
    (d,) = figure_datasets("fig6", inputs.exp)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    limit = inputs.exp.fig6_max_train_atoms
    for spec, style in zip(figure_specs("fig6", inputs.exp), ("o-", "s--")):
        color = model_color(spec)
        preds = inputs.predictions(spec)
        sizes = np.unique(preds[0]["n_atoms"]).astype(int)
        mae = np.array([[np.abs(p["energy_pred"] - p["energy_ref"])[p["n_atoms"] == n].mean() for n in sizes] for p in preds])
        label = f"trained on ≤ {spec.max_train_atoms} atoms" if spec.max_train_atoms else "trained on all sizes"
        ax.plot(sizes, mae.mean(0), style, ms=4, color=color, label=label)
        ax.fill_between(sizes, mae.mean(0) - mae.std(0), mae.mean(0) + mae.std(0), color=color, alpha=0.2)
    ax.axvline(limit, color="gray", ls=":", label=f"{limit} atoms")
    ax.set_xlabel("system size (atoms)")
    ax.set_ylabel("test MAE (eV)")
    ax.set_title(f"{d}: VIMPNN error vs system size")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def moving_atom_scan(atoms, moving: int, factors: np.ndarray):
    """Copies of `atoms` with atom `moving` placed at c + f (p - c) for each f, where c is the centroid
    of the other atoms and p the atom's position: the atom approaches (f < 1) or leaves (f > 1) the cluster."""
    rest = np.delete(np.arange(len(atoms)), moving)
    c = atoms.positions[rest].mean(0)
    p = atoms.positions[moving]
    out = []
    for f in factors:
        a = atoms.copy()
        a.positions[moving] = c + f * (p - c)
        out.append(a)
    return out


def node_contributions(checkpoint: Path, atoms, moving: int, factors: np.ndarray) -> dict[str, np.ndarray]:
    """Per-atom energies (the calculator's `energies`, eV) along a moving-atom scan, and the moving atom's
    distance to its nearest static neighbour (Å). The topology is that of `atoms` (the lattice sites) all
    along the scan, so the moving atom's bonds do not switch off as it moves."""
    from vimpnn.calculator import VimpnnCalculator

    calc = VimpnnCalculator(str(checkpoint), reference=atoms)
    energies, distance = [], []
    rest = np.delete(np.arange(len(atoms)), moving)
    for a in moving_atom_scan(atoms, moving, factors):
        a.calc = calc
        energies.append(a.get_potential_energies())
        distance.append(np.linalg.norm(a.positions[rest] - a.positions[moving], axis=1).min())
    return {"energies": np.array(energies), "distance": np.array(distance)}


def seed_plus_one(data_path: Path) -> list:
    """For each element, a 15-atom growth system (14-atom seed + the first added atom, which is last), brought
    back to its reference (lattice) geometry by undoing the isometric scaling about the centroid, with its
    stored bond table (`info['bond_pairs']`, `info['bond_types']`)."""
    from ase import Atoms

    from vimpnn.data.hdf5 import read_dataset

    arrays = read_dataset(data_path)
    out = {}
    for i in range(len(arrays)):
        if arrays.n_atoms[i] != 15:
            continue
        xyz = arrays.positions[arrays.atom_slice(i)]
        centroid = xyz.mean(0)
        atoms = Atoms(numbers=arrays.numbers[arrays.atom_slice(i)], positions=centroid + (xyz - centroid) / arrays.scale[i])
        bonds = arrays.bond_slice(i)
        atoms.info.update(bond_pairs=arrays.bond_pairs[bonds], bond_types=arrays.bond_type[bonds])
        out.setdefault(atoms.get_chemical_formula(), atoms)
    if not out:
        raise InputFormatError(f"{data_path}: no 15-atom system (14-atom seed + 1) for Fig 7")
    return [out[k] for k in sorted(out)]


def node_contribution_figure(inputs: Inputs, factors: np.ndarray = np.linspace(0.8, 1.5, 29)) -> object:
    """Fig 7: change of the moving atom's and the static atoms' contributions (and of the total) along the scan."""
    plt = _pyplot()
    d = "growth_unstable"
    if d not in inputs.data:
        raise InputFormatError(f"Fig 7 needs the {d} dataset file (--data {d}=FILE)")
    run = seeds_of(full_vimpnn(inputs.exp, d), inputs.exp)[0]
    checkpoint = inputs.runs / run.path / "best.pt"
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for atoms, color in zip(seed_plus_one(inputs.data[d]), ("tab:blue", "tab:red")):
        scan = node_contributions(checkpoint, atoms, len(atoms) - 1, factors)
        e = scan["energies"] - scan["energies"][np.argmin(np.abs(factors - 1.0))]
        x, name = scan["distance"], atoms.get_chemical_formula()
        left.plot(x, e.sum(1), "-", color=color, label=f"{name}: total energy")
        left.plot(x, e[:, -1], "--", color=color, label=f"{name}: moving atom")
        static = e[:, :-1]
        right.plot(x, static.mean(1), "-", color=color, label=f"{name}: mean of 14 static atoms")
        right.fill_between(x, static.min(1), static.max(1), color=color, alpha=0.2, label=f"{name}: min-max")
        for ax in (left, right):
            ax.axvline(x[np.argmin(np.abs(factors - 1.0))], color=color, ls=":", lw=1)
    left.set_title("moving atom")
    right.set_title("static seed atoms")
    for ax in (left, right):
        ax.set_xlabel("distance of moving atom to nearest seed atom (Å)")
        ax.set_ylabel("Δ energy vs atom on lattice site (eV)")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"VIMPNN ({d}, seed {run.seed}): node contributions while one atom moves (dotted: lattice site)")
    fig.tight_layout()
    return fig


def read_log(path: Path) -> dict[str, np.ndarray]:
    return _read_columns(path, ("epoch", "train_loss", "val_mae"), "training log")


def training_curves(inputs: Inputs) -> object:
    """Per dataset: training loss (left) and validation MAE (right) per epoch of every run; one colour per run
    kind (the same as in every other figure), one line style per seed."""
    plt = _pyplot()
    datasets = figure_datasets("training", inputs.exp)
    fig, axes = plt.subplots(len(datasets), 2, figsize=(15, 3.8 * len(datasets)), squeeze=False)
    for (loss_ax, mae_ax), d in zip(axes, datasets):
        specs = [s for s in figure_specs("training", inputs.exp) if s.dataset == d]
        for spec in specs:
            for j, run in enumerate(seeds_of(spec, inputs.exp)):
                log = read_log(inputs.runs / run.path / "log.csv")
                style = dict(color=model_color(spec), ls=SEED_STYLES[j % len(SEED_STYLES)], lw=1.2)
                loss_ax.plot(log["epoch"], log["train_loss"], **style)
                mae_ax.plot(log["epoch"], log["val_mae"], label=f"{spec.label} (T={spec.T}), seed {run.seed}", **style)
        for ax, what in ((loss_ax, "training loss (standardised MSE)"), (mae_ax, "validation MAE (eV)")):
            _log_axis(ax)
            ax.set_title(f"{d}: {what.split(' (')[0]}")
            ax.set_xlabel("epoch")
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.set_ylabel(what)
            ax.grid(alpha=0.3, which="both")
        mae_ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5), ncol=1 + len(specs) // 8)
    fig.tight_layout()
    return fig


def parity(inputs: Inputs) -> object:
    """Per dataset: predicted vs DFT energy per atom (top) and the histogram of the total-energy error (bottom)
    on the test split, MPNN and VIMPNN (first seed), with MAE and the per-atom MAE in the legend."""
    plt = _pyplot()
    datasets = figure_datasets("parity", inputs.exp)
    fig, axes = plt.subplots(2, len(datasets), figsize=(4.4 * len(datasets), 8), squeeze=False)
    for k, d in enumerate(datasets):
        top, bottom = axes[0, k], axes[1, k]
        errors = []
        for spec in (mpnn(inputs.exp, d), full_vimpnn(inputs.exp, d)):
            p = inputs.predictions(spec)[0]
            ref, pred, n = p["energy_ref"], p["energy_pred"], p["n_atoms"]
            err = pred - ref
            errors.append(err)
            label = (f"{_model_label(spec)}: MAE {np.mean(np.abs(err)):.3g} eV, "
                     f"{1000 * np.mean(np.abs(err) / n):.3g} meV/atom")
            top.plot(ref / n, pred / n, "o", ms=3, alpha=0.7, color=model_color(spec), label=label)
            bottom.hist(err, bins=30, histtype="step", lw=1.5, color=model_color(spec), label=_model_label(spec))
        lo, hi = top.get_xlim()
        top.plot([lo, hi], [lo, hi], color=COLORS["DFT"], lw=0.8, ls=":")
        top.set_title(f"{d}: test split (n = {len(errors[0])})")
        top.set_xlabel("DFT energy per atom (eV/atom)")
        top.set_ylabel("predicted energy per atom (eV/atom)")
        top.legend(fontsize=7)
        bottom.axvline(0, color=COLORS["DFT"], lw=0.8, ls=":")
        bottom.set_xlabel("prediction − DFT, total energy (eV)")
        bottom.set_ylabel("test systems")
        bottom.yaxis.get_major_locator().set_params(integer=True)
        bottom.legend(fontsize=8)
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def train_group_count(data_path: Path, max_atoms: int | None) -> int:
    """Groups (molecules, growths) in a dataset's training split: the size of a run on the whole split."""
    from vimpnn.data.hdf5 import read_dataset

    arrays = read_dataset(data_path)
    train = np.asarray(arrays.splits["train"], dtype=np.int64)
    if max_atoms is not None:
        train = train[arrays.n_atoms[train] <= max_atoms]
    return len(np.unique(arrays.group[train]))


def _label_points(ax, points: list[tuple[float, float, str, str]], gap: float = 10.0) -> None:
    """Value labels (x, y, text, colour) right of their points; where values at one x nearly coincide (0.090 and
    0.095 eV) the lower label is pushed down until the two are `gap` typographic points apart. Call it once the
    axes' scales and limits are final."""
    px_to_pt = 72 / ax.figure.dpi
    for x in sorted({p[0] for p in points}):
        previous = None
        for _, y, text, color in sorted((p for p in points if p[0] == x), key=lambda p: -p[1]):
            at = ax.transData.transform((x, y))[1] * px_to_pt
            want = at + 5 if previous is None else min(at + 5, previous - gap)
            ax.annotate(text, (x, y), textcoords="offset points", xytext=(6, want - at), fontsize=8, color=color,
                        va="center")
            previous = want


def learning_curve(inputs: Inputs) -> object:
    """Test MAE (total energy, eV) against the number of training groups, log-log, mean ± std over seeds, for
    each compared model; the largest size is the run on the whole training split."""
    from vimpnn.experiments import GROUP_NOUN, learning_curve_specs

    plt = _pyplot()
    (d,) = figure_datasets("learning_curve", inputs.exp)
    if d not in inputs.data:
        raise InputFormatError(f"figure learning_curve: pass --data {d}=FILE (the whole training split's size)")
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    kinds: dict[str, list[RunSpec]] = {}
    for spec in learning_curve_specs(inputs.exp):
        kinds.setdefault(replace(spec, max_train_groups=None).tag, []).append(spec)
    full = train_group_count(inputs.data[d], inputs.exp.max_atoms.get(d))
    labels: list[tuple[float, float, str, str]] = []
    for specs in kinds.values():
        sizes = np.array([s.max_train_groups or full for s in specs])
        mae = np.array([[np.abs(p["energy_pred"] - p["energy_ref"]).mean() for p in inputs.predictions(s)] for s in specs])
        whole = replace(specs[0], max_train_groups=None)
        ax.errorbar(sizes, mae.mean(1), yerr=mae.std(1), fmt="o-", ms=5, capsize=3, color=model_color(whole),
                    label=_model_label(whole) if whole.model in ("mpnn", "vimpnn") else whole.label)
        labels += [(x, y, fmt3(y), model_color(whole)) for x, y in zip(sizes, mae.mean(1))]
    ax.set_xscale("log")
    _log_axis(ax)
    _label_points(ax, labels)
    ax.set_xlabel(f"training {GROUP_NOUN[d]} ({d}, all scalings of each)")
    ax.set_ylabel("test MAE (eV)")
    ax.set_title(f"{d}: learning curve, mean ± std over {len(inputs.exp.seeds)} seeds")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    return fig


FIGURES: dict[str, Callable[[Inputs], object]] = {
    "fig3": lambda i: energy_curves(i, figure_datasets("fig3", i.exp), how="error"),
    "fig4": per_element_error,
    "fig5": lambda i: energy_curves(i, figure_datasets("fig5", i.exp), how="size"),
    "fig6": mae_vs_size,
    "fig7": node_contribution_figure,
    "training": training_curves,
    "parity": parity,
    "learning_curve": learning_curve,
}


def make_figure(name: str, inputs: Inputs, out_dir: Path) -> list[Path]:
    """Draw figure `name` and write `<out_dir>/<name>.png` and `.svg`."""
    if not figure_datasets(name, inputs.exp):
        raise InputFormatError(f"figure {name}: none of its datasets is in experiments.datasets")
    return save(FIGURES[name](inputs), Path(out_dir), name)
