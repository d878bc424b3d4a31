"""Packing: structures + DFT results -> one HDF5 dataset with bonds, splits and provenance.

This is where the CPU-side tools (ASE, RDKit) are used for the last time: bond types are perceived
here on the reference geometry and stored, so training needs neither.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from vimpnn import __version__
from vimpnn.bonds import perceive_bonds, reference_geometry
from vimpnn.data.arrays import SystemArrays
from vimpnn.data.splits import make_splits
from vimpnn.errors import DataFileError, InputFormatError


def read_results(paths: Iterable[str | os.PathLike]) -> list[dict[str, Any]]:
    """DFT result records (JSON lines) from every chunk file, in order."""
    records = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise InputFormatError(f"DFT results file {path} does not exist")
        for lineno, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputFormatError(f"{path}: line {lineno}: not JSON ({exc.msg})") from None
            for key in ("system_id", "status"):
                if key not in rec:
                    raise InputFormatError(f"{path}: line {lineno}: record has no field {key!r}")
            records.append(rec)
    return records


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


class BondCache:
    """Scaled copies share their reference geometry's bonds: perceive once per (group, size), verify, reuse."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def __call__(self, atoms) -> tuple[np.ndarray, np.ndarray]:
        scale = float(atoms.info.get("scale", 1.0))
        key = (int(atoms.info.get("group", -1)), len(atoms))
        ref = reference_geometry(atoms, scale).positions
        hit = self._cache.get(key)
        if hit is not None and np.allclose(hit[0], ref, atol=1e-6):
            return hit[1], hit[2]
        pairs, types = perceive_bonds(atoms, scale)
        self._cache[key] = (ref, pairs, types)
        return pairs, types


def _forces(dataset: str, ok: Sequence, by_id: dict[str, dict[str, Any]]) -> np.ndarray | None:
    """Per-atom forces (eV/Å) of every packed system in atom order, or None unless all of them have forces."""
    records = [by_id[a.info["system_id"]].get("forces") for a in ok]
    if any(f is None for f in records):
        return None
    out = []
    for atoms, f in zip(ok, records):
        f = np.asarray(f, dtype=np.float64)
        if f.shape != (len(atoms), 3) or not np.all(np.isfinite(f)):
            raise InputFormatError(f"{dataset}: result for {atoms.info['system_id']}: field 'forces' has shape "
                                   f"{f.shape} or non-finite values; expected finite ({len(atoms)}, 3)")
        out.append(f)
    return np.concatenate(out)


def pack(
    dataset: str,
    structures: Sequence,
    results: Sequence[dict[str, Any]],
    config: dict,
    reference_energies: dict[str, Any] | None = None,
) -> SystemArrays:
    """Join structures and results by system_id; failed structures go to `failed`, never to the systems."""
    by_id = {r["system_id"]: r for r in results}
    missing = [a.info["system_id"] for a in structures if a.info["system_id"] not in by_id]
    if missing:
        raise InputFormatError(
            f"{dataset}: {len(missing)} structures have no DFT result (first: {missing[0]}); rerun the DFT step"
        )
    backends = sorted({str(by_id[a.info["system_id"]].get("backend")) for a in structures})
    if len(backends) > 1:
        raise InputFormatError(f"{dataset}: results from several DFT backends {backends}; never mix them in one dataset")
    ok = [a for a in structures if by_id[a.info["system_id"]]["status"] == "ok"]
    failed = [
        {"system_id": a.info["system_id"], "reason": str(by_id[a.info["system_id"]].get("reason") or "unknown")}
        for a in structures
        if by_id[a.info["system_id"]]["status"] != "ok"
    ]
    if not ok:
        reasons = sorted({f["reason"] for f in failed})[:3]
        raise DataFileError(f"{dataset}: all {len(structures)} DFT calculations failed ({'; '.join(reasons)}); nothing to pack")
    energies = []
    for a in ok:
        e = by_id[a.info["system_id"]].get("energy")
        if e is None or not np.isfinite(e):
            raise InputFormatError(f"{dataset}: result for {a.info['system_id']} has status ok but energy {e!r}")
        energies.append(float(e))
    bonds = BondCache()
    first = by_id[ok[0].info["system_id"]]
    attrs = {
        "dataset": dataset,
        "dft_backend": backends[0],
        "dft_settings": first.get("settings", {}),
        "code_version": sorted({str(by_id[a.info["system_id"]].get("code_version")) for a in ok}),
        "reference_energies": reference_energies or {},
        "vimpnn_version": __version__,
        "git_commit": _git_commit(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "config": config,
        "n_failed": len(failed),
    }
    arrays = SystemArrays.from_atoms(ok, energies, [bonds(a) for a in ok], attrs)
    arrays.forces = _forces(dataset, ok, by_id)
    arrays.failed = failed
    growth = dataset.startswith("growth")
    lineage = np.array([a.info.get("lineage", -1) for a in ok]) if growth else None
    element = np.array([str(a.info.get("element", "")) for a in ok]) if growth else None
    if growth and (lineage < 0).any():
        lineage = element = None  # structures written before lineages existed: make_splits says so
    arrays.splits = make_splits(dataset, arrays.group, arrays.scale, config, lineage, element)
    return arrays
