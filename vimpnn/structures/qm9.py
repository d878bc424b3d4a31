"""Streaming readers of QM9 molecules: original xyz records (file, directory, tarball) and qm9pack CSV.

Records are parsed one at a time so reading the first N molecules of the full set never loads it all.
Every malformed record raises `InputFormatError` naming the file, the record and the line.
"""

from __future__ import annotations

import ast
import csv
import gzip
import importlib.util
import io
import math
import os
import tarfile
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO, Iterable, Iterator

import numpy as np

from vimpnn.errors import InputFormatError

ELEMENTS_QM9 = ("H", "C", "N", "O", "F")
SHIPPED = Path(__file__).resolve().parents[1] / "data_files" / "qm9" / "qm9_first_10000.xyz.gz"


@dataclass(frozen=True)
class QM9Record:
    index: int  # original QM9 (gdb) index
    symbols: tuple[str, ...]
    positions: np.ndarray  # (n, 3) Å
    smiles: str

    def to_atoms(self):
        from ase import Atoms

        return Atoms(symbols=list(self.symbols), positions=self.positions)


def _float(text: str, where: str, field: str) -> float:
    """QM9 writes tiny numbers in Mathematica notation (`1.2*^-5`); accept it beside `E`. nan and inf are errors."""
    try:
        value = float(text.strip().replace("*^", "E"))
    except ValueError:
        raise InputFormatError(f"{where}: {field} {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise InputFormatError(f"{where}: {field} {text.strip()!r} is not finite")
    return value


def parse_xyz_records(lines: Iterable[str], source: str) -> Iterator[QM9Record]:
    """Parse concatenated QM9 records (natoms + 5 lines each) from an iterable of lines."""
    it = iter(lines)
    lineno = 0
    ordinal = 0
    while True:
        header = next(it, None)
        lineno += 1
        if header is None or not header.strip():
            return
        ordinal += 1
        start = lineno
        where = f"{source}: record {ordinal} (line {start})"
        try:
            natoms = int(header.strip())
        except ValueError:
            raise InputFormatError(f"{where}: atom count {header.strip()!r} is not an integer") from None
        block = list(islice(it, natoms + 4))
        if len(block) < natoms + 4:
            raise InputFormatError(
                f"{where}: truncated record, expected {natoms + 5} lines but the file ends after {len(block) + 1}"
            )
        props = block[0].split()
        if len(props) < 2 or props[0] != "gdb":
            raise InputFormatError(f"{source}: record {ordinal} line {start + 1}: expected 'gdb IDX ...' header")
        index = int(props[1])
        where = f"{source}: record gdb {index}"
        symbols, xyz = [], []
        for k, line in enumerate(block[1 : natoms + 1]):
            fields = line.split()
            at = f"{where} line {start + 2 + k}"
            if len(fields) < 4:
                raise InputFormatError(f"{at}: expected 'element x y z charge', got {line.strip()!r}")
            if fields[0] not in ELEMENTS_QM9:
                raise InputFormatError(f"{at}: unknown element {fields[0]!r} (QM9 has {', '.join(ELEMENTS_QM9)})")
            symbols.append(fields[0])
            xyz.append([_float(v, at, f"coordinate {c}") for c, v in zip("xyz", fields[1:4])])
        smiles = block[natoms + 2].split()[0] if block[natoms + 2].split() else ""
        lineno += natoms + 4
        yield QM9Record(index, tuple(symbols), np.array(xyz, dtype=np.float64), smiles)


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt")
    if path.suffix == ".bz2":
        import bz2

        return bz2.open(path, "rt")
    return open(path)


def read_xyz(path: str | os.PathLike) -> Iterator[QM9Record]:
    """Records from one file, a directory of `dsgdb9nsd_*.xyz`, or a tarball of them (sorted by name)."""
    path = Path(path)
    if not path.exists():
        raise InputFormatError(f"QM9 source {path} does not exist")
    if path.is_dir():
        for f in sorted(path.glob("dsgdb9nsd_*.xyz")):
            with open(f) as fh:
                yield from parse_xyz_records(fh, str(f))
    elif tarfile.is_tarfile(path):
        with tarfile.open(path) as tar:
            members = sorted((m for m in tar if m.isfile() and m.name.endswith(".xyz")), key=lambda m: m.name)
            for m in members:
                with io.TextIOWrapper(tar.extractfile(m)) as fh:
                    yield from parse_xyz_records(fh, f"{path}:{m.name}")
    else:
        with _open_text(path) as fh:
            yield from parse_xyz_records(fh, str(path))


def qm9pack_data_dir() -> Path:
    """qm9pack's CSV directory, found without importing qm9pack (its import needs pkg_resources)."""
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        raise InputFormatError("qm9.source is 'qm9pack' but qm9pack is not installed: pip install 'vimpnn[qm9pack]'")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def read_qm9pack_csv(paths: Iterable[str | os.PathLike]) -> Iterator[QM9Record]:
    """Records from qm9pack CSV files (columns Index, SMILES, Elements, XYZ_Ang, ...), row by row."""
    for path in paths:
        with open(path, newline="") as fh:
            for row_no, row in enumerate(csv.DictReader(fh), start=2):
                where = f"{path}: line {row_no} (Index {row.get('Index')})"
                try:
                    symbols = tuple(ast.literal_eval(row["Elements"]))
                    xyz = np.array(ast.literal_eval(row["XYZ_Ang"]), dtype=np.float64)
                    index = int(row["Index"])
                except KeyError as exc:
                    raise InputFormatError(f"{where}: missing column {exc}") from None
                except (ValueError, SyntaxError, TypeError) as exc:
                    raise InputFormatError(f"{where}: malformed Elements/XYZ_Ang/Index field ({exc})") from None
                bad = [s for s in symbols if s not in ELEMENTS_QM9]
                if bad:
                    raise InputFormatError(f"{where}: field Elements: unknown element {bad[0]!r}")
                if xyz.shape != (len(symbols), 3):
                    raise InputFormatError(f"{where}: field XYZ_Ang has shape {xyz.shape}, expected ({len(symbols)}, 3)")
                if not np.all(np.isfinite(xyz)):
                    raise InputFormatError(f"{where}: field XYZ_Ang holds non-finite coordinates")
                yield QM9Record(index, symbols, xyz, row.get("SMILES", ""))


def open_qm9(section: dict, limit: int | None = None) -> Iterator[QM9Record]:
    """The first `limit` molecules of the configured source (`qm9.source`: shipped | qm9pack | xyz)."""
    source = section.get("source", "shipped")
    if source == "shipped":
        records = read_xyz(os.environ.get("VIMPNN_QM9", SHIPPED))
    elif source == "qm9pack":
        d = qm9pack_data_dir()
        records = read_qm9pack_csv([d / f"qm9_part{k}.csv" for k in (1, 2, 3)])
    elif source == "xyz":
        if not section.get("path"):
            raise InputFormatError("qm9.source is 'xyz' but qm9.path is not set")
        records = read_xyz(section["path"])
    else:
        raise InputFormatError(f"qm9.source: unknown source {source!r} (shipped, qm9pack, xyz)")
    return islice(records, limit)
