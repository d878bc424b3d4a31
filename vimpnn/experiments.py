"""The paper's experiment design as data: which trained models each table and figure needs.

One `RunSpec` is one training run (one run directory); the design is the deduplicated union of the
runs of every enabled table and figure, times the configured seeds. Snakemake and the table, figure
and report builders all read the same design, so a row of a table and the run directory it comes
from can never drift apart. Choices the paper leaves open are documented in docs/experiments.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vimpnn.errors import InputFormatError

DATASETS = ("augqm9", "infcrystal", "growth_stable", "growth_unstable")
MODELS = ("mpnn", "mpnn_nobt", "vimpnn", "schnet")
PEER_MODELS = ("schnet",)  # trained by `vimpnn train-peer` (schnetpack's SchNet), not by `vimpnn train`
VARIANTS = ("a.i", "a.ii", "b.i", "b.ii", "c")
# auxiliary head (trainer name) -> short code used in run directory names
AUX_CODES = {"n_atoms_per_type": "atoms", "n_orbitals_per_type": "orbitals", "scaling_gaussian": "scaling"}
ALL_AUX = tuple(AUX_CODES)
# what one `group` of a dataset is (a learning curve's training set is the first n of them)
GROUP_NOUN = {"augqm9": "molecules", "infcrystal": "elements", "growth_stable": "growths", "growth_unstable": "growths"}
# experiments.schedule key -> (`vimpnn train` flag, `vimpnn train-peer` flag)
SCHEDULE_FLAGS = {"lr": ("--lr", "--lr"), "lr_patience": ("--lr-patience", "--lr-patience"),
                  "lr_decay": ("--lr-decay", "--lr-factor"), "patience": ("--patience", "--patience")}
TABLES = ("table1", "table2", "table3", "table4", "table5")
FIGURES = ("fig3", "fig4", "fig5", "fig6", "fig7", "training", "parity", "learning_curve")

DEFAULTS: dict[str, Any] = {
    "data": "computed",  # which HDF5 files train on (read by workflow/rules/common.smk: computed|release|fast|download)
    "seeds": [0, 1, 2],
    "epochs": None,  # None: the trainer's default (paper: 360 with early stopping); or {dataset: epochs}
    "datasets": list(DATASETS),
    "tables": list(TABLES),
    "figures": list(FIGURES),
    # one learning-rate schedule for every model, ours and the peer (short budgets): keys lr, lr_patience,
    # lr_decay, patience, each a number or {dataset: number}; empty: each model keeps its own recipe
    "schedule": {},
    "batch_size": {"augqm9": 20, "infcrystal": 20, "growth_stable": 5, "growth_unstable": 5},
    "max_atoms": {"growth_stable": 75, "growth_unstable": 75},  # paper Sec 5.2: 15-75 atoms
    "max_train_groups": {},  # dataset -> train on its first n groups only (the demo's small AugQM9 training set)
    "table1_train_groups": None,  # Table 1's AugQM9 ablation trains on the first n molecules (None: as Table 2)
    "fig6_max_train_atoms": 25,  # paper Sec 5.3
    "published": "paper",  # paper: show vimpnn.paper's numbers beside ours; none: ours only
    "peer": False,  # add a SchNet (schnetpack) row per dataset to Table 2
    "curves": {},  # dataset -> list of `group` ids to plot in Fig 3/5; missing: chosen automatically
    # test error vs training-set size: MPNN, VIMPNN (and the peer) trained on the first n groups of the training split
    "learning_curve": {"dataset": "augqm9", "n_groups": []},
    "resources": {"gpu": 1, "threads": 4, "mem_mb": 16000, "runtime": 1440},
}


@dataclass(frozen=True)
class RunSpec:
    """One training run without its seed: everything that makes two run directories differ."""

    dataset: str
    model: str
    variant: str | None = None
    aux: tuple[str, ...] = ()
    T: int = 3
    max_atoms: int | None = None
    max_train_atoms: int | None = None
    max_train_groups: int | None = None

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise InputFormatError(f"unknown dataset {self.dataset!r}; choose from {', '.join(DATASETS)}")
        if self.model not in MODELS:
            raise InputFormatError(f"unknown model {self.model!r}; choose from {', '.join(MODELS)}")
        if (self.model == "vimpnn") != (self.variant is not None):
            raise InputFormatError(f"model {self.model!r} with variant {self.variant!r}: only vimpnn has variants")
        if self.variant is not None and self.variant not in VARIANTS:
            raise InputFormatError(f"unknown variant {self.variant!r}; choose from {', '.join(VARIANTS)}")
        if self.model in PEER_MODELS and (self.aux or self.T != 3):
            raise InputFormatError(f"model {self.model!r} has no auxiliary heads and no T (schnetpack's recipe)")
        unknown = set(self.aux) - set(ALL_AUX)
        if unknown:
            raise InputFormatError(f"unknown auxiliary head(s) {sorted(unknown)}; choose from {', '.join(ALL_AUX)}")
        object.__setattr__(self, "aux", tuple(a for a in ALL_AUX if a in self.aux))  # canonical order

    @property
    def tag(self) -> str:
        """Directory name below the dataset, e.g. `vimpnn-a.ii-atoms+orbitals+scaling-T3-le75`; see `from_tag`."""
        parts = [self.model] + ([self.variant] if self.variant else [])
        if self.aux:
            parts.append("+".join(AUX_CODES[a] for a in self.aux))
        if self.model not in PEER_MODELS:
            parts.append(f"T{self.T}")
        if self.max_atoms is not None:
            parts.append(f"le{self.max_atoms}")
        if self.max_train_atoms is not None:
            parts.append(f"trainle{self.max_train_atoms}")
        if self.max_train_groups is not None:
            parts.append(f"first{self.max_train_groups}")
        return "-".join(parts)

    @classmethod
    def from_tag(cls, dataset: str, tag: str) -> "RunSpec":
        """Inverse of `tag` (Snakemake wildcards -> trainer arguments)."""
        model, *rest = tag.split("-")
        kw: dict[str, Any] = {"dataset": dataset, "model": model}
        codes = {v: k for k, v in AUX_CODES.items()}
        for part in rest:
            if part in VARIANTS:
                kw["variant"] = part
            elif all(p in codes for p in part.split("+")):
                kw["aux"] = tuple(codes[p] for p in part.split("+"))
            elif m := re.fullmatch(r"T(\d+)", part):
                kw["T"] = int(m[1])
            elif m := re.fullmatch(r"le(\d+)", part):
                kw["max_atoms"] = int(m[1])
            elif m := re.fullmatch(r"trainle(\d+)", part):
                kw["max_train_atoms"] = int(m[1])
            elif m := re.fullmatch(r"first(\d+)", part):
                kw["max_train_groups"] = int(m[1])
            else:
                raise InputFormatError(f"run name {tag!r}: cannot read part {part!r}")
        return cls(**kw)

    @property
    def label(self) -> str:
        """Short human name for legends and table rows."""
        names = {"mpnn": "MPNN", "mpnn_nobt": "MPNN (no BT)", "schnet": "SchNet (schnetpack)"}
        text = names.get(self.model) or f"VIMPNN {self.variant}"
        if self.aux:
            text += " + " + ", ".join(AUX_CODES[a] for a in self.aux)
        if self.max_train_atoms is not None:
            text += f", trained on ≤ {self.max_train_atoms} atoms"
        if self.max_train_groups is not None:
            text += f", trained on {self.max_train_groups} {GROUP_NOUN[self.dataset]}"
        return text


@dataclass(frozen=True)
class Row:
    """One table row: a label, the run it reports, and the key of the paper's published numbers."""

    label: str
    spec: RunSpec
    paper_key: tuple[str, ...]


