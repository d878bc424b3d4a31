"""Packing: structures + DFT results -> one HDF5 dataset with bonds, splits and provenance.

This is where the CPU-side tools (ASE, RDKit) are used for the last time: bond types are perceived
here on the reference geometry and stored, so training needs neither. It is also the last point where inputs
that do not belong together can be told apart, so pack refuses them (one line naming the file, record and
field) rather than let the last record win, and it stores each structure's DFT provenance (docs/hdf5.md).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from vimpnn import __version__
from vimpnn.bonds import perceive_bonds, reference_geometry
from vimpnn.data.arrays import UNKNOWN_SCF_STEPS, Provenance, SystemArrays
from vimpnn.data.splits import make_splits
from vimpnn.dft.handlers import STATE_CHANGING
from vimpnn.errors import DataFileError, InputFormatError

# What two records of one structure must agree on to count as the same result; timings, extra keys and the input
# hash (a cache key, whose recipe may change between versions) may differ
SAME_RESULT = ("status", "energy", "forces", "backend", "settings", "ladder_step")
# Keys of a CP2K record's settings that configure the retry ladder (its code version, its length), not the level of
# theory: two settings blocks that differ only in them are one level
LADDER_SETTINGS = ("ladder", "max_retries")


@dataclass(frozen=True)
class ResultLine:
    """One DFT result record and where it was read (`file: line n`), so an error can point at it."""

    record: dict[str, Any]
    where: str


def read_results(paths: Iterable[str | os.PathLike]) -> list[ResultLine]:
    """DFT result records (JSON lines) from every chunk file, in order; records may carry keys beyond
    docs/architecture.md's, which pack ignores."""
    lines = []
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
            if not isinstance(rec, dict):
                raise InputFormatError(f"{path}: line {lineno}: not a JSON object")
            for key in ("system_id", "status"):
                if key not in rec:
                    raise InputFormatError(f"{path}: line {lineno}: record has no field {key!r}")
            lines.append(ResultLine(rec, f"{path}: line {lineno}"))
    return lines


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
        self.routes: Counter = Counter()  # how each reference geometry's bond orders were found (vimpnn.bonds)

    def __call__(self, atoms) -> tuple[np.ndarray, np.ndarray]:
        scale = float(atoms.info.get("scale", 1.0))
        key = (int(atoms.info.get("group", -1)), len(atoms))
        ref = reference_geometry(atoms, scale).positions
        hit = self._cache.get(key)
        if hit is not None and np.allclose(hit[0], ref, atol=1e-6):
            return hit[1], hit[2]
        pairs, types = perceive_bonds(atoms, scale, self.routes)
        self._cache[key] = (ref, pairs, types)
        return pairs, types


def ladder_step(record: dict[str, Any]) -> str:
    """The retry-ladder rung of a record's last attempt (the one that gave its energy); "" when not recorded."""
    attempts = record.get("attempts") or []
    return str(attempts[-1].get("step", "")) if attempts and isinstance(attempts[-1], dict) else ""


def settings_block(record: dict[str, Any], ladder: bool = True) -> str:
    """A record's backend and settings block as canonical JSON; without the retry-ladder keys (`ladder=False`)
    it is the record's level of theory (the rung that gave the energy is in `attempts`, not in the settings)."""
    settings = {k: v for k, v in (record.get("settings") or {}).items() if ladder or k not in LADDER_SETTINGS}
    return json.dumps({"backend": record.get("backend"), "settings": settings}, sort_keys=True, default=str)


def _field(record: dict[str, Any], name: str) -> Any:
    return ladder_step(record) if name == "ladder_step" else record.get(name)


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def check_structures(dataset: str, structures: Sequence, source: str) -> None:
    """Every frame belongs to `dataset` (its `dataset` info key, written by `vimpnn structures`) and has its own
    system_id; `source` names the structures file in the error."""
    first: dict[str, int] = {}
    for k, atoms in enumerate(structures):
        sid = str(atoms.info["system_id"])
        tag = atoms.info.get("dataset")
        if tag != dataset:
            found = "has no field 'dataset'" if tag is None else f"field 'dataset' is {tag!r}"
            raise InputFormatError(f"{source}: frame {k} ({sid}): {found}, not {dataset!r}; pack the structures "
                                   f"file of this dataset (vimpnn structures --dataset {dataset})")
        if sid in first:
            raise InputFormatError(f"{source}: frames {first[sid]} and {k}: field 'system_id' {sid!r} is not unique")
        first[sid] = k


