"""Add the integrity data (fletcher32 per dataset, `content_sha256`; docs/hdf5.md) to a file written before it existed.

`python -m vimpnn.data.rewrite OLD.h5 NEW.h5` reads OLD with every check the reader makes and writes NEW through
`write_dataset`, keeping its schema version: the arrays (and their dtypes), the attributes and the provenance are
the same, and NEW hashes as OLD did, so a training run that recorded OLD's hash resumes on NEW.
"""

from __future__ import annotations

import argparse
import os
import sys

from vimpnn.data.hdf5 import read_dataset, write_dataset
from vimpnn.errors import VimpnnError


def rewrite(src: str | os.PathLike, dst: str | os.PathLike) -> str:
    """Write `src` again to `dst` with checksums; returns its content_sha256."""
    arrays = read_dataset(src)
    write_dataset(dst, arrays, as_read=True)
    return str(arrays.attrs["content_sha256"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vimpnn.data.rewrite", description=__doc__.splitlines()[0])
    parser.add_argument("src", help="dataset file without checksums")
    parser.add_argument("dst", help="file to write (may be SRC itself: it is replaced atomically)")
    args = parser.parse_args(argv)
    try:
        print(f"{args.dst}: content_sha256 {rewrite(args.src, args.dst)}")
    except (VimpnnError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
