"""DFT cost model for planning: a power law t = a V^c G^d N^b in the grid volume, the SCF start and the atom
count, fitted to a timed sample, summed over a dataset's real structures, and the chunking that keeps every
batch job under a target length.

The sample is stratified so a handful of structures spans what drives cost: the distinct atom counts are
taken evenly from smallest to largest (the exponent needs the ends), and the scalings are spread over the
picks by a golden-ratio sequence, so size and scaling are not confounded (a stretched molecule may need more
SCF steps than a compressed one of the same size).
"""

from __future__ import annotations

import math
import resource
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

GOLDEN = (math.sqrt(5) - 1) / 2


@dataclass(frozen=True)
class CostLaw:
    """t = a * prod_k x_k^b_k seconds over covariates x (COVARIATES: grid volume V, SCF start G, atom count N);
    `spread`: RMS of the log residuals (0 when the fit has no residual degree of freedom)."""

    a: float
    exponents: dict[str, float]
    spread: float

    def __call__(self, covariates: Mapping[str, Sequence[float]]) -> np.ndarray:
        t = np.full(len(next(iter(covariates.values()))), self.a)
        for name, b in self.exponents.items():
            if b:
                t = t * np.asarray(covariates[name], dtype=float) ** b
        return t

    def formula(self) -> str:
        terms = "".join(f" {k}^{b:.2f}" for k, b in self.exponents.items() if b)
        return f"{self.a:.3g}{terms}"


# What drives CP2K's time: the volume the grids span (box of a finite system, cell of a periodic one: FFTs, the
# gradient-corrected XC and the Poisson solver, which take nearly all of a cluster's or molecule's time in
# CP2K's profiles; for a k-point cell also how many neighbouring images its basis functions overlap), how the
# SCF starts (G: 2 from CP2K's atomic guess, 1 from the converged wavefunction of the scaling before it on its
# curve, `wfn_restart`, which takes 2-3x fewer steps: 2^c is what a start from atoms costs more) and the atom
# count (basis functions, collocation). Fitted in this order of priority when the sample is small: a fit to two
# structures follows their boxes.
COVARIATES = ("V", "G", "N")
ATOMIC, RESTART = 2.0, 1.0


def fit(covariates: Mapping[str, Sequence[float]], seconds: Sequence[float],
        assumed: Mapping[str, float] | None = None) -> CostLaw:
    """Exponents by least squares of log t on the log covariates; a so that the law gives the sample's total
    time (a log fit alone gives the geometric mean, which undercounts a total when the times scatter).

    A covariate that does not vary in the sample gets its `assumed` exponent (default 0: flat in it). From three
    structures on, one degree of freedom is kept for the residual: the later covariates are dropped (exponent 0)
    while the parameters (a and the free exponents) would reach the number of structures. Of the fits to the
    first 0, 1, ... of the remaining covariates (in COVARIATES' order) the one with the lowest BIC is kept."""
    t = np.asarray(seconds, dtype=float)
    x = {k: np.asarray(v, dtype=float) for k, v in covariates.items()}
    if len(t) == 0 or any(len(v) != len(t) for v in x.values()) or np.any(t <= 0) or \
            any(np.any(v <= 0) for v in x.values()):
        raise ValueError("a cost fit needs as many positive times as positive covariates, at least one")
    logs = {k: np.log(v) for k, v in x.items()}
    exponents = {k: float((assumed or {}).get(k, 0.0)) for k in x}
    free = [k for k in x if np.ptp(logs[k]) > 1e-9]
    free = free[:max((len(t) - 1 if len(t) > 2 else len(t)) - 1, 0)]
    y = np.log(t) - sum(exponents[k] * logs[k] for k in x if k not in free)
    fits = [_least_squares([logs[k] for k in free[:m]], y) for m in range(len(free) + 1)]
    m = int(np.argmin([bic for _, _, bic in fits]))
    coef, rss, _ = fits[m]
    exponents.update({k: float(b) for k, b in zip(free[:m], coef[1:])})
    exponents.update({k: 0.0 for k in free[m:]})  # fitted as absent
    dof = len(t) - 1 - m
    spread = float(np.sqrt(rss / dof)) if dof > 0 else 0.0
    law = CostLaw(1.0, exponents, spread)
    return CostLaw(float(np.sum(t) / np.sum(law(x))), exponents, spread)