def unique_results(structures: Sequence, results: Sequence[ResultLine], source: str) -> dict[str, ResultLine]:
    """One result per structure: records of the same system_id must agree on SAME_RESULT (then the first is
    kept), and every record must belong to a structure of `source`."""
    ids = {str(a.info["system_id"]) for a in structures}
    by_id: dict[str, ResultLine] = {}
    for line in results:
        sid = str(line.record["system_id"])
        if sid not in ids:
            raise InputFormatError(f"{line.where}: field 'system_id' {sid!r} is not a structure of {source}; "
                                   "these results belong to other structures")
        if line.record["status"] == "ok":
            _energy(line)  # before comparing: NaN differs from itself
        kept = by_id.setdefault(sid, line)
        for name in SAME_RESULT if kept is not line else ():
            a, b = _field(kept.record, name), _field(line.record, name)
            if a != b:
                raise InputFormatError(f"{kept.where} and {line.where}: two results for {sid} differ in field "
                                       f"{name!r} ({_short(a)} vs {_short(b)}); remove the stale one")
    return by_id


def check_levels(dataset: str, lines: Sequence[ResultLine]) -> None:
    """One level of theory per file: the first record whose backend or settings (apart from the retry-ladder keys)
    differ from the first record's is an error naming both records and the field."""
    first = lines[0]
    for line in lines[1:]:
        if settings_block(line.record, ladder=False) == settings_block(first.record, ladder=False):
            continue
        a, b = first.record, line.record
        if a.get("backend") != b.get("backend"):
            what = f"field 'backend': {_short(a.get('backend'))} vs {_short(b.get('backend'))}"
        else:
            sa, sb = a.get("settings") or {}, b.get("settings") or {}
            keys = sorted(k for k in set(sa) | set(sb) if sa.get(k) != sb.get(k) and k not in LADDER_SETTINGS)
            what = "field 'settings': " + ", ".join(f"{k} {_short(sa.get(k))} vs {_short(sb.get(k))}" for k in keys[:3])
        n = len({settings_block(x.record, ladder=False) for x in lines})
        raise InputFormatError(f"{dataset}: {first.where} ({a['system_id']}) and {line.where} ({b['system_id']}) are "
                               f"at different levels of theory ({what}; {n} levels in all); pack one level per file, "
                               "or pass --allow-mixed-levels")


