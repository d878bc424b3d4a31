"""Infinite fcc crystals of Al and Cu over a lattice-scaling grid."""

from __future__ import annotations

from typing import Iterator

import numpy as np

# Reference (scale 1.0) lattice constants in Å: ASE's reference states (experimental fcc values).
REFERENCE_LATTICE_CONSTANTS = {"Al": 4.05, "Cu": 3.61}


def fcc_cell(element: str, a: float, cell: str = "primitive"):
    """Periodic fcc crystal with lattice constant `a`: 1-atom primitive or 4-atom conventional cell."""
    from ase.build import bulk

    if cell not in ("primitive", "conventional"):
        raise ValueError(f"infcrystal.cell must be 'primitive' or 'conventional', not {cell!r}")
    return bulk(element, "fcc", a=a, cubic=(cell == "conventional"))


def lattice_scan(element: str, factors: np.ndarray, a0: float, cell: str = "primitive") -> Iterator:
    """One crystal per scaling factor s, lattice constant s * a0."""
    for s in factors:
        yield fcc_cell(element, float(s) * a0, cell)
