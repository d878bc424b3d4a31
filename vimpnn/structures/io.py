"""Structures files: extended XYZ, one frame per system, metadata in `atoms.info`; written atomically."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from vimpnn.errors import InputFormatError
from vimpnn.outputs import atomic_output


def write_structures(path: str | os.PathLike, atoms_list: Sequence) -> None:
    """Write to `path.tmp` then rename, so a killed run never leaves a half-written file behind."""
    from ase.io import write

    with atomic_output(path) as tmp:
        write(tmp, list(atoms_list), format="extxyz")


def read_structures(path: str | os.PathLike, start: int | None = None, stop: int | None = None) -> list:
    """Frames start:stop (0-based, stop excluded) of an extended XYZ file (all by default); an empty selection,
    a frame without system_id or with non-finite coordinates is an error naming the file and frame."""
    from ase.io import read

    path = Path(path)
    if not path.exists():
        raise InputFormatError(f"structures file {path} does not exist")
    if (start is not None and start < 0) or (stop is not None and stop < 0):
        raise InputFormatError(f"{path}: frames {start}:{stop}: frame numbers start at 0")
    if path.stat().st_size == 0:
        raise InputFormatError(f"{path}: no structures (the file is empty)")
    try:
        frames = read(path, index=slice(start, stop), format="extxyz")
    except Exception as exc:  # ASE raises many types on malformed xyz
        raise InputFormatError(f"{path}: not a readable extended XYZ file ({exc})") from None
    if not frames:
        raise InputFormatError(f"{path}: frames {start or 0} to {'the end' if stop is None else stop - 1} "
                               "select no structures")
    for k, atoms in enumerate(frames):
        if "system_id" not in atoms.info:
            raise InputFormatError(f"{path}: frame {(start or 0) + k} has no system_id in its info line")
        if not np.all(np.isfinite(atoms.positions)) or not np.all(np.isfinite(atoms.cell.array)):
            raise InputFormatError(f"{path}: frame {(start or 0) + k} ({atoms.info['system_id']}) has non-finite "
                                   "coordinates or cell")
    return frames