@dataclass
class Experiments:
    """The resolved `experiments:` config section."""

    data: str
    seeds: list[int]
    epochs: int | dict[str, int] | None
    datasets: list[str]
    tables: list[str]
    figures: list[str]
    batch_size: dict[str, int]
    schedule: dict[str, Any]
    max_atoms: dict[str, int]
    max_train_groups: dict[str, int]
    table1_train_groups: int | None
    fig6_max_train_atoms: int
    published: str
    peer: bool
    curves: dict[str, list[int]]
    learning_curve: dict[str, Any]
    resources: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: dict) -> "Experiments":
        section = config.get("experiments") or {}
        unknown = set(section) - set(DEFAULTS)
        if unknown:
            raise InputFormatError(f"experiments: unknown key(s) {sorted(unknown)}; known: {', '.join(DEFAULTS)}")
        merged = {k: section.get(k, v) for k, v in DEFAULTS.items()}
        for key in ("batch_size", "max_atoms", "max_train_groups", "resources", "learning_curve"):
            merged[key] = {**DEFAULTS[key], **(section.get(key) or {})}
        for key, allowed in (("datasets", DATASETS), ("tables", TABLES), ("figures", FIGURES)):
            bad = [x for x in merged[key] if x not in allowed]
            if bad:
                raise InputFormatError(f"experiments.{key}: unknown {bad}; choose from {', '.join(allowed)}")
        if merged["published"] not in ("paper", "none"):
            raise InputFormatError(f"experiments.published: {merged['published']!r} is not 'paper' or 'none'")
        if not isinstance(merged["peer"], bool):
            raise InputFormatError(f"experiments.peer: {merged['peer']!r} is not true or false")
        if not merged["seeds"]:
            raise InputFormatError("experiments.seeds: at least one seed is needed")
        n1 = merged["table1_train_groups"]
        if n1 is not None and (isinstance(n1, bool) or not isinstance(n1, int) or n1 < 1):
            raise InputFormatError(f"experiments.table1_train_groups: {n1!r} is not a positive number of molecules")
        if isinstance(merged["epochs"], dict):
            missing = [d for d in merged["datasets"] if d not in merged["epochs"]]
            if missing:
                raise InputFormatError(f"experiments.epochs: no epoch count for dataset(s) {missing}")
        for key, value in merged["schedule"].items():
            if key not in SCHEDULE_FLAGS:
                raise InputFormatError(f"experiments.schedule: unknown key {key!r}; known: {', '.join(SCHEDULE_FLAGS)}")
            missing = [d for d in merged["datasets"] if isinstance(value, dict) and d not in value]
            if missing:
                raise InputFormatError(f"experiments.schedule.{key}: no value for dataset(s) {missing}")
        if merged["learning_curve"]["dataset"] not in DATASETS:
            raise InputFormatError(f"experiments.learning_curve.dataset: unknown {merged['learning_curve']['dataset']!r}")
        return cls(**merged)

    def epochs_for(self, dataset: str) -> int | None:
        """The epoch count of runs on `dataset` (None: the trainer's default)."""
        return self.epochs.get(dataset) if isinstance(self.epochs, dict) else self.epochs

    def schedule_for(self, dataset: str) -> dict[str, Any]:
        """The shared schedule's values for runs on `dataset` (empty: each model's own recipe)."""
        return {k: v[dataset] if isinstance(v, dict) else v for k, v in self.schedule.items()}

    def restricted(self, dataset: str, **kw: Any) -> RunSpec:
        """A run on `dataset` with the dataset's size restriction (paper: growth systems of 15-75 atoms) and
        training-set limit (`max_train_groups`, unless `kw` sets one)."""
        kw.setdefault("max_train_groups", self.max_train_groups.get(dataset))
        return RunSpec(dataset=dataset, max_atoms=self.max_atoms.get(dataset), **kw)


