"""DFT cost model for planning: a power law t = a N^b in the atom count, fitted to a timed sample, summed over
a dataset's real sizes, and the chunking that keeps every batch job under a target length.

The sample is stratified so a handful of structures spans what drives cost: the distinct atom counts are
taken evenly from smallest to largest (the exponent needs the ends), and the scalings are spread over the
picks by a golden-ratio sequence, so size and scaling are not confounded (a stretched molecule may need more
SCF steps than a compressed one of the same size).
"""

from __future__ import annotations

import math
import resource
from dataclasses import dataclass
from typing import Sequence

import numpy as np

GOLDEN = (math.sqrt(5) - 1) / 2


@dataclass(frozen=True)
class PowerLaw:
    """t = a * N^b seconds; `spread`: RMS of the log residuals (0 with fewer than three distinct sizes)."""

    a: float
    b: float
    spread: float

    def __call__(self, n) -> np.ndarray:
        return self.a * np.asarray(n, dtype=float) ** self.b


def fit_power_law(n_atoms: Sequence[int], seconds: Sequence[float], exponent: float | None = None) -> PowerLaw:
    """b by least squares of log t on log N; a so that the law gives the sample's total time (a log-log fit
    alone gives the geometric mean, which undercounts a total when the times scatter). With one distinct N the
    exponent is not determined: b = `exponent` (None: 0, i.e. the mean time, flat in N)."""
    n, t = np.asarray(n_atoms, dtype=float), np.asarray(seconds, dtype=float)
    if len(n) == 0 or len(n) != len(t) or np.any(n < 1) or np.any(t <= 0):
        raise ValueError("a power-law fit needs as many positive times as atom counts >= 1, at least one")
    x, y = np.log(n), np.log(t)
    if np.ptp(x) == 0:
        b, spread = float(exponent or 0.0), float(np.std(y))
    else:
        b, log_a = np.polyfit(x, y, 1)
        dof = len(x) - 2
        spread = float(np.sqrt(np.sum((y - log_a - b * x) ** 2) / dof)) if dof > 0 else 0.0
    return PowerLaw(float(np.sum(t) / np.sum(n**b)), float(b), spread)


def estimate(law: PowerLaw, n_atoms: Sequence[int]) -> float:
    """Seconds for every structure of a dataset: sum of a N^b over its real atom counts."""
    return float(np.sum(law(n_atoms)))


def held_out(n_atoms: Sequence[int], seconds: Sequence[float], exponent: float | None = None
             ) -> tuple[float, float] | None:
    """(predicted, measured) total seconds of the odd structures (ordered by size) from a fit to the even ones;
    None with fewer than two structures."""
    if len(n_atoms) < 2:
        return None
    order = np.argsort(np.asarray(n_atoms), kind="stable")
    n, t = np.asarray(n_atoms)[order], np.asarray(seconds, dtype=float)[order]
    law = fit_power_law(n[0::2], t[0::2], exponent)
    return estimate(law, n[1::2]), float(np.sum(t[1::2]))


def stratified_sample(n_atoms: Sequence[int], scales: Sequence[float], k: int) -> list[int]:
    """Indices of k structures (fewer if there are fewer): distinct atom counts evenly from smallest to largest,
    scalings spread by a golden-ratio sequence, and within a stratum the structures (molecules, growths) spread
    too. Deterministic."""
    n, s = np.asarray(n_atoms), np.asarray(scales, dtype=float)
    sizes = np.unique(n)
    picked: list[int] = []
    for j in range(min(k, len(n))):
        size = sizes[round(j * (len(sizes) - 1) / max(k - 1, 1))]
        free = [i for i in np.flatnonzero(n == size) if i not in picked]
        if not free:
            free = [i for i in range(len(n)) if i not in picked]
        levels = np.unique(s[free])
        level = levels[int(((j * GOLDEN) % 1.0) * len(levels))]
        same = [i for i in free if s[i] == level]
        picked.append(int(same[(j * len(same)) // max(k, 1) % len(same)]))
    return picked


def chunk_walls(core_seconds: np.ndarray, chunk_size: int, slots: int) -> np.ndarray:
    """Wall seconds of each chunk of consecutive structures (the workflow's chunks), run `slots` at a time:
    its core-seconds shared by the slots, plus the last structure that may run alone (Graham's bound)."""
    starts = np.arange(0, len(core_seconds), chunk_size)
    sums = np.add.reduceat(core_seconds, starts)
    longest = np.maximum.reduceat(core_seconds, starts)
    return sums / slots + longest * (1 - 1 / slots)


def suggest_chunk_size(core_seconds: np.ndarray, slots: int, target_s: float, margin: float) -> int:
    """The largest chunk size whose longest chunk, times `margin`, fits in `target_s` (1 when none does); a
    bisection, as the longest chunk grows with the chunk size (up to edge effects of the last chunk)."""
    def fits(size: int) -> bool:
        return margin * chunk_walls(core_seconds, size, slots).max() <= target_s

    lo, hi = 1, len(core_seconds)
    if fits(hi):
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def children_cpu() -> float:
    """CPU seconds of this process's finished child processes (the CP2K runs: all their threads and ranks)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed_run(structures: Sequence, settings: dict, cache_dir) -> list[tuple[float, object]]:
    """(CPU seconds of the child processes, result) per structure, in input order, through one `compute` call
    that runs one structure at a time (with `wfn_restart` a curve's scalings as one chain, as the workflow's
    chunks run them): the CPU time of the processes that finished between two results is that structure's."""
    from vimpnn.dft import compute

    cpu: dict[str, float] = {}
    last = [children_cpu()]

    def done(result) -> None:
        cpu[result.system_id], last[0] = children_cpu() - last[0], children_cpu()

    results = compute(structures, {**settings, "jobs": 1}, cache_dir=cache_dir, progress=done)
    return [(cpu[r.system_id], r) for r in results]

