"""CP2K cost per structure at the previous production settings and at the current defaults, side by side, and
the energy difference between them.

Both levels start from the `dft:` section of `--config` (default `config/release.yaml`; `config/config.yaml` runs
the defaults, the paper-scale level) with each dataset's `max_scale`, as the workflow runs them
(`results/config/dft-<dataset>.yaml`); BEFORE restores what the defaults were before they were made
cheaper. The two levels alternate curve by curve (the machine is shared and its load drifts), each in a
fresh cache, one CP2K process at a time with one thread. A structure whose two inputs are identical runs once.
Reported per dataset: CPU seconds of CP2K per structure at each level and their ratio, SCF steps, and the
largest and mean |dE| per atom. `--grid` adds the box volume (the grid points at a fixed cutoff) of every finite
structure of the paper-size datasets under the two box rules (`dft.box`), no CP2K needed.

Sample (the defaults; small because CP2K is slow on the 2 shared cores this was written on): the first
`--molecules` QM9 molecules at the scalings numbered `--scalings`, the growth_stable Al and Cu clusters of
`--cluster-sizes` atoms (seed 0), the first `--unstable` of the paper's 10 scalings of one 15-atom growth_unstable
configuration per metal, and `--lattice` points of each InfCrystal metal. Curves (a molecule's scalings, an
unstable configuration's) run as the workflow's chunks run them: with `wfn_restart` (now) each scaling of a
molecule from its neighbour's wavefunction, so consecutive `--scalings` show what the restart saves.

    OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python benchmarks/dft_cost.py
    .venv/bin/python benchmarks/dft_cost.py --grid --molecules 0 --lattice 0 --clusters 0   # grid volumes only
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from vimpnn.cli.plan_dft import volumes
from vimpnn.config import load_config
from vimpnn.dft import templates
from vimpnn.dft.binary import build as cp2k_build, find_executable
from vimpnn.dft.cost import timed_run
from vimpnn.dft.settings import merge, resolve
from vimpnn.structures.datasets import build, max_scale

ROOT = Path(__file__).resolve().parents[1]
# The defaults before the cost work (docs/dft-validation.md, "Cost"). Defaults a config may set itself
# (`config/release.yaml` does: clusters at 3 Å and EPS_SCF 1e-5, Al at 400 Ry) go under the config: every
# element at `cutoff` (Al's entry at 400 turns its 200 off) and clusters at 4 Å of vacuum and EPS_SCF 1e-6.
OLD_DEFAULTS: dict = {"element_cutoff": {"Al": 400},
                      "templates": {"metal_cluster": {"vacuum": 4.0, "eps_scf": 1.0e-6}}}
# The rest goes over it: the box of every finite structure sized for its dataset's largest scaling; molecules at
# EPS_SCF 1e-6 with EPS_DEFAULT 1e-12 and the FULL_SINGLE_INVERSE preconditioner; clusters with EPS_DEFAULT 1e-12
# and Broyden ALPHA 0.2. With config/release.yaml these give the inputs of the previous code byte for byte (all
# 92 structures of its first release, checked once: the same cache keys).
BEFORE: dict = {"box": "dataset", "wfn_restart": False, "templates": {
    "molecule": {"eps_scf": 1.0e-6, "overrides": {"force_eval/dft/qs/eps_default": 1.0e-12,
                                                  "force_eval/dft/scf/ot/preconditioner": "FULL_SINGLE_INVERSE"}},
    "metal_cluster": {"mixing_alpha": 0.2, "overrides": {"force_eval/dft/qs/eps_default": 1.0e-12}}}}


def level(config: dict, dataset: str, before: bool) -> dict:
    """The `dft:` section the workflow would run `dataset` with, at the previous (`before`) or current defaults."""
    dft = {**config["dft"], "max_scale": max_scale(dataset, config)}
    return merge(merge(OLD_DEFAULTS, dft), BEFORE) if before else dft


def sample(config: dict, molecules: int, scalings: list[int], clusters: int, lattice: int, unstable: int,
           elements: list[str], sizes: list[int]) -> dict[str, list]:
    """The benchmark structures per dataset (see the module docstring); lattice points spread over the scan."""
    qm9 = build("augqm9", merge(config, {"qm9": {"n_molecules": molecules}})) if molecules else []
    paper_curves = merge(config, {"growth": {"max_size": 15, "unstable": {"n_seeds": 1, "scalings": {"n": 10}}}})
    stable = merge(config, {"growth": {"max_size": max(sizes), "stable": {"n_seeds": 1}}})
    ids = tuple(f"-g00-n{n:03d}" for n in sizes)
    curves = build("growth_unstable", paper_curves) if unstable else []
    n_scalings = config["augqm9"]["scalings"]["n"]
    n_lattice = config["infcrystal"]["scalings"]["n"]
    points = set(np.linspace(0, n_lattice - 1, lattice).round().astype(int)) if lattice else set()
    out = {
        "growth_stable": [a for a in build("growth_stable", stable) if a.info["system_id"].endswith(ids)]
        if clusters else [],
        "augqm9": [a for i, a in enumerate(qm9) if i % n_scalings in scalings],
        "infcrystal": [a for a in build("infcrystal", config) if a.info["source_id"] in points] if lattice else [],
        # the first scalings of one 15-atom configuration per element, at the paper's 10 scalings 0.90-1.50
        "growth_unstable": [a for a in curves if a.info["system_id"].endswith(tuple(f"-s{k:02d}" for k in
                                                                                   range(unstable)))],
    }
    out["growth_stable"] = [a for a in out["growth_stable"] if a.info["element"] in elements][:clusters]
    out["growth_unstable"] = [a for a in out["growth_unstable"] if a.info["element"] in elements]
    return {k: v for k, v in out.items() if v}


def curves(items: list) -> list[list]:
    """The structures of one curve (same group and size, several scalings) together, in sample order."""
    out: dict[tuple, list] = {}
    for atoms in items:
        out.setdefault((atoms.info.get("group"), len(atoms)), []).append(atoms)
    return list(out.values())


def measure(config: dict, structures: dict[str, list], tmp: Path) -> None:
    print(f"{'dataset':15} {'n':>3} {'before s':>9} {'now s':>8} {'ratio':>6} {'SCF before/now':>15} "
          f"{'max|dE| meV/atom':>17} {'mean|dE|':>9}  identical inputs")
    flip = 0
    for dataset, items in structures.items():
        before, now = resolve(level(config, dataset, True)), resolve(level(config, dataset, False))
        rows = []
        for curve in curves(items):
            same = all(templates.render(a, before).text == templates.render(a, now).text for a in curve) \
                and not (now["wfn_restart"] and len(curve) > 1)
            sides = {}
            order = ("before", "now") if flip % 2 == 0 else ("now", "before")
            flip += 1
            for side in order[:1] if same else order:
                settings = level(config, dataset, side == "before")
                sides[side] = timed_run(curve, {**settings, "omp_threads": 1}, tmp / side)
            if same:
                sides = {"before": next(iter(sides.values())), "now": next(iter(sides.values()))}
            for atoms, (cb, rb), (cn, rn) in zip(curve, sides["before"], sides["now"]):
                if rb.status != "ok" or rn.status != "ok":
                    print(f"  {atoms.info['system_id']}: before {rb.status}, now {rn.status} "
                          f"({rb.reason or rn.reason})")
                    continue
                de = abs(rn.energy - rb.energy) / len(atoms) * 1e3
                rows.append((cb, cn, rb.scf_steps, rn.scf_steps, de, same))
                print(f"  {atoms.info['system_id']:34} {len(atoms):3d} atoms  before {cb:7.1f} s ({rb.scf_steps} SCF)"
                      f"  now {cn:7.1f} s ({rn.scf_steps} SCF, {rn.attempts[0].get('guess', 'atomic')})  "
                      f"|dE| {de:.4f} meV/atom" + ("  (identical input)" if same else ""), flush=True)
        if not rows:
            continue
        cb, cn, sb, sn, de, same = zip(*rows)
        print(f"{dataset:15} {len(rows):3d} {statistics.mean(cb):9.1f} {statistics.mean(cn):8.1f} "
              f"{sum(cb) / sum(cn):6.2f} {statistics.mean(sb):7.1f}/{statistics.mean(sn):<7.1f} {max(de):17.4f} "
              f"{statistics.mean(de):9.4f}  {sum(same)}/{len(rows)}", flush=True)


def grid_volumes(n_molecules: int) -> None:
    """Mean box volume of the finite structures of the paper-size datasets (config/config.yaml) under the two box
    rules, `dataset` (the default) and `structure`: the grid points `box: structure` would save at a fixed cutoff."""
    paper = load_config(ROOT / "config" / "config.yaml")
    paper = merge(paper, {"qm9": {"source": "shipped", "path": None, "n_molecules": n_molecules}})
    print(f"box volume (grid points at a fixed cutoff), paper-size datasets, AugQM9 on the first {n_molecules} "
          "QM9 molecules:")
    for dataset in ("augqm9", "growth_stable", "growth_unstable"):
        structures = build(dataset, paper)
        template = "molecule" if dataset == "augqm9" else "metal_cluster"
        kinds = np.full(len(structures), template)
        vols = {rule: volumes(structures, kinds, {**level(paper, dataset, False), "box": rule}).mean()
                for rule in ("dataset", "structure")}
        print(f"  {dataset:15} {len(structures):7d} structures: mean box {vols['dataset']:8.0f} Å^3 (box: dataset) "
              f"-> {vols['structure']:8.0f} Å^3 (box: structure), ratio {vols['dataset'] / vols['structure']:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--molecules", type=int, default=4, help="the first N QM9 molecules (0: none)")
    parser.add_argument("--scalings", default="0,4,9",
                        help="which of the 10 AugQM9 scalings (0: 0.90, 4: 1.17, 9: 1.50)")
    parser.add_argument("--clusters", type=int, default=2, help="growth_stable clusters: the first K of (metal x size)")
    parser.add_argument("--cluster-sizes", default="15", help="their atom counts (seed 0 of each metal)")
    parser.add_argument("--lattice", type=int, default=2, help="InfCrystal lattice points per metal")
    parser.add_argument("--unstable", type=int, default=3,
                        help="growth_unstable: the first K of 10 scalings of one 15-atom configuration per metal")
    parser.add_argument("--elements", default="Al,Cu", help="metals of the cluster samples")
    parser.add_argument("--grid", action="store_true", help="also the box volumes over the paper-size datasets")
    parser.add_argument("--grid-molecules", type=int, default=1000)
    parser.add_argument("--config", default=str(ROOT / "config" / "release.yaml"),
                        help="whose dft: levels (config/config.yaml: the defaults the paper-scale datasets run at)")
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = "1"

    config = load_config(args.config)
    structures = sample(config, args.molecules, [int(k) for k in args.scalings.split(",")], args.clusters,
                        args.lattice, args.unstable, args.elements.split(","),
                        [int(n) for n in args.cluster_sizes.split(",")])
    if structures:
        cp2k_build(find_executable(resolve({})))  # `cp2k.psmp --version` once, outside the timings
        print(f"CP2K CPU seconds per structure at {Path(args.config).name}'s levels, before (BEFORE) and now; "
              f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            measure(config, structures, Path(tmp))
        print(f"wall {time.perf_counter() - t0:.0f} s; load average after {os.getloadavg()[0]:.2f}")
    if args.grid:
        grid_volumes(args.grid_molecules)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
