"""Datasets in and out: our HDF5 files as annotated ASE frames (extxyz, ASE db, MACE), other files as datasets.

Frame convention (docs/exchange.md), the same in every format we write and read:
- energy (eV): the ASE calculator's `energy` (extxyz `energy=`, db `energy`), or `info[REF_energy]` for MACE;
- `info`: `split` (train / val / test / none), `group`, `source_id`, `scale`, `system_id`;
- `info["bonds"]`: the bond table as rows `[i, j, type]` (docs/bonds.md), perceived on the reference geometry;
- isolated-atom energies: one-atom frames with `config_type=IsolatedAtom` (MACE's E0 convention); in an ASE
  db they are the metadata `atomrefs` (schnetpack's convention) instead.
Importing perceives bonds when the frames carry none, on each frame's reference geometry (positions, or the
cell, divided by `scale` about the centroid), so scaled copies share the bonds of their equilibrium structure.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import sqlite3
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from vimpnn import __version__
from vimpnn.data.arrays import SPLIT_NAMES, SystemArrays
from vimpnn.data.splits import split_by_group
from vimpnn.errors import InputFormatError
from vimpnn.outputs import atomic_output

ISOLATED = "IsolatedAtom"
MACE_ENERGY_KEY = "REF_energy"
UNASSIGNED = "none"
SPLIT_ALIASES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test",
                 UNASSIGNED: None, "unassigned": None}
MACE_FILES = {"train": "train.xyz", "val": "valid.xyz", "test": "test.xyz"}
# settings that define the level of theory: reference energies computed with others are not E0s of the data
LEVEL_KEYS = ("functional", "basis_set", "potential", "cutoff", "rel_cutoff")


def reference_energies(arrays: SystemArrays) -> dict[str, float]:
    """Isolated-atom energies (eV) stored with the dataset, by element symbol."""
    return dict((arrays.attrs.get("reference_energies") or {}).get("energies") or {})


def reference_level_mismatch(arrays: SystemArrays) -> list[str]:
    """Level-of-theory settings in which the isolated-atom calculations differ from the dataset's, as text."""
    settings = arrays.attrs.get("dft_settings") or {}
    results = (arrays.attrs.get("reference_energies") or {}).get("results") or {}
    out = set()
    for record in results.values():
        ref = (record or {}).get("settings") or {}
        out |= {f"{k} {ref[k]} vs {settings[k]}" for k in LEVEL_KEYS if k in ref and k in settings and ref[k] != settings[k]}
    return sorted(out)


def _split_labels(arrays: SystemArrays) -> np.ndarray:
    labels = np.full(len(arrays), UNASSIGNED, dtype=object)
    for name, idx in arrays.splits.items():
        labels[idx] = name
    return labels


def to_frames(arrays: SystemArrays, energy_key: str = "energy") -> list:
    """Every system as ASE Atoms with energy, split, metadata and bond table (see the module docstring)."""
    labels = _split_labels(arrays)
    frames = []
    for i in range(len(arrays)):
        atoms = arrays.atoms(i)
        # one bond table per frame, as [i, j, type] rows: formats without arrays in info (ASE db) hold it too
        pairs, types = atoms.info.pop("bond_pairs"), atoms.info.pop("bond_types")
        atoms.info["split"] = labels[i]
        atoms.info["bonds"] = np.column_stack([pairs, types]).astype(int).tolist()
        if energy_key != "energy":
            atoms.calc = None
            atoms.info[energy_key] = float(arrays.energy[i])
        frames.append(atoms)
    return frames


def isolated_atom_frames(arrays: SystemArrays, energy_key: str = "energy") -> list:
    """One-atom `config_type=IsolatedAtom` frames carrying the reference energies (MACE reads them as E0s)."""
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.data import atomic_numbers

    frames = []
    for symbol, energy in sorted(reference_energies(arrays).items(), key=lambda kv: atomic_numbers[kv[0]]):
        atoms = Atoms(symbol)
        atoms.info.update(config_type=ISOLATED, system_id=f"isolated-{symbol}")
        if energy_key == "energy":
            atoms.calc = SinglePointCalculator(atoms, energy=float(energy))
        else:
            atoms.info[energy_key] = float(energy)
        frames.append(atoms)
    return frames


