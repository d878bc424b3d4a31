"""Energy-curve check: E(s) of one structure at several isometric scalings is a smooth function of s, so a
structure far from the cubic through its nearest neighbours on the curve converged to another electronic state
(an SCF can stop in a stationary state that is not the ground state; docs/dft-validation.md, "Cost").

A curve is a set of systems with the same group, atom count and composition; curves of fewer than five
scalings are not checked (the cubic needs four neighbours).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vimpnn.data.arrays import SystemArrays

# eV per atom. Smooth curves of the mini release deviate by at most 0.04 eV/atom from the cubic through their
# four nearest neighbours (at the compressed end, where the cubic extrapolates); a wrong SCF state of H2O was
# 7.4 eV/atom off.
THRESHOLD_EV_PER_ATOM = 0.2


def curves(a: SystemArrays) -> list[np.ndarray]:
    """System indices of each curve of at least five scalings, in order of scaling."""
    keys: dict[tuple, list[int]] = {}
    n_atoms = a.n_atoms
    for i in range(len(a)):
        numbers = a.numbers[a.offsets[i]:a.offsets[i + 1]]
        keys.setdefault((int(a.group[i]), int(n_atoms[i]), tuple(np.sort(numbers))), []).append(i)
    return [np.array(sorted(ix, key=lambda i: a.scale[i])) for ix in keys.values() if len(ix) >= 5]


def _deviation(s: np.ndarray, e: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Per point, |E - the cubic in s through its four nearest other points| per atom."""
    out = np.empty(len(s))
    for j in range(len(s)):
        near = np.argsort(np.abs(s - s[j]), kind="stable")[1:5]
        out[j] = abs(e[j] - np.polynomial.Polynomial.fit(s[near], e[near], 3)(s[j])) / n[j]
    return out


@dataclass(frozen=True)
class CurveCheck:
    """`deviation`: per system, |E - the cubic in s through its four nearest neighbours on its curve| per atom
    (eV), NaN for systems on no checkable curve; `outliers`: systems off their curve by more than the threshold;
    `curves`: how many curves were checked."""

    curves: int
    deviation: np.ndarray
    outliers: list[int]


def check(a: SystemArrays, threshold: float = THRESHOLD_EV_PER_ATOM) -> CurveCheck:
    """Deviations and outliers of every curve. An outlier also spoils the cubic of its neighbours (most at the
    curve's ends, where the cubic extrapolates), so while a curve has a deviation above the threshold, the one
    system whose removal leaves the rest smoothest is flagged and removed."""
    found = curves(a)
    deviation, bad = np.full(len(a), np.nan), []
    for ix in found:
        s, e, n = a.scale[ix], a.energy[ix], a.n_atoms[ix]
        deviation[ix] = dev = _deviation(s, e, n)
        keep = np.arange(len(ix))
        while len(keep) >= 6 and dev.max() > threshold:
            rest = [np.delete(keep, j) for j in range(len(keep))]
            worst = int(np.argmin([_deviation(s[r], e[r], n[r]).max() for r in rest]))
            bad.append(int(ix[keep[worst]]))
            keep = rest[worst]
            dev = _deviation(s[keep], e[keep], n[keep])
    return CurveCheck(len(found), deviation, sorted(bad))
