"""`vimpnn plan --dft CONFIG`: the DFT cost of the config's datasets with its own engine and settings.

A stratified sample of each dataset (vimpnn.dft.cost) runs now through the normal engine (`compute`, one
structure at a time, a fresh temporary cache), with the dataset's settings as the workflow gives them (its own
`max_scale`). A power law t = a V^c G^d N^b in the grid volume, the SCF start and the atom count, per CP2K
template and metal over the datasets, summed over every structure's real V, G and N, gives core-hours; the
chunks of consecutive structures the workflow runs then give a chunk size and a SLURM runtime for a target job length.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from vimpnn.dft import cost
from vimpnn.errors import InputFormatError

DEFAULT_SAMPLE = 8


@dataclass
class Group:
    """One dataset's structures of one template: every structure's covariates, and the timed sample."""

    dataset: str
    template: str
    n_atoms: np.ndarray          # every structure of the group, in the workflow's order
    volume: np.ndarray           # Å^3 its grids span: the box of a finite structure, the cell of a periodic one
    start: np.ndarray            # how its SCF starts: cost.ATOMIC or cost.RESTART (a curve neighbour's wavefunction)
    kind: np.ndarray             # the element of a metal structure ("" for molecules): fitted apart
    positions: np.ndarray        # their positions in the dataset (chunks are ranges of these)
    sample_index: list[int]      # the sampled structures' positions in the dataset
    seconds: list[float]         # core-seconds per sampled structure
    failed: int
    sample_volume: list[float]   # Å^3 of the boxes they were timed in (another vacuum or box rule than now's)

    @property
    def sample_rows(self) -> np.ndarray:
        return np.searchsorted(self.positions, self.sample_index)

    @property
    def sample_n(self) -> list[int]:
        return [int(n) for n in self.n_atoms[self.sample_rows]]

    def covariates(self, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        rows = slice(None) if rows is None else rows
        return {"V": self.volume[rows], "G": self.start[rows], "N": self.n_atoms[rows]}

    def sample_covariates(self, at: np.ndarray) -> dict[str, np.ndarray]:
        """The covariates the sampled structures (positions `at` in the sample) were timed with."""
        rows = self.sample_rows[at]
        return {"V": np.asarray(self.sample_volume, dtype=float)[at], "G": self.start[rows], "N": self.n_atoms[rows]}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dft", metavar="CONFIG", help="estimate the DFT core-hours of this config's datasets "
                        "by timing a sample with its dft: engine and settings now (docs/dft.md)")
    parser.add_argument("--dft-sample", nargs="+", default=[str(DEFAULT_SAMPLE)], metavar="N|DATASET=N",
                        help=f"structures timed per dataset (default {DEFAULT_SAMPLE}); DATASET=N for one dataset")
    parser.add_argument("--dft-max-atoms", nargs="+", default=[], metavar="N|DATASET=N",
                        help="sample only structures of at most N atoms (the fit extrapolates beyond); "
                             "DATASET=N for one dataset")
    parser.add_argument("--dft-times", metavar="JSON", help="also write the sample's timings to this file")
    parser.add_argument("--dft-from", metavar="JSON", help="refit the timings of an earlier --dft-times instead "
                        "of timing now (the same config and sample options)")
    parser.add_argument("--dft-exponent", type=float, metavar="B",
                        help="exponent assumed where the sample has one atom count (default: flat in N)")
    parser.add_argument("--target-job-hours", type=float, default=4.0, help="longest DFT batch job wanted")
    parser.add_argument("--margin", type=float, default=1.5,
                        help="safety factor on the predicted longest chunk for its runtime (default 1.5)")


def per_dataset(flag: str, items: list[str], datasets: list[str], default: int | None) -> dict[str, int | None]:
    """A flag's items (N for every dataset, DATASET=N for one) as dataset -> N."""
    values = dict.fromkeys(datasets, default)
    for item in items:
        name, _, value = item.rpartition("=")
        if name and name not in datasets:
            raise InputFormatError(f"{flag} {item}: {name!r} is not a dataset of the config ({', '.join(datasets)})")
        try:
            k = int(value)
        except ValueError:
            raise InputFormatError(f"{flag} {item}: expected N or DATASET=N with N a whole number") from None
        if k < 1:
            raise InputFormatError(f"{flag} {item}: must be at least 1")
        values.update({name: k} if name else dict.fromkeys(datasets, k))
    return values


