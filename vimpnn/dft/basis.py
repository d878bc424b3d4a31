"""The basis-set and pseudopotential files CP2K will read: where they are, what they hold, their sha256.

They are looked up as CP2K does (`discover_file` in src/common/cp_files.F): a name that exists as given
(an absolute path), else the data directory. vimpnn picks that directory once (below) and passes it to CP2K
as `$CP2K_DATA_DIR`, so the element check, the cache key and CP2K all see the same files. Which name each
element's KIND uses: `kind_names`.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import Iterator

from vimpnn.dft.binary import compiled_data_dir
from vimpnn.errors import DFTSetupError

DEFAULT_DATA_DIRS = ("/usr/share/cp2k", "/usr/share/cp2k/data", "/usr/local/share/cp2k/data")


def _candidates(settings: dict) -> Iterator[str | None]:
    yield settings.get("data_dir")
    yield os.environ.get("CP2K_DATA_DIR")
    yield compiled_data_dir(settings["executable"])  # asks the binary only when the two above do not answer
    yield from DEFAULT_DATA_DIRS


def data_dir(settings: dict) -> Path:
    """CP2K's data directory: settings `data_dir`, $CP2K_DATA_DIR, the binary's compiled-in one, the usual places."""
    for c in _candidates(settings):
        if c and (Path(c) / settings["basis_file"]).exists():
            return Path(c)
    raise DFTSetupError(
        f"CP2K data file {settings['basis_file']} not found in {[c for c in _candidates(settings) if c]}; "
        "install the cp2k data (apt-get install cp2k) or set dft.data_dir"
    )


@functools.lru_cache(maxsize=16)
def _entries(path: Path) -> frozenset[tuple[str, str]]:
    """(element, name) pairs a CP2K basis or potential file defines, aliases included."""
    out = set()
    for line in path.read_text(errors="replace").splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0].isalpha() and len(fields[0]) <= 2 and fields[0][0].isupper() \
                and fields[1][0].isalpha():
            out.update((fields[0], name) for name in fields[1:])
    return frozenset(out)


def kind_names(elements: list[str], settings: dict) -> dict[str, dict[str, str]]:
    """element -> {"basis_set", "potential"} as the CP2K files spell them; raise naming what is missing.

    A name is used as given when the file defines it for the element, else its valence-specific spelling
    `<name>-q<N>` (BASIS_MOLOPT_UZH and POTENTIAL_UZH define only `DZVP-MOLOPT-PBE-GTH-q4`, `GTH-PBE-q4`, ...).
    `element_basis` gives some elements another basis set from another file.
    """
    root = data_dir(settings)
    out: dict[str, dict[str, str]] = {e: {} for e in elements}
    per_element = settings.get("element_basis") or {}
    lookups = [("basis set", "basis_set", e, per_element.get(e) or settings, "basis_file") for e in elements]
    lookups += [("pseudopotential", "potential", e, settings, "potential_file") for e in elements]
    for kind, key, e, source, file_key in lookups:
        path, name = root / source[file_key], source[key]
        spelled = [n for el, n in _entries(path) if el == e and (n == name or _is_q_variant(n, name))]
        if name not in spelled and len(spelled) != 1:
            raise DFTSetupError(f"element {e} has no {kind} {name} in {path}")
        out[e][key] = name if name in spelled else spelled[0]
    return out


def basis_files(elements: list[str], settings: dict) -> list[str]:
    """The BASIS_SET_FILE_NAME values an input needs: the level's file, then those of `element_basis` in use."""
    per_element = settings.get("element_basis") or {}
    files = [settings["basis_file"]] + [per_element[e]["basis_file"] for e in sorted(elements) if e in per_element]
    return list(dict.fromkeys(files))


def _is_q_variant(candidate: str, name: str) -> bool:
    suffix = candidate[len(name):]
    return candidate.startswith(name) and suffix[:2] == "-q" and suffix[2:].isdigit()


@functools.lru_cache(maxsize=64)
def _sha256(path: Path, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def file_hashes(names: list[str], root: Path) -> dict[str, str]:
    """name -> sha256 of each data file as CP2K resolves it (hashed once per process unless it changes)."""
    out = {}
    for name in names:
        path = root / name  # an absolute name stays as it is, as in CP2K
        try:
            st = path.stat()
        except FileNotFoundError:
            raise DFTSetupError(f"CP2K data file {name} not found in {root}") from None
        out[name] = _sha256(path, st.st_mtime_ns, st.st_size)
    return out
