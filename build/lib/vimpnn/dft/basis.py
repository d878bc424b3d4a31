"""Which elements the chosen basis-set and pseudopotential files cover, checked before any CP2K run."""

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


def check_elements(elements: list[str], settings: dict) -> None:
    """Raise naming the element and the set when the basis or the potential lacks it."""
    root = data_dir(settings)
    for kind, file_key, name in (("basis set", "basis_file", settings["basis_set"]),
                                 ("pseudopotential", "potential_file", settings["potential"])):
        path = root / settings[file_key]
        entries = _entries(path)
        missing = [e for e in elements if (e, name) not in entries]
        if missing:
            raise DFTSetupError(f"element {', '.join(missing)} has no {kind} {name} in {path}")