def _check(args: argparse.Namespace) -> None:
    if args.target_job_hours <= 0:
        raise InputFormatError(f"--target-job-hours {args.target_job_hours:g}: must be positive")
    if args.margin < 1:
        raise InputFormatError(f"--margin {args.margin:g}: a safety factor is at least 1")


def timed(atoms, settings: dict, cache: str, echo: bool = True, neighbour=None) -> tuple[float, bool]:
    """(seconds, ok) of one structure through the engine, printed (`echo`) as it finishes. CP2K runs as a child
    process: its CPU seconds (all threads and ranks: core-seconds, whatever else loads the machine); the
    in-process backends: the record's wall time in the (pinned, single-threaded) worker. With `neighbour` (the
    scaling before it on its curve, `wfn_restart`), that one runs first, untimed, and the structure starts from
    its wavefunction, as in the workflow's chunks."""
    chain = [neighbour, atoms] if neighbour is not None else [atoms]
    cpu, result = cost.timed_run(chain, settings, tempfile.mkdtemp(dir=cache))[-1]
    seconds = cpu if settings.get("backend", "cp2k") == "cp2k" else result.walltime_s
    steps = "" if result.scf_steps is None else f", {result.scf_steps} SCF steps"
    start = f", from {result.attempts[0]['guess']}" if result.attempts and "guess" in result.attempts[0] else ""
    if echo:
        print(f"timed {atoms.info.get('system_id', atoms.get_chemical_formula())} ({len(atoms)} atoms): "
              f"{_num(seconds)} s (wall {_num(result.walltime_s)} s{steps}{start}, {result.status})", flush=True)
    return max(seconds, 1e-6), result.status == "ok"


def starts(structures: list, templates: np.ndarray, settings: dict) -> np.ndarray:
    """How CP2K starts each structure's SCF (cost.ATOMIC or cost.RESTART): from the wavefunction of the
    structure before it where `wfn_restart` applies to its template (OT inputs: molecules) and that is the same
    curve (group, atom count) at a smaller scaling, as the workflow runs chunks that hold whole curves (what
    `plan` suggests); else from atoms."""
    from vimpnn.dft.runner import restart_curve
    from vimpnn.dft.settings import resolve
    from vimpnn.dft.templates import render

    s = resolve(settings)
    out = np.full(len(structures), cost.ATOMIC)
    if s["backend"] != "cp2k":
        return out
    first = {t: k for k, t in reversed(list(enumerate(templates)))}
    restarting = {t: restart_curve(structures[k], render(structures[k], s)) is not None for t, k in first.items()}
    for k in range(1, len(structures)):
        a, b = structures[k - 1], structures[k]
        if restarting[templates[k]] and a.info.get("group") == b.info.get("group") and len(a) == len(b) \
                and a.info.get("scale", 1.0) < b.info.get("scale", 1.0):
            out[k] = cost.RESTART
    return out


def volumes(structures: list, templates: np.ndarray, settings: dict) -> np.ndarray:
    """Å^3 the grids of each structure span: the cubic box the template gives a finite structure (its dataset's
    `max_scale`, vacuum and box rule), the cell of a periodic one."""
    from vimpnn.dft.settings import for_template, resolve
    from vimpnn.dft.templates import box

    resolved = resolve(settings)
    per_template = {t: for_template(resolved, t) for t in dict.fromkeys(templates)}
    return np.array([a.get_volume() if a.pbc.any() else float(np.prod(box(a, per_template[t])[0]))
                     for a, t in zip(structures, templates)])


