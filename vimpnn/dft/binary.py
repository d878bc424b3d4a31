"""The CP2K binary: where it is, its version and the data directory compiled into it, asked once per process.

The version is part of the cache key (a CP2K upgrade recomputes every structure). The compiled data directory
is where CP2K looks for `BASIS_SET_FILE_NAME` / `POTENTIAL_FILE_NAME` when `$CP2K_DATA_DIR` is unset
(`discover_file` and `get_data_dir` in CP2K's src/common/cp_files.F).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from vimpnn.errors import DFTSetupError

INSTALL_HINT = "install it with `apt-get install cp2k` (Debian/Ubuntu) or set dft.executable to its path"
_REVISION = re.compile(r"Source code revision\s+(\S+)")
_DATA_DIR = re.compile(r'__DATA_DIR="([^"]*)"')


def find_executable(settings: dict) -> str:
    """The CP2K binary's full path; raises before any work when it is missing."""
    exe = settings["executable"]
    found = shutil.which(exe)
    if found is None:
        raise DFTSetupError(f"CP2K executable {exe!r} not found on PATH; {INSTALL_HINT}")
    return found


@dataclass(frozen=True)
class Build:
    """What `cp2k.psmp --version` says."""

    version: str            # "CP2K version 2023.1 (git:b888bd8)": version line and source revision
    data_dir: str | None    # the build's -D __DATA_DIR, None when it has none


def parse_version(text: str, executable: str) -> Build:
    """The version line, the source revision and the compiled-in data directory of `--version`'s output."""
    line = next((s.strip() for s in text.splitlines() if s.strip().startswith("CP2K version")), None)
    if line is None:
        raise DFTSetupError(f"`{executable} --version` printed no 'CP2K version' line; is it CP2K? "
                            f"Output: {text.strip()[:200]!r}")
    revision = _REVISION.search(text)
    # the compiler options are wrapped at a fixed width with a 3-space indent; a path may be cut anywhere
    data_dir = _DATA_DIR.search(text.replace("\n   ", ""))
    return Build(f"{line} ({revision.group(1)})" if revision else line, data_dir.group(1) if data_dir else None)


@functools.lru_cache(maxsize=8)
def build(executable: str) -> Build:
    """`executable --version`, run once per process and binary (a few seconds: CP2K initialises MPI)."""
    try:
        proc = subprocess.run([executable, "--version"], capture_output=True, text=True, timeout=300,
                              env=os.environ | {"OMP_NUM_THREADS": "1"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DFTSetupError(f"`{executable} --version` failed: {exc}") from None
    return parse_version(proc.stdout, executable)


def compiled_data_dir(executable: str) -> str | None:
    """The data directory compiled into the binary named `executable`; None when there is no such binary."""
    found = shutil.which(executable)
    return build(found).data_dir if found else None
