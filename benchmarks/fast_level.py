"""Throughput of the fast level: GFN2-xTB (tblite) on AugQM9 structures, EMT on growth clusters and InfCrystal
cells, and the cost of OpenMP oversubscription, measured side by side in one run.

AugQM9: `--molecules` QM9 molecules spread evenly over the shipped 10,000 (every k-th), each at its 10 scalings
0.90-1.50 (1,000 structures by default), through `vimpnn.dft.compute` with `dft.backend: xtb` and `--jobs`
pinned worker processes, in a fresh cache. Reported: structures/s per core (wall clock, start-up included) and
min / median / max of the per-structure time measured inside the worker. Goal (issue 13): >= 30 structures/s
per core over 1,000 structures.

Unpinned: the same worker function in a plain spawned process pool whose workers keep OpenMP's default (one
thread per core), on the first `--unpinned` structures, `--jobs` workers at once: the ratio is what pinning saves.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/fast_level.py                # 1 worker
    nice -n 10 .venv/bin/python benchmarks/fast_level.py --jobs 2 --unpinned 40
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from vimpnn.config import load_config
from vimpnn.dft import compute
from vimpnn.dft.settings import resolve
from vimpnn.dft.xtb import XTBBackend, singlepoint
from vimpnn.structures.datasets import build
from vimpnn.workers import THREAD_VARIABLES

GOAL_PER_CORE = 30.0  # structures/s per core on AugQM9 (issue 13)
ROOT = Path(__file__).resolve().parents[1]


def spread_augqm9(n_molecules: int) -> list:
    """Every k-th of the shipped 10,000 QM9 molecules, each at its 10 scalings."""
    structures = build("augqm9", {"qm9": {"source": "shipped", "n_molecules": 10000}})
    groups = sorted({a.info["group"] for a in structures})
    keep = set(groups[:: max(1, len(groups) // n_molecules)][:n_molecules])
    return [a for a in structures if a.info["group"] in keep]


def cpu_seconds() -> float:
    """CPU time of this process and of its finished (joined) worker processes."""
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def summary(label: str, seconds: list[float], wall: float, jobs: int, cpu: float | None = None) -> None:
    """Wall-clock throughput and the per-structure times; CPU time too, since a shared machine's load inflates
    wall times but not (much) CPU times."""
    n = len(seconds)
    print(f"{label}: {n} structures in {wall:.1f} s wall on {jobs} worker(s): {n / wall / jobs:.1f} structures/s "
          f"per core; per structure min {min(seconds) * 1e3:.1f} ms, median {statistics.median(seconds) * 1e3:.1f} ms,"
          f" max {max(seconds) * 1e3:.1f} ms (wall, in the worker)")
    if cpu is not None:
        print(f"  CPU: {cpu:.1f} s in all = {cpu / n * 1e3:.1f} ms per structure = {n / cpu:.1f} structures per CPU-second")


def unpinned(structures: list, jobs: int) -> list[float]:
    """Per-structure seconds with OpenMP's default thread count in every worker (what pinning prevents)."""
    saved = {k: os.environ.pop(k) for k in THREAD_VARIABLES if k in os.environ}
    try:
        backend = XTBBackend(resolve({"backend": "xtb"}))
        jobs_ = [backend.prepare(a) for a in structures]
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            return [out["seconds"] for out in pool.map(singlepoint, jobs_)]
    finally:
        os.environ.update(saved)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--molecules", type=int, default=100, help="QM9 molecules x 10 scalings")
    parser.add_argument("--clusters", type=int, default=200,
                        help="growth_unstable clusters and InfCrystal cells (each, spread over config/fast.yaml's "
                             "paper-size datasets) for the EMT rates")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--unpinned", type=int, default=40, help="structures run unpinned for the ratio (0: skip)")
    args = parser.parse_args()

    molecules = spread_augqm9(args.molecules)
    sizes = [len(a) for a in molecules]
    print(f"AugQM9 sample: {len(molecules)} structures, {min(sizes)}-{max(sizes)} atoms (mean "
          f"{statistics.mean(sizes):.1f}); load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as cache:
        t0, c0 = time.perf_counter(), cpu_seconds()
        results = compute(molecules, {"backend": "xtb", "jobs": args.jobs}, cache_dir=cache)
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    failed = [r for r in results if r.status != "ok"]
    pinned = [r.walltime_s for r in results]
    summary("xTB pinned", pinned, wall, args.jobs, cpu)
    rates = {"wall clock": len(results) / wall / args.jobs, "CPU time": len(results) / cpu}
    print(f"  {len(failed)} failed; goal >= {GOAL_PER_CORE:.0f} structures/s per core: " + ", ".join(
        f"{'met' if r >= GOAL_PER_CORE else 'NOT met'} by {k} ({r:.1f})" for k, r in rates.items()))

    paper = load_config(ROOT / "config" / "fast.yaml")
    for name in ("growth_unstable", "infcrystal"):
        structures = build(name, paper)
        sample = structures[:: max(1, len(structures) // args.clusters)][: args.clusters]
        with tempfile.TemporaryDirectory() as cache:
            t0, c0 = time.perf_counter(), cpu_seconds()
            emt = compute(sample, {"backend": "emt", "jobs": 1}, cache_dir=cache)
            summary(f"EMT {name} ({statistics.mean(len(a) for a in sample):.0f} atoms mean)",
                    [r.walltime_s for r in emt], time.perf_counter() - t0, 1, cpu_seconds() - c0)

    if args.unpinned:
        t0 = time.perf_counter()
        slow = unpinned(molecules[: args.unpinned], args.jobs)
        summary("xTB unpinned", slow, time.perf_counter() - t0, args.jobs)
        same = pinned[: args.unpinned]
        print(f"  unpinned / pinned on the same {len(same)} structures: median {statistics.median(slow) / statistics.median(same):.1f}x, "
              f"total {sum(slow) / sum(same):.1f}x")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