def _least_squares(columns: list[np.ndarray], y: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(coefficients, residual sum of squares, BIC) of y on a constant and `columns`. The BIC (n ln(RSS/n) +
    k ln n, RSS floored at an RMS of 1e-6 so exact laws compare) chooses among the nested fits: a covariate that
    nearly repeats an earlier one (V and N of small molecules) gets no exponent the sample cannot pin down."""
    design = np.column_stack([np.ones(len(y))] + columns)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    rss = float(np.sum((y - design @ coef) ** 2))
    n = len(y)
    return coef, rss, n * math.log(max(rss / n, 1e-12)) + design.shape[1] * math.log(n)


def estimate(law: CostLaw, covariates: Mapping[str, Sequence[float]]) -> float:
    """Seconds for every structure of a dataset: the law summed over their real covariates."""
    return float(np.sum(law(covariates)))


def held_out(covariates: Mapping[str, Sequence[float]], seconds: Sequence[float],
             assumed: Mapping[str, float] | None = None) -> tuple[float, float] | None:
    """(predicted, measured) total seconds of the odd structures (ordered by the covariates, the first first)
    from a fit to the even ones; None with fewer than two structures."""
    if len(seconds) < 2:
        return None
    x = {k: np.asarray(v, dtype=float) for k, v in covariates.items()}
    order = np.lexsort([x[k] for k in reversed(list(x))])
    t = np.asarray(seconds, dtype=float)[order]
    even = {k: v[order][0::2] for k, v in x.items()}
    odd = {k: v[order][1::2] for k, v in x.items()}
    return estimate(fit(even, t[0::2], assumed), odd), float(np.sum(t[1::2]))


def stratified_sample(n_atoms: Sequence[int], scales: Sequence[float], k: int,
                      kinds: Sequence[str] | None = None) -> list[int]:
    """Indices of k structures (fewer if there are fewer): distinct atom counts evenly from smallest to largest,
    scalings spread by a golden-ratio sequence, `kinds` (the metal, fitted apart) taken in turn, and within a
    stratum the structures (molecules, growths) spread too. Deterministic."""
    n, s = np.asarray(n_atoms), np.asarray(scales, dtype=float)
    kind = np.asarray(kinds if kinds is not None else [""] * len(n))
    sizes, turns = np.unique(n), np.unique(kind)
    picked: list[int] = []
    for j in range(min(k, len(n))):
        size = sizes[round(j * (len(sizes) - 1) / max(k - 1, 1))]
        free = [i for i in np.flatnonzero(n == size) if i not in picked]
        if not free:
            free = [i for i in range(len(n)) if i not in picked]
        free = [i for i in free if kind[i] == turns[j % len(turns)]] or free
        levels = np.unique(s[free])
        level = levels[int(((j * GOLDEN) % 1.0) * len(levels))]
        same = [i for i in free if s[i] == level]
        picked.append(int(same[(j * len(same)) // max(k, 1) % len(same)]))
    return picked


def chunk_walls(core_seconds: np.ndarray, chunk_size: int, slots: int, curve: int = 1) -> np.ndarray:
    """Wall seconds of each chunk of consecutive structures (the workflow's chunks), run `slots` at a time: its
    core-seconds shared by the slots, plus the longest piece that may run alone at the end (Graham's bound).
    A piece is one structure, or with `curve` > 1 the consecutive structures of one curve that run as one chain
    (wavefunction restart), cut where a chunk boundary cuts the curve."""
    n = len(core_seconds)
    starts = np.arange(0, n, chunk_size)
    pieces = np.union1d(starts, np.arange(0, n, curve))
    work = np.add.reduceat(core_seconds, pieces)
    chunk = np.searchsorted(starts, pieces, side="right") - 1
    longest = np.zeros(len(starts))
    np.maximum.at(longest, chunk, work)
    return np.bincount(chunk, work, len(starts)) / slots + longest * (1 - 1 / slots)


def suggest_chunk_size(core_seconds: np.ndarray, slots: int, target_s: float, margin: float, curve: int = 1
                       ) -> int:
    """The largest chunk size, a multiple of `curve` (whole curves), whose longest chunk, times `margin`, fits in
    `target_s` (one curve when none does); a bisection, as the longest chunk grows with the chunk size (up to
    edge effects of the last chunk)."""
    def fits(curves: int) -> bool:
        return margin * chunk_walls(core_seconds, curves * curve, slots, curve).max() <= target_s

    lo, hi = 1, math.ceil(len(core_seconds) / curve)
    if fits(hi):
        return hi * curve
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo * curve


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

