"""`vimpnn plan`: the experiment design's runs and an estimate of their GPU-hours from measured epoch times.

Cost model (docs/experiments.md): an epoch costs time proportional to the atoms it processes, the training
split plus the validation split at one third of a training pass (forward only). Throughput (atoms/s) is
measured on finished runs (median epoch time of log.csv), preferably of the same dataset and model; the
estimate assumes every run uses all its epochs (no early stopping), so it is an upper bound.

Before it, the time to compute the config's datasets at the fast level (docs/dft.md "Fast level"), measured
now: a sample of each dataset's structures runs with `dft.backend: fast` in a fresh cache, and the mean time
per structure is multiplied by the dataset's size.

`--dft CONFIG` estimates the DFT core-hours with the config's own engine and settings (vimpnn.cli.plan_dft).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
from collections import defaultdict
from pathlib import Path

import numpy as np

from vimpnn.cli import plan_dft
from vimpnn.config import load_config
from vimpnn.errors import InputFormatError
from vimpnn.experiments import Experiments, RunSpec, design, run_from_path
from vimpnn.validation import load_checked

VAL_COST = 1.0 / 3.0  # a validation pass (forward only) relative to a training pass, per atom
PAPER_EPOCHS = 360


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="config whose training runs to plan (config/config.yaml: paper scale)")
    parser.add_argument("--measured", nargs="*", default=[], metavar="RUNDIR",
                        help="finished run directories (<dataset>/<tag>/seed<N> with log.csv and config.yaml) to time")
    parser.add_argument("--atoms-per-second", type=float, help="throughput to assume instead of measuring")
    parser.add_argument("--fast-sample", type=int, default=20, metavar="N",
                        help="structures per dataset timed now for the fast-level dataset time (0: skip it; building "
                             "the structures to sample from takes about a minute at paper scale)")
    parser.add_argument("--cores", type=int, default=2, help="cores the fast-level wall time is estimated for")
    plan_dft.add_arguments(parser)


def _split(section: dict, name: str, default: float) -> float:
    return float((section.get("split") or {}).get(name, default))


def _grid_n(section: dict) -> int:
    return int((section.get("scalings") or {}).get("n", 10))


def split_atoms(spec: RunSpec, config: dict) -> tuple[float, float]:
    """(training atoms, validation atoms) per epoch of `spec` at the config's scale, from the config alone."""
    if spec.dataset == "augqm9":
        from vimpnn.structures.qm9 import open_qm9

        qm9 = config.get("qm9", {})
        sizes = [len(r.to_atoms()) for r in open_qm9(qm9, qm9.get("n_molecules", 10000))]
        section = config.get("augqm9", {})
        total = float(np.sum(sizes)) * _grid_n(section)
        return total * _split(section, "train", 0.8), total * _split(section, "val", 0.1)
    if spec.dataset == "infcrystal":
        section = config.get("infcrystal", {})
        per_cell = 4 if section.get("cell", "primitive") == "conventional" else 1
        n_el = len(section.get("elements", ["Al", "Cu"]))
        n_train = n_el * int(section.get("n_train_per_element", 8))
        rest = n_el * _grid_n(section) - n_train
        return float(n_train * per_cell), rest / 2.0 * per_cell
    growth = config.get("growth", {})
    sub = growth.get("stable" if spec.dataset == "growth_stable" else "unstable", {})
    n_scal = 1 if spec.dataset == "growth_stable" else _grid_n(sub)
    per_growth = len(growth.get("elements", ["Al", "Cu"])) * int(sub.get("n_seeds", 20 if n_scal == 1 else 5)) * n_scal
    lo, hi = int(growth.get("min_size", 15)), int(growth.get("max_size", 114))
    top = min(hi, spec.max_atoms or hi)
    train_top = min(top, spec.max_train_atoms or top)
    return (per_growth * _split(sub, "train", 0.6) * sum(range(lo, train_top + 1)),
            per_growth * _split(sub, "val", 0.2) * sum(range(lo, top + 1)))


def measure(run_dir: Path) -> tuple[RunSpec, float]:
    """(spec, atoms per second) of a finished run: its data file's split sizes over the median epoch time."""
    from vimpnn.data.hdf5 import read_dataset

    run = run_from_path(run_dir)
    cfg = load_config(run_dir / "config.yaml")
    with open(run_dir / "log.csv", newline="") as fh:
        seconds = [float(r["seconds"]) for r in csv.DictReader(fh)]
    if not seconds:
        raise InputFormatError(f"{run_dir}/log.csv: no epochs logged")
    arrays = read_dataset(cfg["data"])
    n = arrays.n_atoms
    max_atoms = cfg.get("max_atoms") or n.max()
    train = arrays.splits["train"]
    train = train[n[train] <= min(max_atoms, cfg.get("max_train_atoms") or max_atoms)]
    val = arrays.splits["val"][n[arrays.splits["val"]] <= max_atoms]
    return run.spec, (n[train].sum() + VAL_COST * n[val].sum()) / statistics.median(seconds)


