"""Energy-curve check: E(s) of one structure at several isometric scalings is a smooth function of s, so a
structure far from the cubic through its nearest neighbours on the curve converged to another electronic state
(an SCF can stop in a stationary state that is not the ground state; docs/dft-validation.md, "Cost").

A curve is a set of systems with the same group, atom count and composition; curves of fewer than five
scalings are not checked (the cubic needs four neighbours).
"""

from __future__ import annotations

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


def deviations(a: SystemArrays) -> np.ndarray:
    """Per system, |E - the cubic in s through its four nearest neighbours on its curve| per atom (eV); NaN for
    systems on no checkable curve."""
    out = np.full(len(a), np.nan)
    for ix in curves(a):
        out[ix] = _deviation(a.scale[ix], a.energy[ix], a.n_atoms[ix])
    return out


def outliers(a: SystemArrays, threshold: float = THRESHOLD_EV_PER_ATOM) -> list[int]:
    """Systems off their curve by more than `threshold` eV/atom. An outlier also spoils the cubic of its
    neighbours (most at the curve's ends, where the cubic extrapolates), so while a curve has a deviation above
    the threshold, the one system whose removal leaves the rest smoothest is flagged and removed."""
    bad = []
    for ix in curves(a):
        s, e, n = a.scale[ix], a.energy[ix], a.n_atoms[ix]
        keep = np.arange(len(ix))
        while len(keep) >= 6 and _deviation(s[keep], e[keep], n[keep]).max() > threshold:
            rest = [_deviation(s[np.delete(keep, j)], e[np.delete(keep, j)], n[np.delete(keep, j)]).max()
                    for j in range(len(keep))]
            worst = int(np.argmin(rest))
            bad.append(int(ix[keep[worst]]))
            keep = np.delete(keep, worst)
    return sorted(bad)