def measure(config: dict, sizes: dict, max_atoms: dict, earlier: dict | None = None, echo: bool = True,
            done: Callable[[list[Group]], None] | None = None) -> list[Group]:
    """Build each dataset, sample and time it per template, in one fresh cache removed afterwards; with
    `earlier` ((dataset, template) -> an earlier run's group as JSON), its timings instead. `echo`: print
    each timing as it finishes; `done`: called with the groups so far after each (a long sample keeps what it
    timed when it is stopped)."""
    from vimpnn.dft import compute
    from vimpnn.dft.templates import choose_template
    from vimpnn.structures.datasets import build, max_scale

    groups = []
    with tempfile.TemporaryDirectory() as cache:
        for name in config["datasets"]:
            settings = {**(config.get("dft") or {}), "max_scale": max_scale(name, config), "jobs": 1}
            if earlier is None:
                compute([], settings, cache_dir=cache)  # checks the settings and the binary; asks its version once
            structures = build(name, config)
            n = np.array([len(a) for a in structures])
            templates = np.array([choose_template(a) for a in structures])
            volume = volumes(structures, templates, settings)
            start = starts(structures, templates, settings)
            kind = np.array(["" if t == "molecule" else "".join(sorted(set(a.get_chemical_symbols())))
                             for a, t in zip(structures, templates)])
            for template in dict.fromkeys(templates):
                where = np.flatnonzero(templates == template)
                top = max_atoms[name]
                allowed = where[n[where] <= top] if top else where
                if len(allowed) == 0:
                    raise InputFormatError(f"{name}: no {template} structure of at most {top} atoms to sample "
                                           f"(the smallest has {n[where].min()})")
                if earlier is not None:
                    if (name, template) not in earlier:
                        raise InputFormatError(f"--dft-from: no timings of {name} ({template})")
                    old = earlier[(name, template)]
                    picks = np.asarray(old["sample_index"], dtype=int)
                    if np.any(picks < 0) or np.any(picks >= len(n)) or not np.all(np.isin(picks, where)) or \
                            n[picks].tolist() != list(old["sample_n"]):
                        raise InputFormatError(f"--dft-from: the timings of {name} ({template}) were sampled from "
                                               "other structures than this config builds")
                    times, failed = old["seconds"], old["failed"]
                    timed_volume = old.get("sample_volume", volume[picks].tolist())
                else:
                    scales = [structures[i].info.get("scale", 1.0) for i in allowed]
                    picks = allowed[cost.stratified_sample(n[allowed], scales, sizes[name], kind[allowed])]
                    before = [structures[i - 1] if start[i] == cost.RESTART else None for i in picks]
                    timings = [timed(structures[i], settings, cache, echo, nb) for i, nb in zip(picks, before)]
                    times, failed = [t for t, _ in timings], sum(not ok for _, ok in timings)
                    timed_volume = volume[picks].tolist()
                groups.append(Group(name, template, n[where], volume[where], start[where], kind[where], where,
                                    [int(i) for i in picks], list(times), failed, list(timed_volume)))
                if done is not None and earlier is None:
                    done(groups)
    return groups


def load_timings(path: str) -> dict:
    """(dataset, template) -> group of a `--dft-times` file."""
    import json

    try:
        rows = json.loads(Path(path).read_text())
        for r in rows:
            cost.fit({"N": r["sample_n"]}, r["seconds"])  # positive times, as many as atom counts
            if any(len(r.get(k, r["sample_n"])) != len(r["sample_n"]) for k in ("sample_index", "sample_volume")):
                raise ValueError("sample_index, sample_volume and sample_n differ in length")
        keys = ("sample_n", "seconds", "failed", "sample_index", "sample_volume")
        return {(r["dataset"], r["template"]): {k: r[k] for k in keys if k in r} for r in rows}
    except OSError as exc:
        raise InputFormatError(f"--dft-from {path}: {exc.strerror}") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise InputFormatError(f"--dft-from {path}: not a --dft-times file ({exc!r})") from None


