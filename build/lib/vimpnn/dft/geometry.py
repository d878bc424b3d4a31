"""Reject structures that no DFT code should see: non-finite coordinates or atoms on top of each other."""

from __future__ import annotations

import numpy as np

from vimpnn.errors import InputFormatError

MIN_DISTANCE = 0.3  # Å


def check_structure(atoms, system_id: str) -> None:
    """Raise naming the structure when positions/cell are not finite or two atoms (or periodic images) are < 0.3 Å."""
    if len(atoms) == 0:
        raise InputFormatError(f"structure {system_id}: no atoms")
    if not np.all(np.isfinite(atoms.get_positions())) or not np.all(np.isfinite(atoms.cell.array)):
        raise InputFormatError(f"structure {system_id}: coordinates or cell contain NaN or inf")
    if any(atoms.pbc) and atoms.cell.rank < 3:
        raise InputFormatError(f"structure {system_id}: periodic but the cell has rank {atoms.cell.rank}")
    from ase.neighborlist import neighbor_list

    i, j, d = neighbor_list("ijd", atoms, MIN_DISTANCE)
    if len(d):
        k = int(np.argmin(d))
        raise InputFormatError(f"structure {system_id}: atoms {i[k]} and {j[k]} are {d[k]:.3f} Å apart "
                               f"(minimum {MIN_DISTANCE} Å)")
