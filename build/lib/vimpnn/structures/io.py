"""Structures files: extended XYZ, one frame per system, metadata in `atoms.info`; written atomically."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from vimpnn.errors import InputFormatError


def write_structures(path: str | os.PathLike, atoms_list: Sequence) -> None:
    """Write to `path.tmp` then rename, so a killed run never leaves a half-written file behind."""
    from ase.io import write

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    write(tmp, list(atoms_list), format="extxyz")
    os.replace(tmp, path)


def read_structures(path: str | os.PathLike, start: int | None = None, stop: int | None = None) -> list:
    """Frames start:stop of an extended XYZ file (all by default)."""
    from ase.io import read

    path = Path(path)
    if not path.exists():
        raise InputFormatError(f"structures file {path} does not exist")
    index = slice(start, stop)
    try:
        frames = read(path, index=index, format="extxyz")
    except Exception as exc:  # ASE raises many types on malformed xyz
        raise InputFormatError(f"{path}: not a readable extended XYZ file ({exc})") from None
    for k, atoms in enumerate(frames):
        if "system_id" not in atoms.info:
            raise InputFormatError(f"{path}: frame {(start or 0) + k} has no system_id in its info line")
    return frames