def save_timings(path: str, groups: list[Group]) -> None:
    import json

    from vimpnn.outputs import atomic_output

    rows = [{"dataset": g.dataset, "template": g.template, "sample_n": g.sample_n, "seconds": g.seconds,
             "failed": g.failed, "sample_index": g.sample_index, "sample_volume": g.sample_volume} for g in groups]
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(rows, indent=1))


def _num(x: float) -> str:
    """Three significant digits, thousands separated."""
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def _hours(seconds: float) -> str:
    return _num(seconds / 3600)


@dataclass
class Pool:
    """One cost law: the structures of one template, and of one metal where each metal has two or more sampled
    structures (a Cu structure costs several Al ones of the same size), over every dataset of the config (the two
    growth datasets share their laws: their boxes differ, and V carries that)."""

    template: str
    label: str                   # the metal, or "" for all kinds together
    members: list[tuple[Group, np.ndarray, np.ndarray]]  # a group, its rows in the pool, their sample positions
    law: cost.CostLaw

    @property
    def name(self) -> str:
        return f"{self.template} {self.label}".strip()

    def sample(self) -> tuple[dict[str, np.ndarray], np.ndarray]:
        return pooled_sample(self.members)


def pooled_sample(members: list[tuple[Group, np.ndarray, np.ndarray]]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The sampled structures' covariates and seconds, over the members of a pool."""
    covariates = [g.sample_covariates(at) for g, _, at in members]
    seconds = [np.asarray(g.seconds, dtype=float)[at] for g, _, at in members]
    return {k: np.concatenate([c[k] for c in covariates]) for k in cost.COVARIATES}, np.concatenate(seconds)


def fitted(groups: list[Group], args: argparse.Namespace) -> list[Pool]:
    """A cost law per template, and per metal where every metal of the template has two sampled structures."""
    pools = []
    for template in dict.fromkeys(g.template for g in groups):
        members = [g for g in groups if g.template == template]
        kinds = np.unique(np.concatenate([g.kind for g in members]))
        sampled = np.concatenate([g.kind[g.sample_rows] for g in members])
        split = len(kinds) > 1 and all(np.sum(sampled == k) >= 2 for k in kinds)
        for kind in kinds if split else [None]:
            parts = [(g, np.flatnonzero(g.kind == kind), np.flatnonzero(g.kind[g.sample_rows] == kind))
                     if kind is not None else (g, np.arange(len(g.kind)), np.arange(len(g.sample_index)))
                     for g in members]
            label = str(kind) if kind is not None else str(kinds[0]) if len(kinds) == 1 else ""
            parts = [p for p in parts if len(p[1])]
            pools.append(Pool(template, label, parts, cost.fit(*pooled_sample(parts), _assumed(members, args))))
    return pools


def report(config: dict, groups: list[Group], args: argparse.Namespace) -> None:
    from vimpnn.dft.settings import resolve

    dft = resolve(config.get("dft"))
    cp2k = dft["backend"] == "cp2k"
    load, cpus = os.getloadavg()[0], os.cpu_count()
    basis = "CPU seconds of each CP2K process" if cp2k else "wall time in the worker"
    when = f"the timings of {args.dft_from}" if args.dft_from else \
        f"timed now, one structure at a time in a fresh cache (load average {load:.1f} on {cpus} cores)"
    print(f"DFT cost at the config's scale: backend {dft['backend']}, the config's dft: settings, a stratified "
          f"sample, {when}; {basis}; fit t = a V^c G^d N^b per template and metal over the datasets (V the "
          "box or cell in Å^3, G 2 for an SCF from atoms and 1 for a restart, N atoms)")
    print(f"{'dataset':<16} {'template':<16} {'sampled':>7} {'N':>7} {'fit t [s]':>30} "
          f"{'sampled s min/med/max':>26} {'structures':>10} {'N':>7} {'core-h':>9} {'range':>17}")
    pools, total, low, high, notes = fitted(groups, args), 0.0, 0.0, 0.0, []
    for pool in pools:
        law, pool_n = pool.law, pool.sample()[0]["N"]
        for g, rows, at in pool.members:
            n, sample_n = g.n_atoms[rows], g.n_atoms[g.sample_rows[at]]
            est = cost.estimate(law, g.covariates(rows))
            total, low, high = total + est, low + est * math.exp(-law.spread), high + est * math.exp(law.spread)
            t = sorted(np.asarray(g.seconds)[at])
            sampled = f"{min(sample_n):>3}-{max(sample_n):<3}" if len(t) else f"{'-':>7}"
            spread = f"{_num(t[0])} / {_num(statistics.median(t))} / {_num(t[-1])}" if len(t) else "-"
            print(f"{g.dataset:<16} {pool.name:<16} {len(t):>7} {sampled} {f'{law.formula()} ±{law.spread:.0%}':>30} "
                  f"{spread:>26} {len(n):>10,} {n.min():>3}-{n.max():<3} {_hours(est):>9} "
                  f"{_hours(est * math.exp(-law.spread)) + '-' + _hours(est * math.exp(law.spread)):>17}")
            if len(set(pool_n)) == 1 and n.min() < n.max():
                flat = f"exponent {args.dft_exponent:g} assumed" if args.dft_exponent is not None else \
                    "flat in N: a lower bound for the larger structures"
                notes.append(f"{g.dataset}: one atom count sampled ({pool_n[0]}), the dataset spans "
                             f"{n.min()}-{n.max()}: {flat}")
            elif max(pool_n) < n.max():
                notes.append(f"{g.dataset} ({pool.name}): sampled up to {max(pool_n)} atoms, extrapolated to "
                             f"{n.max()}")
    notes += [f"{g.dataset}: {g.failed} of the sampled structures failed (their time is counted)"
              for g in groups if g.failed]
    print(f"total: {_hours(total)} core-hours (range {_hours(low)}-{_hours(high)}: each fit moved by its RMS log "
          "residual), on this machine's cores")
    for note in notes:
        print(f"  note: {note}")
    held_out(pools, args)
    chunking(config, groups, pools, dft, args)


def _assumed(groups: list[Group], args: argparse.Namespace) -> dict[str, float]:
    """--dft-exponent for N, where a dataset has more than one atom count."""
    spans = any(g.n_atoms.min() < g.n_atoms.max() for g in groups)
    return {"N": args.dft_exponent} if args.dft_exponent is not None and spans else {}


def held_out(pools: list[Pool], args: argparse.Namespace) -> None:
    """Fit on the even structures of each sample (by size), predict the total time of the odd ones."""
    print("held-out check (each law fitted on the even sampled structures in order of V, G and N, predicting the odd ones' total):")
    predicted = measured = 0.0
    for pool in pools:
        name = f"{pool.name} ({', '.join(g.dataset for g, _, _ in pool.members)})"
        check = cost.held_out(*pool.sample(), _assumed([g for g, _, _ in pool.members], args))
        if check is None:
            print(f"{name:<40} one structure sampled: no check")
            continue
        predicted, measured = predicted + check[0], measured + check[1]
        print(f"{name:<40} predicted {_num(check[0])} s, measured {_num(check[1])} s "
              f"({check[0] / check[1] - 1:+.1%})")
    if measured:
        print(f"all held-out structures: predicted {_num(predicted)} s, measured {_num(measured)} s "
              f"({predicted / measured - 1:+.1%})")


def chunking(config: dict, groups: list[Group], pools: list[Pool], dft: dict, args: argparse.Namespace) -> None:
    """Chunk size per dataset for the target job length, and the runtime its longest chunk needs."""
    workflow = config.get("workflow") or {}
    per_process = int(dft["omp_threads"]) * int(dft["mpi_ranks"]) if dft["backend"] == "cp2k" else 1
    threads = int(workflow.get("dft_threads", 1))
    slots = max(threads // per_process, 1)  # the dft_chunk rule's --jobs
    target = args.target_job_hours * 3600
    print(f"chunks for jobs of at most {args.target_job_hours:g} h (workflow.dft_threads {threads}: {slots} "
          f"structure(s) at a time x {per_process} core(s) each; runtime = {args.margin:g} x the predicted longest "
          "chunk, a safety margin for the fit's spread, a slower node and retries):")
    print(f"{'dataset':<16} {'chunk_size':>10} {'chunks':>8} {'longest h':>10} {'runtime_min':>12}   now")
    runtimes = []
    for name in dict.fromkeys(g.dataset for g in groups):
        wall = np.zeros(sum(len(g.n_atoms) for g in groups if g.dataset == name))
        for pool in pools:
            for g, rows, _ in pool.members:
                if g.dataset == name:
                    wall[g.positions[rows]] = pool.law(g.covariates(rows)) / per_process
        curve = _curve_length(config, name, groups, dft)
        size = cost.suggest_chunk_size(wall, slots, target, args.margin, curve)
        longest = cost.chunk_walls(wall, size, slots, curve).max()
        runtimes.append(math.ceil(args.margin * longest / 60))
        now = (workflow.get("chunk_size") or {}).get(name)
        current = "" if now is None else \
            f"chunk_size {now}: longest chunk {cost.chunk_walls(wall, now, slots, curve).max() / 3600:.2f} h"
        print(f"{name:<16} {size:>10,} {math.ceil(len(wall) / size):>8,} {longest / 3600:>10.2f} "
              f"{runtimes[-1]:>12,}   {current}")
        if curve > 1:
            print(f"  note: {name}: a chunk holds whole curves of {curve} scalings, each run as one restart chain "
                  f"({size // curve:,} curves)")
        if args.margin * wall.max() > float(dft["walltime_s"]):
            print(f"  note: {name}'s largest structure is predicted at {wall.max():,.0f} s: raise dft.walltime_s "
                  f"({dft['walltime_s']:g} s) to at least {math.ceil(args.margin * wall.max()):,}")
    print(f"workflow.dft_runtime_min: {max(runtimes):,} (now {workflow.get('dft_runtime_min', 'unset')}); times are "
          "this machine's, scale them by the cluster's speed")


def _curve_length(config: dict, name: str, groups: list[Group], dft: dict) -> int:
    """How many consecutive structures run as one chain in a chunk: a molecule's scalings when CP2K restarts
    each from the one before (`wfn_restart`, OT inputs), else 1."""
    restarts = dft["backend"] == "cp2k" and dft["wfn_restart"] and \
        any(g.dataset == name and g.template == "molecule" for g in groups)
    return int(((config.get(name) or {}).get("scalings") or {}).get("n", 1)) if restarts else 1


def run(args: argparse.Namespace) -> int:
    from vimpnn.validation import load_checked

    _check(args)
    config = load_checked(args.dft)
    from vimpnn.structures.datasets import DATASETS

    config.setdefault("datasets", list(DATASETS))
    datasets = config["datasets"]
    sizes = per_dataset("--dft-sample", args.dft_sample, datasets, DEFAULT_SAMPLE)
    max_atoms = per_dataset("--dft-max-atoms", args.dft_max_atoms, datasets, None)
    groups = measure(config, sizes, max_atoms, load_timings(args.dft_from) if args.dft_from else None,
                     done=(lambda so_far: save_timings(args.dft_times, so_far)) if args.dft_times else None)
    report(config, groups, args)
    return 0
