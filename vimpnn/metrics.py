"""Test metrics (numpy only): MAE, MSE, RE as mean and std, and DSC per energy curve.

RE is relative to the atomization energy E - sum of isolated-atom energies (docs/models.md), the scale
of chemistry; relative to total pseudopotential energies (~10^3-10^4 eV) it would be ~100x smaller.

DSC (distance to stable configuration), docs/models.md: a curve is one `group` (one molecule's scalings,
one element's lattice scan, one cluster's scalings) with at least 3 distinct scalings whose reference minimum
is bracketed (the lowest reference sample is not an end of the scan: otherwise the true minimum lies outside
the scan and a distance to it cannot be measured, and the curve is excluded and counted). Its minimum is
located on the sampled scalings by a parabola through the lowest sample and its two neighbours (vertex kept
inside that bracket; the end sample itself when the lowest sample is at an end of the scan), for the
predicted and the reference energies. The difference of the two scalings is converted to Å by the curve's
characteristic length: the mean bonded distance of the reference geometry (for an fcc cell the nearest-
neighbour distance a/sqrt(2)), so DSC = |s_pred - s_ref| x length.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MIN_CURVE_POINTS = 3


def _mean_std(values: np.ndarray) -> dict[str, float]:
    return {"mean": float(np.mean(values)), "std": float(np.std(values))}


def mae(pred: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """Mean and std of |pred - ref|."""
    return _mean_std(np.abs(np.asarray(pred) - np.asarray(ref)))


def mse(pred: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """Mean and std of (pred - ref)^2."""
    return _mean_std((np.asarray(pred) - np.asarray(ref)) ** 2)


def relative_error(pred: np.ndarray, ref: np.ndarray, atom_energy: np.ndarray | float = 0.0) -> dict[str, float]:
    """Mean and std of |pred - ref| / |ref - atom_energy|: with `atom_energy` the per-system sum of
    isolated-atom energies, the error relative to the atomization energy."""
    ref = np.asarray(ref)
    return _mean_std(np.abs(np.asarray(pred) - ref) / np.abs(ref - np.asarray(atom_energy)))


def curve_minimum(scale: np.ndarray, energy: np.ndarray) -> float:
    """Scaling at the minimum of a sampled energy curve (parabola through the lowest sample and neighbours)."""
    order = np.argsort(scale)
    x, y = np.asarray(scale, dtype=float)[order], np.asarray(energy, dtype=float)[order]
    k = int(np.argmin(y))
    if k == 0 or k == len(x) - 1:
        return float(x[k])
    xs, ys = x[k - 1:k + 2], y[k - 1:k + 2]
    a, b, _ = np.polyfit(xs, ys, 2)
    if a <= 0:  # flat or degenerate bracket: keep the sample
        return float(x[k])
    return float(np.clip(-b / (2 * a), xs[0], xs[2]))


def minimum_bracketed(scale: np.ndarray, energy: np.ndarray) -> bool:
    """Whether the lowest sample of a curve lies strictly inside the scanned scalings."""
    k = int(np.argmin(np.asarray(energy, dtype=float)[np.argsort(scale)]))
    return 0 < k < len(scale) - 1


def curves(scale: np.ndarray, ref: np.ndarray, group: np.ndarray) -> tuple[list[int], list[int]]:
    """(groups usable for DSC, groups excluded because the reference minimum is at an end of the scan);
    groups with fewer than 3 distinct scalings are neither."""
    usable, excluded = [], []
    for g in np.unique(group):
        m = group == g
        if len(np.unique(scale[m])) >= MIN_CURVE_POINTS:
            (usable if minimum_bracketed(scale[m], ref[m]) else excluded).append(int(g))
    return usable, excluded


def dsc_per_curve(scale: np.ndarray, ref: np.ndarray, pred: np.ndarray, group: np.ndarray,
                  length: np.ndarray) -> dict[int, float]:
    """DSC (Å) of every group with >= 3 distinct scalings and a bracketed reference minimum; `length` is each
    system's characteristic length."""
    out = {}
    for g in curves(scale, ref, group)[0]:
        m = group == g
        s_ref, s_pred = curve_minimum(scale[m], ref[m]), curve_minimum(scale[m], pred[m])
        out[int(g)] = abs(s_pred - s_ref) * float(np.mean(length[m]))
    return out


def summarise(pred: np.ndarray, ref: np.ndarray, scale: np.ndarray, group: np.ndarray,
              length: np.ndarray, atom_energy: np.ndarray | None) -> dict[str, Any]:
    """metrics.json body (without run/data): n, mae, mse, re (on atomization energies; null without
    isolated-atom energies), dsc (null when no curve qualifies) and dsc_excluded (curves whose reference
    minimum is not bracketed)."""
    values = np.array(list(dsc_per_curve(scale, ref, pred, group, length).values()))
    dsc = {**_mean_std(values), "n_curves": int(len(values))} if len(values) else None
    re = None if atom_energy is None else relative_error(pred, ref, atom_energy)
    return {"n": int(len(ref)), "mae": mae(pred, ref), "mse": mse(pred, ref), "re": re, "dsc": dsc,
            "dsc_excluded": len(curves(scale, ref, group)[1])}