def mpnn(exp: Experiments, dataset: str, T: int = 3, **kw: Any) -> RunSpec:
    return exp.restricted(dataset, model="mpnn", T=T, **kw)


def full_vimpnn(exp: Experiments, dataset: str, T: int = 3, **kw: Any) -> RunSpec:
    """VIMPNN as in paper Sec 5.2: variant a.ii with all three auxiliary heads."""
    return exp.restricted(dataset, model="vimpnn", variant="a.ii", aux=ALL_AUX, T=T, **kw)


def comparison_models(exp: Experiments, dataset: str, **kw: Any) -> list[RunSpec]:
    """The models compared in the learning curve: MPNN and VIMPNN, and the peer when enabled."""
    peer = [exp.restricted(dataset, model="schnet", **kw)] if exp.peer else []
    return [mpnn(exp, dataset, **kw), full_vimpnn(exp, dataset, **kw)] + peer


def learning_curve_specs(exp: Experiments) -> list[RunSpec]:
    """Every compared model at every learning-curve size and on the whole training split."""
    d, sizes = exp.learning_curve["dataset"], sorted(exp.learning_curve["n_groups"])
    return [s for n in sizes for s in comparison_models(exp, d, max_train_groups=n)] + comparison_models(exp, d)


def table_rows(table: str, exp: Experiments) -> list[Row]:
    """Rows of one of the paper's Tables 1-5, in the paper's order.

    Table 1's auxiliary-head rows train each head on the no-bond-type baseline: the paper (Sec 5.1)
    compares each strategy "in turn" against that baseline and says the heads "improve on the baseline".
    """
    q = "augqm9"
    if table == "table1":
        n = {} if exp.table1_train_groups is None else {"max_train_groups": exp.table1_train_groups}
        rows = [
            Row("No bond type (BT) information", exp.restricted(q, model="mpnn_nobt", **n), ("no_bt",)),
            Row("MPNN (BT in edge features)", mpnn(exp, q, **n), ("mpnn",)),
            Row("BT specialised node updates (a.ii)", exp.restricted(q, model="vimpnn", variant="a.ii", **n), ("a.ii",)),
        ]
        rows += [
            Row(f"Aux estimate: {AUX_CODES[a]}", exp.restricted(q, model="mpnn_nobt", aux=(a,), **n), (a,))
            for a in ALL_AUX
        ]
        return rows
    if table == "table2":
        peer = [Row(f"SchNet (schnetpack) on {d}", exp.restricted(d, model="schnet"), ("SchNet", d)) for d in DATASETS]
        return [Row(f"MPNN on {d}", mpnn(exp, d), ("MPNN", d)) for d in DATASETS] + [
            Row(f"VIMPNN on {d}", full_vimpnn(exp, d), ("VIMPNN", d)) for d in DATASETS
        ] + (peer if exp.peer else [])
    if table == "table3":
        return [Row(v, exp.restricted(q, model="vimpnn", variant=v), (v,)) for v in VARIANTS]
    if table == "table4":
        return [
            Row(f"BT + {AUX_CODES[a]}", exp.restricted(q, model="vimpnn", variant="a.ii", aux=(a,)), (a,))
            for a in ALL_AUX
        ]
    if table == "table5":
        return [Row(f"VIMPNN, T={t}", full_vimpnn(exp, q, T=t), ("VIMPNN", str(t))) for t in (1, 3, 8)] + [
            Row(f"MPNN, T={t}", mpnn(exp, q, T=t), ("MPNN", str(t))) for t in (1, 3, 8)
        ]
    raise InputFormatError(f"unknown table {table!r}; choose from {', '.join(TABLES)}")


