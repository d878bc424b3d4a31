"""HDF5 dataset files (layout: docs/hdf5.md): the one contract between DFT (CPU nodes) and learning (GPU nodes).

Ragged data is stored flat with offsets, so reading a file is a fixed number of array reads no matter
how many systems it holds. Files are written to `name.tmp` and renamed, so a reader never sees half a
file; attributes that are not scalars or strings (settings, config, reference energies) are JSON.

Schema 2 adds per-system DFT provenance (/provenance, outside the content hash: it does not change what training
reads) and the /systems/electronic_state_changed flag (inside it: training leaves flagged systems out); schema-1
files (the release files) are read as before, with neither.

Integrity (docs/hdf5.md): every numeric dataset carries HDF5's fletcher32 checksum, verified by HDF5 on every
read, and the root attribute `content_sha256` hashes the training data (every array outside /failed, plus the
reference energies); the reader recomputes it, so a corrupted or edited file is an error naming the file and
dataset, and a trainer can tell that the data behind a path changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from vimpnn.data.arrays import SPLIT_NAMES, Provenance, SystemArrays
from vimpnn.errors import DataFileError
from vimpnn.outputs import atomic_output

SCHEMA_VERSION = 2
log = logging.getLogger(__name__)

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
STATE_CHANGED = "systems/electronic_state_changed"  # schema 2: (n_systems,) bool
# schema 2, written with every DFT-packed file: /provenance/<name> -> Provenance field, dtype (object: strings)
PROVENANCE: dict[str, Any] = {"settings_index": np.int64, "input_hash": object, "ladder_step": object,
                              "scf_steps": np.int64, "walltime_s": np.float64}
# what training does not read: left out of content_sha256, so the same data with other timings hashes the same
UNHASHED = ("failed/", "provenance/")
# Lossless compression of every non-empty dataset (byte shuffle + gzip): 100,000 AugQM9 systems stay tens of MB.
FILTERS = {"compression": "gzip", "compression_opts": 4, "shuffle": True}


def _attr(value: Any) -> Any:
    """HDF5 attributes hold numbers and strings; everything else is stored as JSON text."""
    if isinstance(value, (str, int, float, bool, np.integer, np.floating)):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def stored_arrays(arrays: SystemArrays) -> dict[str, np.ndarray]:
    """Every dataset `write_dataset` writes, by HDF5 path, in the dtype written (str datasets: object arrays)."""
    out = {name: np.asarray(getattr(arrays, attr), dtype=dtype) for name, (attr, dtype, _) in LAYOUT.items()}
    if arrays.forces is not None:
        out[FORCES] = np.asarray(arrays.forces, dtype=np.float64)
    if arrays.system_id is not None:
        out["systems/system_id"] = np.asarray(arrays.system_id, dtype=object)
    for name in SPLIT_NAMES:
        out[f"splits/{name}"] = np.asarray(arrays.splits.get(name, []), dtype=np.int64)
    for key in ("system_id", "reason"):
        out[f"failed/{key}"] = np.array([r[key] for r in arrays.failed], dtype=object)
    if arrays.electronic_state_changed is not None:
        out[STATE_CHANGED] = np.asarray(arrays.electronic_state_changed, dtype=bool)
    prov = arrays.provenance
    if prov is not None:
        out["provenance/settings"] = np.array(prov.settings, dtype=object)
        out["provenance/settings_sha256"] = np.array([settings_sha256(t) for t in prov.settings], dtype=object)
        for name, dtype in PROVENANCE.items():
            out[f"provenance/{name}"] = np.asarray(getattr(prov, name), dtype=dtype)
    return out


def settings_sha256(settings_json: str) -> str:
    """The settings hash of one level: sha256 of its canonical JSON (the text stored in /provenance/settings)."""
    return hashlib.sha256(settings_json.encode()).hexdigest()


def content_sha256(arrays: SystemArrays) -> str:
    """sha256 of what training reads: every stored array outside /failed and /provenance (sorted by path; name, dtype, shape and
    bytes of each; strings length-prefixed UTF-8) and the reference energies (canonical JSON). Provenance
    attributes (creation time, commit) are left out, so packing the same data twice gives the same hash."""
    h = hashlib.sha256()
    for name, a in sorted(stored_arrays(arrays).items()):
        if name.startswith(UNHASHED):
            continue
        h.update(f"{name} {'str' if a.dtype == object else a.dtype.str} {a.shape}\n".encode())
        if a.dtype == object:
            for s in a.ravel():
                b = str(s).encode()
                h.update(len(b).to_bytes(8, "little") + b)
        else:
            h.update(np.ascontiguousarray(a).tobytes())
    h.update(json.dumps(arrays.attrs.get("reference_energies") or {}, sort_keys=True).encode())
    return h.hexdigest()


def write_dataset(path: str | os.PathLike, arrays: SystemArrays, as_read: bool = False) -> None:
    """Write `arrays` (with its splits, failures and attrs) to `path` atomically, with checksums (module doc).

    `as_read` keeps the `schema_version` and `units` of the file `arrays` was read from instead of the current
    ones: `vimpnn.data.rewrite` adds checksums to an older file without changing what it says.
    """
    import h5py

    if len(arrays) == 0:
        raise DataFileError(f"{path}: refusing to write a dataset with no systems")
    with atomic_output(path) as tmp:
        try:
            with h5py.File(tmp, "w") as f:
                for name, data in stored_arrays(arrays).items():
                    text = data.dtype == object
                    # HDF5 filters need chunked, non-empty, fixed-size data: strings are covered by content_sha256
                    filters = {**FILTERS, "fletcher32": True} if not text and data.size > 0 else {}
                    f.create_dataset(name, data=data, dtype=h5py.string_dtype() if text else None, **filters)
                for key, value in arrays.attrs.items():
                    f.attrs[key] = _attr(value)
                if not as_read:  # after attrs, which a file read earlier fills too
                    f.attrs["schema_version"] = SCHEMA_VERSION
                    f.attrs["units"] = _attr(UNITS)
                f.attrs["content_sha256"] = content_sha256(arrays)
        except RuntimeError as exc:  # h5py reports a write failing at close (full disk) as RuntimeError
            code = re.search(r"errno = (\d+)", str(exc))
            raise OSError(int(code[1]), os.strerror(int(code[1]))) if code else OSError(str(exc)) from None


def _read_attr(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value.item() if isinstance(value, np.generic) else value


def _read(f, name: str, path: Path) -> np.ndarray:
    """One dataset; HDF5 verifies its fletcher32 checksum, and a failure names the file and the dataset."""
    import h5py

    try:
        dset = f[name]
        return dset.asstr()[()] if h5py.check_string_dtype(dset.dtype) else dset[()]
    except OSError as exc:
        raise DataFileError(f"{path}: /{name}: checksum mismatch or unreadable data ({exc}); the file is corrupt, "
                            "rebuild or download it again") from None


def read_dataset(path: str | os.PathLike) -> SystemArrays:
    """Load every array of a dataset file once; errors name the file and the field at fault.

    `attrs["content_sha256"]` of the result is the hash of the data read (module doc); a file whose stored hash
    differs from it was changed after it was written, which is an error.
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise DataFileError(f"dataset file {path} does not exist")
    if path.is_file() and not h5py.is_hdf5(path):
        raise DataFileError(
            f"{path} is not an HDF5 dataset file; convert structures with energies first: "
            f"vimpnn import {path} --energy-key KEY --out {path.with_suffix('.h5')} (see docs/exchange.md)"
        )
    try:
        with h5py.File(path, "r") as f:
            version = _read_attr(f.attrs.get("schema_version", 1))
            if not isinstance(version, int) or version > SCHEMA_VERSION:
                raise DataFileError(f"{path}: schema_version {version!r} is newer than this vimpnn reads "
                                    f"({SCHEMA_VERSION}); update vimpnn")
            fields: dict[str, Any] = {}
            for name, (attr, dtype, ndim) in LAYOUT.items():
                if name not in f:
                    raise DataFileError(f"{path}: missing dataset /{name} (not a vimpnn dataset file? see docs/hdf5.md)")
                data = _read(f, name, path)
                if data.ndim != ndim:
                    raise DataFileError(f"{path}: /{name} has {data.ndim} dimensions, expected {ndim}")
                fields[attr] = data.astype(dtype, copy=False)
            system_id = _read(f, "systems/system_id", path) if "systems/system_id" in f else None
            forces = _read(f, FORCES, path).astype(np.float64) if FORCES in f else None
            state_changed = _read(f, STATE_CHANGED, path).astype(bool) if STATE_CHANGED in f else None
            provenance = _read_provenance(f, path) if "provenance" in f else None
            splits = {k: _read(f, f"splits/{k}", path).astype(np.int64) for k in SPLIT_NAMES if f"splits/{k}" in f}
            failed = []
            if "failed/system_id" in f:
                failed = [{"system_id": s, "reason": r}
                          for s, r in zip(_read(f, "failed/system_id", path), _read(f, "failed/reason", path))]
            attrs = {k: _read_attr(v) for k, v in f.attrs.items()}
    except DataFileError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise DataFileError(f"{path}: corrupt or truncated HDF5 file ({exc})") from None
    arrays = SystemArrays(**fields, splits=splits, attrs=attrs, system_id=system_id, failed=failed, forces=forces,
                          provenance=provenance, electronic_state_changed=state_changed)
    _check(arrays, path)
    digest = content_sha256(arrays)
    stored = attrs.get("content_sha256")
    if stored is not None and stored != digest:
        raise DataFileError(f"{path}: content_sha256 recorded when the file was written ({stored}) does not match "
                            f"its data ({digest}): the file was changed afterwards; rebuild or download it again")
    if stored is None:
        log.warning("%s: no checksums: written by vimpnn %s before files carried integrity data; corruption cannot "
                    "be detected (add it: python -m vimpnn.data.rewrite %s NEW.h5)", path,
                    attrs.get("vimpnn_version", "?"), path)
    arrays.attrs["content_sha256"] = digest
    return arrays