def _write_xyz(files: dict[Path, list]) -> list[Path]:
    """Extended XYZ files (path -> frames), all or none: each atomically, a failure removes every one."""
    from ase.io import write

    with ExitStack() as stack:
        for path, frames in files.items():
            write(stack.enter_context(atomic_output(path)), frames, format="extxyz")
    return list(files)


def export_extxyz(arrays: SystemArrays, path: str | os.PathLike) -> list[Path]:
    """One extended XYZ file: IsolatedAtom frames first, then every system in file order."""
    return _write_xyz({Path(path): isolated_atom_frames(arrays) + to_frames(arrays)})


def export_mace(arrays: SystemArrays, out_dir: str | os.PathLike) -> list[Path]:
    """train.xyz, valid.xyz, test.xyz with energies under REF_energy; train.xyz starts with the IsolatedAtom
    frames (MACE's E0s) unless they were computed at another level of theory than the systems."""
    out_dir = Path(out_dir)
    frames = to_frames(arrays, MACE_ENERGY_KEY)
    labels = _split_labels(arrays)
    files = {}
    for name, filename in MACE_FILES.items():
        chosen = [f for f, label in zip(frames, labels) if label == name]
        if name == "train" and not reference_level_mismatch(arrays):
            chosen = isolated_atom_frames(arrays, MACE_ENERGY_KEY) + chosen
        if chosen:
            files[out_dir / filename] = chosen
    return _write_xyz(files)


def split_file(db_path: Path) -> Path:
    """schnetpack's split file (train_idx / val_idx / test_idx, 0-based rows) beside an ASE db."""
    return db_path.with_name(db_path.stem + "_split.npz")


def export_ase_db(arrays: SystemArrays, path: str | os.PathLike) -> list[Path]:
    """An ASE database in schnetpack's ASEAtomsData layout (units and atomrefs in the metadata, `energy` in each
    row's data) that plain ASE reads too (row.energy, key-value pairs), and its split file."""
    from ase.data import atomic_numbers
    from ase.db import connect

    path = Path(path)
    if path.suffix != ".db":
        raise InputFormatError(f"{path}: an ASE database file must end in .db")
    atomref = np.zeros(100)
    for symbol, energy in reference_energies(arrays).items():
        atomref[atomic_numbers[symbol]] = energy
    with atomic_output(path) as tmp, atomic_output(split_file(path)) as tmp_split:
        tmp.unlink(missing_ok=True)  # left by a killed export: connect() would append to it
        try:
            with connect(tmp, type="db", append=False) as db:
                for atoms in to_frames(arrays):
                    bonds = np.asarray(atoms.info.pop("bonds"), dtype=np.int64).reshape(-1, 3)
                    kvp = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in atoms.info.items()}
                    # ASE refuses a string key-value that reads as a number ("12"): such values go to the data
                    strings = {k: v for k, v in kvp.items() if isinstance(v, str) and _reads_as_number(v)}
                    db.write(atoms, key_value_pairs={k: v for k, v in kvp.items() if k not in strings},
                             data={"energy": np.array([atoms.get_potential_energy()]), "bonds": bonds,
                                   **({"info_strings": strings} if strings else {})})
            with connect(tmp, type="db") as db:
                db.metadata = {
                    "_distance_unit": "Ang",
                    "_property_unit_dict": {"energy": "eV"},
                    "atomrefs": {"energy": atomref.tolist()},
                    "vimpnn": {k: arrays.attrs[k] for k in ("dataset", "dft_backend", "dft_settings",
                                                             "reference_energies", "vimpnn_version", "created")
                               if k in arrays.attrs},
                }
        except sqlite3.OperationalError as exc:  # "database or disk is full": an OS error in sqlite's words
            raise OSError(str(exc)) from None
        with open(tmp_split, "wb") as fh:
            np.savez(fh, **{f"{k}_idx": np.asarray(arrays.splits.get(k, []), dtype=np.int64) for k in SPLIT_NAMES})
    return [path, split_file(path)]


def _reads_as_number(text: str) -> bool:
    if text.strip() in ("True", "False"):
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


EXPORTERS = {"extxyz": export_extxyz, "ase-db": export_ase_db, "mace": export_mace}


# ----------------------------------------------------------------------------------------------- import