# figure -> datasets it plots (a figure is made when at least one of them is enabled)
FIGURE_DATASETS = {
    "fig3": ("augqm9", "infcrystal"),
    "fig4": ("infcrystal", "growth_stable", "growth_unstable"),
    "fig5": ("growth_unstable",),
    "fig6": ("growth_stable",),
    "fig7": ("growth_unstable",),
    "training": DATASETS,
    "parity": DATASETS,
    "learning_curve": DATASETS,  # the one of experiments.learning_curve
}


def figure_datasets(figure: str, exp: Experiments) -> list[str]:
    if figure == "learning_curve":
        d = exp.learning_curve["dataset"]
        return [d] if d in exp.datasets and exp.learning_curve["n_groups"] else []
    return [d for d in FIGURE_DATASETS[figure] if d in exp.datasets]


def figure_specs(figure: str, exp: Experiments) -> list[RunSpec]:
    """Runs one figure reads (predictions, checkpoints or logs)."""
    ds = figure_datasets(figure, exp)
    if figure in ("fig3", "fig5", "parity"):
        return [s for d in ds for s in (mpnn(exp, d), full_vimpnn(exp, d))]
    if figure == "fig4":  # plus VIMPNN without the atom-type head (paper Sec 5.2, the Cu/Al hypothesis)
        no_atoms = tuple(a for a in ALL_AUX if a != "n_atoms_per_type")
        ablation = [exp.restricted(d, model="vimpnn", variant="a.ii", aux=no_atoms) for d in ds if d.startswith("growth")]
        return [s for d in ds for s in (mpnn(exp, d), full_vimpnn(exp, d))] + ablation
    if figure == "fig6":
        return [s for d in ds for s in (full_vimpnn(exp, d), full_vimpnn(exp, d, max_train_atoms=exp.fig6_max_train_atoms))]
    if figure == "fig7":
        return [full_vimpnn(exp, d) for d in ds]
    if figure == "learning_curve":
        return learning_curve_specs(exp) if ds else []
    if figure == "training":
        return [s for s in design_specs(exp, with_training_figure=False) if s.dataset in ds]
    raise InputFormatError(f"unknown figure {figure!r}; choose from {', '.join(FIGURES)}")