def _read_provenance(f, path: Path) -> Provenance:
    """The /provenance group; a missing member is an error naming it."""
    members = ("settings", "settings_sha256", *PROVENANCE)
    for name in members:
        if f"provenance/{name}" not in f:
            raise DataFileError(f"{path}: missing dataset /provenance/{name} (docs/hdf5.md)")
    data = {name: _read(f, f"provenance/{name}", path) for name in members}
    settings = [str(t) for t in data["settings"]]
    if [settings_sha256(t) for t in settings] != [str(h) for h in data["settings_sha256"]]:
        raise DataFileError(f"{path}: /provenance/settings_sha256 does not match /provenance/settings")
    return Provenance(settings, **{name: np.asarray(data[name], dtype=dtype) for name, dtype in PROVENANCE.items()})


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
    if a.electronic_state_changed is not None and a.electronic_state_changed.shape != (n,):
        raise DataFileError(f"{path}: /{STATE_CHANGED} has shape {a.electronic_state_changed.shape} for {n} systems")
    if a.provenance is not None:
        for name in PROVENANCE:
            if getattr(a.provenance, name).shape != (n,):
                raise DataFileError(f"{path}: /provenance/{name} has shape {getattr(a.provenance, name).shape} "
                                    f"for {n} systems")
        index = a.provenance.settings_index
        if n and (index.min() < 0 or index.max() >= len(a.provenance.settings)):
            raise DataFileError(f"{path}: /provenance/settings_index points outside /provenance/settings "
                                f"({len(a.provenance.settings)} rows)")
    for name, idx in a.splits.items():
        if len(idx) and (idx.min() < 0 or idx.max() >= n):
            raise DataFileError(f"{path}: /splits/{name} indexes systems outside 0..{n - 1}")