def read_frames(path: str | os.PathLike) -> tuple[list, dict[str, Any]]:
    """All frames of any file ASE reads (extxyz, ASE db, ...) and, for an ASE db, its metadata."""
    from ase.io import read

    path = Path(path)
    if not path.is_file():
        raise InputFormatError(f"{path}: file not found")
    metadata: dict[str, Any] = {}
    try:
        if path.suffix == ".db":  # rows with their key-value pairs and data (ase.io.read drops both)
            from ase.db import connect

            frames = []
            with connect(path) as db:
                metadata = dict(db.metadata)
                for row in db.select():
                    atoms = row.toatoms()
                    atoms.info.update(row.key_value_pairs)
                    if row.get("data"):
                        atoms.info["data"] = dict(row.data)
                        atoms.info.update(atoms.info["data"].pop("info_strings", {}))
                    frames.append(atoms)
        else:
            frames = read(path, index=":")
    except Exception as exc:  # ASE raises many types for unreadable files
        raise InputFormatError(f"{path}: ASE cannot read it ({type(exc).__name__}: {exc})") from None
    if not frames:
        raise InputFormatError(f"{path}: no frames")
    return frames, metadata


def _energy(atoms, key: str, where: str) -> float:
    """The frame's energy under `key`: an `info` entry, else the attached calculator's result of that name."""
    if key in atoms.info:
        value = atoms.info[key]
    elif atoms.calc is not None and key in getattr(atoms.calc, "results", {}):
        value = atoms.calc.results[key]
    else:
        keys = sorted(set(atoms.info) | set(getattr(atoms.calc, "results", {}) or {}))
        raise InputFormatError(f"{where}: no energy under key {key!r} (this frame has: {', '.join(keys) or 'nothing'})")
    try:
        energy = float(np.asarray(value, dtype=np.float64).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        raise InputFormatError(f"{where}: energy {key!r} = {value!r} is not a number") from None
    if not np.isfinite(energy):
        raise InputFormatError(f"{where}: energy {key!r} is {energy}")
    return energy


def _bond_table(atoms, where: str) -> np.ndarray | None:
    """(n, 3) rows [i, j, type] from info['bonds'] or an ASE db row's data['bonds']; None when the frame has none."""
    table = atoms.info.get("bonds")
    if table is None and isinstance(atoms.info.get("data"), dict):
        table = atoms.info["data"].get("bonds")
    if table is None:
        return None
    table = np.asarray(table, dtype=np.int64).reshape(-1, 3)
    n = len(atoms)
    if len(table) and (table[:, :2].min() < 0 or table[:, :2].max() >= n or not np.isin(table[:, 2], (1, 2)).all()):
        raise InputFormatError(f"{where}: bonds must be rows [i, j, type] with 0 <= i, j < {n} and type 1 or 2")
    return table


def _int_or(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _label_to_int(values: list) -> np.ndarray:
    """Group labels (numbers or strings) as integers: numbers kept, strings numbered in order of appearance."""
    if all(isinstance(v, (int, np.integer)) or (isinstance(v, float) and float(v).is_integer()) for v in values):
        return np.array([int(v) for v in values], dtype=np.int64)
    codes: dict[str, int] = {}
    return np.array([codes.setdefault(str(v), len(codes)) for v in values], dtype=np.int64)


def import_frames(
    frames: list,
    source: str,
    energy_key: str | None = "energy",
    scale_key: str | None = None,
    group_key: str | None = "group",
    split_key: str | None = "split",
    fractions: dict[str, float] | None = None,
    seed: int = 0,
    dataset: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> SystemArrays:
    """A dataset from annotated frames: energies, reference geometry (scale), groups, splits and bonds.

    `energy_key` None: structures without energies (NaN), for prediction only.
    `scale_key`: info key of the scaling relative to the reference geometry (None: `scale` when every frame
    has it, else each frame is its own reference). `group_key`: frames of one group (a molecule's scalings)
    stay in one split (absent: each frame its own group). `split_key`: given splits (absent from the frames:
    random by group with `fractions`).
    """
    from ase.data import chemical_symbols

    from vimpnn.data.pack import BondCache

    refs: dict[str, float] = {}
    systems = []
    for k, atoms in enumerate(frames):
        where = f"{source}: frame {k}"
        if atoms.info.get("config_type") == ISOLATED and len(atoms) == 1:
            if energy_key:
                refs[chemical_symbols[int(atoms.numbers[0])]] = _energy(atoms, energy_key, where)
        else:
            systems.append((k, atoms))
    if not systems:
        raise InputFormatError(f"{source}: only IsolatedAtom frames, no systems")
    if metadata and "vimpnn" in metadata:  # an ASE db we wrote: reference energies in its metadata
        refs = refs or dict((metadata["vimpnn"].get("reference_energies") or {}).get("energies") or {})

    def have(key: str | None) -> bool:
        return key is not None and all(key in a.info for _, a in systems)

    if scale_key is None and have("scale"):  # our own exports, and files following the same convention
        scale_key = "scale"
    elif scale_key is not None and not have(scale_key):
        missing = next(k for k, a in systems if scale_key not in a.info)
        raise InputFormatError(f"{source}: frame {missing}: no info key {scale_key!r} (--scale-key)")
    groups = (_label_to_int([a.info[group_key] for _, a in systems]) if have(group_key)
              else np.arange(len(systems), dtype=np.int64))
    energies, structures, tables = [], [], []
    for row, (k, atoms) in enumerate(systems):
        where = f"{source}: frame {k}"
        energies.append(_energy(atoms, energy_key, where) if energy_key else np.nan)
        scale = float(atoms.info[scale_key]) if scale_key else 1.0
        if not np.isfinite(scale) or scale <= 0:
            raise InputFormatError(f"{where}: scale {scale_key!r} = {scale} must be a positive number")
        clean = atoms.copy()
        clean.calc = None
        clean.info = {"scale": scale, "group": int(groups[row]),
                      "source_id": _int_or(atoms.info.get("source_id"), k),
                      "system_id": str(atoms.info.get("system_id", f"{Path(source).stem}-{k}"))}
        structures.append(clean)
        tables.append(_bond_table(atoms, where))
    given = [t is not None for t in tables]
    if any(given) and not all(given):
        raise InputFormatError(f"{source}: frame {systems[given.index(False)][0]} has no bond table while others do")
    if all(given):
        bonds = [(t[:, :2].astype(np.int32), t[:, 2].astype(np.int8)) for t in tables]
        how = "bond tables from the file"
    else:
        cache = BondCache()
        bonds = [cache(a) for a in structures]
        how = f"bonds perceived on each frame's reference geometry ({'positions / ' + scale_key if scale_key else 'as given'})"
    arrays = SystemArrays.from_atoms(structures, energies, bonds)
    if have(split_key):
        arrays.splits = _given_splits([a.info[split_key] for _, a in systems], [k for k, _ in systems], source, split_key)
        split_how = f"splits from info[{split_key!r}]"
    else:
        fractions = fractions or {"train": 0.8, "val": 0.1, "test": 0.1}
        arrays.splits = split_by_group(arrays.group, fractions, seed)
        split_how = f"random splits by group {fractions} (seed {seed})"
    digest = hashlib.sha256(Path(source).read_bytes()).hexdigest() if Path(source).is_file() else None
    arrays.attrs = {
        "dataset": dataset or Path(source).stem,
        "dft_backend": "imported",
        "reference_energies": {"unit": "eV", "energies": refs} if refs else {},
        "import": {"file": str(source), "sha256": digest, "energy_key": energy_key, "scale_key": scale_key,
                   "group_key": group_key if have(group_key) else None, "bonds": how, "splits": split_how},
        "vimpnn_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "n_failed": 0,
    }
    return arrays


def _given_splits(values: list, frame_index: list[int], source: str, key: str) -> dict[str, np.ndarray]:
    out: dict[str, list[int]] = {name: [] for name in SPLIT_NAMES}
    for row, (value, k) in enumerate(zip(values, frame_index)):
        label = str(value).strip().lower()
        if label not in SPLIT_ALIASES:
            raise InputFormatError(f"{source}: frame {k}: {key} = {value!r}; expected one of "
                                   f"{', '.join(sorted(SPLIT_ALIASES))}")
        if SPLIT_ALIASES[label]:
            out[SPLIT_ALIASES[label]].append(row)
    return {name: np.array(idx, dtype=np.int64) for name, idx in out.items()}