def _is_number(value: Any) -> bool:
    """A JSON number: `true` is a bool to json.loads, and a bool is an int to Python."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _energy(line: ResultLine) -> float:
    """The energy of an ok record: a finite number, or an error naming the record and the field."""
    e = line.record.get("energy")
    if not _is_number(e) or not np.isfinite(e):
        what = "not finite" if _is_number(e) else "not a number"
        raise InputFormatError(f"{line.where}: result for {line.record['system_id']} has status ok but field "
                               f"'energy' is {_short(e)}, {what}")
    return float(e)


def _number(line: ResultLine, name: str, missing: float) -> float:
    """A numeric field of a record (`missing` when absent or null); anything else is an error naming the record."""
    value = line.record.get(name)
    if value is None:
        return missing
    if not _is_number(value):
        raise InputFormatError(f"{line.where}: result for {line.record['system_id']}: field {name!r} is "
                               f"{_short(value)}, not a number")
    return value


def provenance(lines: Sequence[ResultLine]) -> tuple[Provenance, np.ndarray]:
    """Per-system provenance of the packed records and the electronic-state flag (a STATE_CHANGING rung)."""
    blocks = [settings_block(line.record) for line in lines]
    table = list(dict.fromkeys(blocks))  # distinct settings blocks in order of first use
    row = {t: k for k, t in enumerate(table)}
    steps = [ladder_step(line.record) for line in lines]
    prov = Provenance(
        settings=table,
        settings_index=np.array([row[t] for t in blocks], dtype=np.int64),
        input_hash=np.array([str(line.record.get("input_hash") or "") for line in lines], dtype=object),
        ladder_step=np.array(steps, dtype=object),
        scf_steps=np.array([_number(line, "scf_steps", UNKNOWN_SCF_STEPS) for line in lines], dtype=np.int64),
        walltime_s=np.array([_number(line, "walltime_s", np.nan) for line in lines], dtype=np.float64),
    )
    return prov, np.array([step in STATE_CHANGING for step in steps], dtype=bool)


def _forces(ok: Sequence, lines: Sequence[ResultLine]) -> np.ndarray | None:
    """Per-atom forces (eV/Å) of every packed system in atom order, or None unless all of them have forces."""
    forces = [line.record.get("forces") for line in lines]
    if any(f is None for f in forces):
        return None
    out = []
    for atoms, f, line in zip(ok, forces, lines):
        f = f.tolist() if isinstance(f, np.ndarray) else f
        rows = f if isinstance(f, list) and all(isinstance(r, list) for r in f) else []
        if not rows or not all(_is_number(x) for r in rows for x in r):
            raise InputFormatError(f"{line.where}: result for {atoms.info['system_id']}: field 'forces' is "
                                   f"{_short(f)}, not a list of [fx, fy, fz] numbers")
        f = np.asarray(f, dtype=np.float64)
        if f.shape != (len(atoms), 3) or not np.all(np.isfinite(f)):
            raise InputFormatError(f"{line.where}: result for {atoms.info['system_id']}: field 'forces' has shape "
                                   f"{f.shape} or non-finite values; expected finite ({len(atoms)}, 3)")
        out.append(f)
    return np.concatenate(out)


def pack(
    dataset: str,
    structures: Sequence,
    results: Sequence[ResultLine | dict[str, Any]],
    config: dict,
    reference_energies: dict[str, Any] | None = None,
    *,
    allow_mixed_levels: bool = False,
    source: str = "structures",
) -> SystemArrays:
    """Join structures and results by system_id; failed structures go to `failed`, never to the systems.

    Inputs that do not belong together are refused: frames of another dataset, repeated system_ids, two different
    results for one structure, results of structures not in `source` (the structures file), and, unless
    `allow_mixed_levels`, systems at different levels of theory.
    """
    lines = [r if isinstance(r, ResultLine) else ResultLine(r, f"result {k + 1}") for k, r in enumerate(results)]
    check_structures(dataset, structures, source)
    by_id = unique_results(structures, lines, source)
    missing = [a.info["system_id"] for a in structures if a.info["system_id"] not in by_id]
    if missing:
        raise InputFormatError(
            f"{dataset}: {len(missing)} structures have no DFT result (first: {missing[0]}); rerun the DFT step"
        )
    ok = [a for a in structures if by_id[a.info["system_id"]].record["status"] == "ok"]
    failed = [
        {"system_id": a.info["system_id"], "reason": str(by_id[a.info["system_id"]].record.get("reason") or "unknown")}
        for a in structures
        if by_id[a.info["system_id"]].record["status"] != "ok"
    ]
    if not ok:
        reasons = sorted({f["reason"] for f in failed})[:3]
        raise DataFileError(f"{dataset}: all {len(structures)} DFT calculations failed ({'; '.join(reasons)}); nothing to pack")
    packed = [by_id[a.info["system_id"]] for a in ok]
    if not allow_mixed_levels:
        check_levels(dataset, packed)
    energies = [_energy(line) for line in packed]
    records = [line.record for line in packed]
    backends = sorted({str(r.get("backend")) for r in records})
    attrs = {
        "dataset": dataset,
        "dft_backend": "+".join(backends),
        "dft_settings": records[0].get("settings", {}),
        "code_version": sorted({str(r.get("code_version")) for r in records}),
        "reference_energies": reference_energies or {},
        "vimpnn_version": __version__,
        "git_commit": _git_commit(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "config": config,
        "n_failed": len(failed),
    }
    bonds = BondCache()
    tables = [bonds(a) for a in ok]
    attrs["bond_perception"] = dict(sorted(bonds.routes.items()))
    arrays = SystemArrays.from_atoms(ok, energies, tables, attrs)
    arrays.forces = _forces(ok, packed)
    arrays.provenance, arrays.electronic_state_changed = provenance(packed)
    arrays.failed = failed
    growth = dataset.startswith("growth")
    lineage = np.array([a.info.get("lineage", -1) for a in ok]) if growth else None
    element = np.array([str(a.info.get("element", "")) for a in ok]) if growth else None
    if growth and (lineage < 0).any():
        lineage = element = None  # structures written before lineages existed: make_splits says so
    arrays.splits = make_splits(dataset, arrays.group, arrays.scale, config, lineage, element)
    return arrays
