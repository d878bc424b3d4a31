"""Writing output files: atomically (a temporary name, then a rename) and with OS errors as one line naming the path.

Every writer of the project (structures, DFT results, datasets, checkpoints, metrics, downloads) goes
through `atomic_output` or `writing`, so a full disk or an unwritable folder is reported the same way
everywhere and never leaves a `.tmp` file behind.
"""

from __future__ import annotations

import errno
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from vimpnn.errors import OutputError


def output_error(path: str | os.PathLike, exc: OSError) -> OutputError:
    """`path: cannot write (reason)`, one line; a path through a file (`out.h5/x`) names the part that is no folder."""
    reason = os.strerror(exc.errno) if exc.errno else " ".join(str(exc).split())  # h5py's text spans lines
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):
        blocker = next((p for p in (Path(path), *Path(path).parents) if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            reason = f"{blocker} is a file, not a folder"
    return OutputError(f"{path}: cannot write ({reason})")


@contextmanager
def writing(path: str | os.PathLike) -> Iterator[Path]:
    """Run the block that writes `path` (appends, folders); an OSError becomes `OutputError` naming `path`."""
    try:
        yield Path(path)
    except OSError as exc:
        raise output_error(path, exc) from None


def make_dir(path: str | os.PathLike) -> Path:
    """`path` and its parents as folders, or `OutputError` naming `path`."""
    with writing(path) as p:
        p.mkdir(parents=True, exist_ok=True)
    return Path(path)


@contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield `path.tmp` to write; it is renamed onto `path` when the block succeeds and removed when it fails,
    so readers never see half a file and a failed write leaves nothing behind.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with writing(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            yield tmp
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
