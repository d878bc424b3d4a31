"""HDF5 dataset files (layout: docs/hdf5.md): the one contract between DFT (CPU nodes) and learning (GPU nodes).

Ragged data is stored flat with offsets, so reading a file is a fixed number of array reads no matter
how many systems it holds. Files are written to `name.tmp` and renamed, so a reader never sees half a
file; attributes that are not scalars or strings (settings, config, reference energies) are JSON.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from vimpnn.data.arrays import SPLIT_NAMES, SystemArrays
from vimpnn.errors import DataFileError

SCHEMA_VERSION = 1

# HDF5 path -> SystemArrays field, with the dtype written and the rank the reader checks.
LAYOUT: dict[str, tuple[str, Any, int]] = {
    "atoms/numbers": ("numbers", np.int16, 1),
    "atoms/positions": ("positions", np.float64, 2),
    "systems/offsets": ("offsets", np.int64, 1),
    "systems/energy": ("energy", np.float64, 1),
    "systems/cell": ("cell", np.float64, 3),
    "systems/pbc": ("pbc", bool, 2),
    "systems/scale": ("scale", np.float64, 1),
    "systems/group": ("group", np.int64, 1),
    "systems/source_id": ("source_id", np.int64, 1),
    "bonds/offsets": ("bond_offsets", np.int64, 1),
    "bonds/pairs": ("bond_pairs", np.int32, 2),
    "bonds/type": ("bond_type", np.int8, 1),
}
UNITS = {"energy": "eV", "positions": "Angstrom", "cell": "Angstrom", "reference_energies": "eV", "forces": "eV/Angstrom"}
FORCES = "atoms/forces"  # optional (n_atoms_total, 3) float64, present when every system has forces
# Lossless compression of every non-empty dataset (byte shuffle + gzip): 100,000 AugQM9 systems stay tens of MB.
FILTERS = {"compression": "gzip", "compression_opts": 4, "shuffle": True}


def _attr(value: Any) -> Any:
    """HDF5 attributes hold numbers and strings; everything else is stored as JSON text."""
    if isinstance(value, (str, int, float, bool, np.integer, np.floating)):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def write_dataset(path: str | os.PathLike, arrays: SystemArrays) -> None:
    """Write `arrays` (with its splits, failures and attrs) to `path` atomically."""
    import h5py

    if len(arrays) == 0:
        raise DataFileError(f"{path}: refusing to write a dataset with no systems")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    str_dtype = h5py.string_dtype()
    with h5py.File(tmp, "w") as f:
        def put(name: str, data: np.ndarray, **kwargs) -> None:
            f.create_dataset(name, data=data, **(FILTERS if data.size else {}), **kwargs)

        for name, (attr, dtype, _) in LAYOUT.items():
            put(name, np.asarray(getattr(arrays, attr), dtype=dtype))
        if arrays.forces is not None:
            put(FORCES, np.asarray(arrays.forces, dtype=np.float64))
        if arrays.system_id is not None:
            put("systems/system_id", np.asarray(arrays.system_id, dtype=object), dtype=str_dtype)
        for name in SPLIT_NAMES:
            put(f"splits/{name}", np.asarray(arrays.splits.get(name, []), dtype=np.int64))
        failed = f.create_group("failed")
        failed.create_dataset("system_id", data=[r["system_id"] for r in arrays.failed], dtype=str_dtype)
        failed.create_dataset("reason", data=[r["reason"] for r in arrays.failed], dtype=str_dtype)
        f.attrs["schema_version"] = SCHEMA_VERSION
        f.attrs["units"] = _attr(UNITS)
        for key, value in arrays.attrs.items():
            f.attrs[key] = _attr(value)
    os.replace(tmp, path)


def _read_attr(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value.item() if isinstance(value, np.generic) else value


def read_dataset(path: str | os.PathLike) -> SystemArrays:
    """Load every array of a dataset file once; errors name the file and the field at fault."""
    import h5py

    path = Path(path)
    if not path.exists():
        raise DataFileError(f"dataset file {path} does not exist")
    try:
        with h5py.File(path, "r") as f:
            fields: dict[str, Any] = {}
            for name, (attr, dtype, ndim) in LAYOUT.items():
                if name not in f:
                    raise DataFileError(f"{path}: missing dataset /{name} (not a vimpnn dataset file? see docs/hdf5.md)")
                data = f[name][()]
                if data.ndim != ndim:
                    raise DataFileError(f"{path}: /{name} has {data.ndim} dimensions, expected {ndim}")
                fields[attr] = data.astype(dtype, copy=False)
            system_id = f["systems/system_id"].asstr()[()] if "systems/system_id" in f else None
            forces = f[FORCES][()].astype(np.float64) if FORCES in f else None
            splits = {k: f[f"splits/{k}"][()].astype(np.int64) for k in SPLIT_NAMES if f"splits/{k}" in f}
            failed = []
            if "failed/system_id" in f:
                failed = [
                    {"system_id": s, "reason": r}
                    for s, r in zip(f["failed/system_id"].asstr()[()], f["failed/reason"].asstr()[()])
                ]
            attrs = {k: _read_attr(v) for k, v in f.attrs.items()}
    except DataFileError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise DataFileError(f"{path}: corrupt or truncated HDF5 file ({exc})") from None
    arrays = SystemArrays(**fields, splits=splits, attrs=attrs, system_id=system_id, failed=failed, forces=forces)
    _check(arrays, path)
    return arrays


def _check(a: SystemArrays, path: Path) -> None:
    """Consistency of the ragged layout: catches files cut or edited by hand before training sees them."""
    n = len(a)
    for name, offsets, total in (("systems/offsets", a.offsets, len(a.numbers)),
                                 ("bonds/offsets", a.bond_offsets, len(a.bond_type))):
        if len(offsets) != len(a.offsets) or offsets[0] != 0 or offsets[-1] != total or np.any(np.diff(offsets) < 0):
            raise DataFileError(f"{path}: /{name} is inconsistent with the data it indexes")
    if len(a.positions) != len(a.numbers) or len(a.bond_pairs) != len(a.bond_type):
        raise DataFileError(f"{path}: atoms/positions or bonds/pairs length does not match")
    for attr in ("energy", "cell", "pbc", "scale", "group", "source_id"):
        if len(getattr(a, attr)) != n:
            raise DataFileError(f"{path}: /systems/{attr} has {len(getattr(a, attr))} rows for {n} systems")
    if not np.all(np.isfinite(a.energy)):
        raise DataFileError(f"{path}: /systems/energy holds non-finite values")
    if a.forces is not None and (a.forces.shape != a.positions.shape or not np.all(np.isfinite(a.forces))):
        raise DataFileError(f"{path}: /{FORCES} must be finite with the shape of /atoms/positions {a.positions.shape}")
    for name, idx in a.splits.items():
        if len(idx) and (idx.min() < 0 or idx.max() >= n):
            raise DataFileError(f"{path}: /splits/{name} indexes systems outside 0..{n - 1}")
