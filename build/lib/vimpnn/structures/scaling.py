"""Isometric scaling about the centroid: every interatomic distance times s, every angle kept."""

from __future__ import annotations

import numpy as np


def scaling_factors(min: float = 0.90, max: float = 1.50, n: int = 10) -> np.ndarray:
    """`n` evenly spaced factors from `min` to `max`, both included (see docs/datasets.md)."""
    if n < 1 or min <= 0 or max < min:
        raise ValueError(f"invalid scaling grid min={min} max={max} n={n}")
    return np.linspace(min, max, n) if n > 1 else np.array([min])


def scale_positions(positions: np.ndarray, s: float) -> np.ndarray:
    """Positions scaled by `s` about their centroid (geometric centre, not centre of mass)."""
    centroid = positions.mean(axis=0)
    return centroid + s * (positions - centroid)


def scaled(atoms, s: float):
    """A copy of `atoms` scaled isometrically by `s` (the cell too, for periodic systems)."""
    out = atoms.copy()
    if atoms.pbc.any():
        out.set_cell(atoms.cell.array * s, scale_atoms=True)
    else:
        out.positions = scale_positions(atoms.positions, s)
    return out