def enabled_figures(exp: Experiments) -> list[str]:
    return [f for f in exp.figures if figure_datasets(f, exp)]


def design_specs(exp: Experiments, with_training_figure: bool = True) -> list[RunSpec]:
    """Every distinct run (without seed) the enabled tables and figures need, on enabled datasets, sorted."""
    specs = {row.spec for t in exp.tables for row in table_rows(t, exp)}
    figures = [f for f in enabled_figures(exp) if with_training_figure or f != "training"]
    specs |= {s for f in figures if f != "training" for s in figure_specs(f, exp)}
    return sorted((s for s in specs if s.dataset in exp.datasets), key=lambda s: (s.dataset, s.tag))


@dataclass(frozen=True)
class Run:
    """One run directory: a spec and a seed."""

    spec: RunSpec
    seed: int

    @property
    def path(self) -> str:
        """Relative path below `results/runs/` (and `results/evals/`)."""
        return f"{self.spec.dataset}/{self.spec.tag}/seed{self.seed}"


def design(exp: Experiments) -> list[Run]:
    """The deduplicated run list: every needed spec times every seed."""
    return [Run(s, seed) for s in design_specs(exp) for seed in exp.seeds]


def train_command(spec: RunSpec) -> str:
    """The subcommand that trains a run: `train` for our models, `train-peer` for the peer."""
    return "train-peer" if spec.model in PEER_MODELS else "train"


def train_arguments(run: Run, exp: Experiments) -> list[str]:
    """`vimpnn train` (or `train-peer`) arguments for a run (without --data, --out and --config)."""
    s = run.spec
    args = []
    if s.model not in PEER_MODELS:
        args += ["--model", s.model] + (["--variant", s.variant] if s.variant else [])
        args += ["--aux", ",".join(s.aux) if s.aux else "none", "--T", str(s.T)]
    args += ["--seed", str(run.seed), "--batch-size", str(exp.batch_size[s.dataset])]
    if exp.epochs_for(s.dataset) is not None:
        args += ["--epochs", str(exp.epochs_for(s.dataset))]
    schedule = exp.schedule_for(s.dataset)
    if schedule and s.model not in PEER_MODELS:
        args += ["--lr-schedule", "plateau"]  # the peer's ReduceLROnPlateau, so both sides decay alike
    for key, value in schedule.items():
        args += [SCHEDULE_FLAGS[key][s.model in PEER_MODELS], str(value)]
    if s.max_atoms is not None:
        args += ["--max-atoms", str(s.max_atoms)]
    if s.max_train_atoms is not None:
        args += ["--max-train-atoms", str(s.max_train_atoms)]
    if s.max_train_groups is not None:
        args += ["--max-train-groups", str(s.max_train_groups)]
    return args


def run_from_path(path: str | Path) -> Run:
    """Inverse of `Run.path` for any directory ending in `<dataset>/<tag>/seed<N>`."""
    parts = Path(path).parts[-3:]
    m = re.fullmatch(r"seed(\d+)", parts[-1]) if len(parts) == 3 else None
    if m is None:
        raise InputFormatError(f"{path}: not a run directory named <dataset>/<tag>/seed<N>")
    return Run(RunSpec.from_tag(parts[0], parts[1]), int(m[1]))


def seeds_of(spec: RunSpec, exp: Experiments) -> list[Run]:
    return [Run(spec, seed) for seed in exp.seeds]
