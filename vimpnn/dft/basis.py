"""Which elements the chosen basis-set and pseudopotential files cover (checked before any CP2K run), by which name."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from vimpnn.errors import DFTSetupError

DEFAULT_DATA_DIRS = ("/usr/share/cp2k", "/usr/share/cp2k/data", "/usr/local/share/cp2k/data")


def data_dir(settings: dict) -> Path:
    """CP2K's data directory: settings `data_dir`, then $CP2K_DATA_DIR, then the Debian location."""
    candidates = [settings.get("data_dir"), os.environ.get("CP2K_DATA_DIR"), *DEFAULT_DATA_DIRS]
    for c in candidates:
        if c and (Path(c) / settings["basis_file"]).exists():
            return Path(c)
    raise DFTSetupError(
        f"CP2K data file {settings['basis_file']} not found in {[c for c in candidates if c]}; "
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
    """
    root = data_dir(settings)
    out: dict[str, dict[str, str]] = {e: {} for e in elements}
    for kind, key, file_key in (("basis set", "basis_set", "basis_file"),
                                ("pseudopotential", "potential", "potential_file")):
        path, name = root / settings[file_key], settings[key]
        entries = _entries(path)
        missing = []
        for e in elements:
            spelled = [n for el, n in entries if el == e and (n == name or _is_q_variant(n, name))]
            if name in spelled or len(spelled) == 1:
                out[e][key] = name if name in spelled else spelled[0]
            else:
                missing.append(e)
        if missing:
            raise DFTSetupError(f"element {', '.join(missing)} has no {kind} {name} in {path}")
    return out


def _is_q_variant(candidate: str, name: str) -> bool:
    suffix = candidate[len(name):]
    return candidate.startswith(name) and suffix[:2] == "-q" and suffix[2:].isdigit()