def throughput_for(spec: RunSpec, measured: list[tuple[RunSpec, float]]) -> float:
    """Measured atoms/s of the closest measured run kind: same dataset and model, same dataset, same model, any."""
    for same in (lambda s: (s.dataset, s.model) == (spec.dataset, spec.model), lambda s: s.dataset == spec.dataset,
                 lambda s: s.model == spec.model, lambda s: True):
        rates = [r for s, r in measured if same(s)]
        if rates:
            return float(np.mean(rates))
    raise InputFormatError("no throughput: give --measured RUNDIR... or --atoms-per-second")


def fast_level_seconds(config: dict, sample: int) -> dict[str, tuple[int, float]]:
    """dataset -> (structures, seconds for all of them) at the fast level: `plan --dft`'s stratified sample
    and timing with `backend: fast`, `sample` structures per dataset and template, in a fresh cache."""
    from vimpnn.structures.datasets import DATASETS

    names = list(config.get("datasets", DATASETS))
    xtb = {k: v for k, v in (config.get("dft") or {}).items() if k.startswith("xtb_")}
    fast = {**config, "datasets": names, "dft": {**xtb, "backend": "fast"}}
    out: dict[str, tuple[int, float]] = {}
    for g in plan_dft.measure(fast, dict.fromkeys(names, sample), dict.fromkeys(names), echo=False):
        n, seconds = out.get(g.dataset, (0, 0.0))
        out[g.dataset] = (n + len(g.n_atoms), seconds + len(g.n_atoms) * statistics.mean(g.seconds))
    return out


def print_fast_level(config: dict, sample: int, cores: int) -> None:
    times = fast_level_seconds(config, sample)
    load, cpus = os.getloadavg()[0], os.cpu_count()
    busy = ": a busy machine inflates it" if load > (cpus or 1) else ""
    print(f"fast level (xTB molecules, EMT metals; {sample} structures per dataset timed now on one core, "
          f"wall time in the worker; load average {load:.1f} on {cpus} cores{busy}):")
    print(f"{'dataset':<16} {'structures':>10} {'ms/structure':>13} {'core-h':>7} {f'h on {cores} cores':>12}")
    for name, (n, seconds) in times.items():
        print(f"{name:<16} {n:>10,} {seconds / n * 1e3:>13.1f} {seconds / 3600:>7.2f} {seconds / 3600 / cores:>12.2f}")
    total = sum(seconds for _, seconds in times.values()) / 3600
    print(f"total: {total:.2f} core-hours of xTB/EMT, {total / cores:.2f} h on {cores} cores "
          f"(structure generation and packing not included)")


def run(args: argparse.Namespace) -> int:
    if not (args.config or args.dft):
        raise InputFormatError("plan: give --config CONFIG (training GPU-hours), --dft CONFIG (DFT core-hours) or both")
    if args.dft:
        plan_dft.run(args)
    if not args.config:
        return 0
    config = load_checked(args.config)
    if args.fast_sample > 0:
        print_fast_level(config, args.fast_sample, args.cores)
    exp = Experiments.from_config(config)
    epochs = exp.epochs or (config.get("train") or {}).get("epochs") or PAPER_EPOCHS
    measured = [(RunSpec("augqm9", "mpnn"), args.atoms_per_second)] if args.atoms_per_second else []
    measured += [measure(Path(d)) for d in args.measured]
    for spec, rate in measured:
        print(f"measured: {spec.dataset}/{spec.tag}: {rate:,.0f} atoms/s")
    if not measured and args.fast_sample > 0:
        # the dataset time above is a complete answer (`plan --config config/fast.yaml`); training needs a rate
        print("training: not estimated, no throughput (give --measured RUNDIR... or --atoms-per-second)")
        return 0
    per_dataset: dict[str, list[float]] = defaultdict(list)
    cache: dict[tuple, tuple[float, float]] = {}
    for run in design(exp):
        s = run.spec
        key = (s.dataset, s.max_atoms, s.max_train_atoms)
        if key not in cache:
            cache[key] = split_atoms(s, config)
        train_atoms, val_atoms = cache[key]
        per_dataset[s.dataset].append(epochs * (train_atoms + VAL_COST * val_atoms) / throughput_for(s, measured))
    print(f"{'dataset':<16} {'runs':>5} {'GPU-h per run (max)':>20} {'GPU-h total':>12}")
    for dataset, seconds in per_dataset.items():
        print(f"{dataset:<16} {len(seconds):>5} {max(seconds) / 3600:>20.2f} {sum(seconds) / 3600:>12.1f}")
    total = sum(sum(v) for v in per_dataset.values()) / 3600
    n_runs = sum(len(v) for v in per_dataset.values())
    print(f"total: {n_runs} runs x {epochs} epochs = {total:.1f} GPU-hours (upper bound: no early stopping)")
    return 0
