"""`vimpnn download`: fetch one released file of the manifest, resumable and checksum-verified."""

from __future__ import annotations

import argparse
from pathlib import Path

from vimpnn.data.download import download, load_manifest
from vimpnn.errors import InputFormatError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manifest", default="datasets/manifest.yaml")
    parser.add_argument("--name", required=True, help="file name as listed in the manifest")
    parser.add_argument("--out", required=True)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (default: only on a terminal)")


def run(args: argparse.Namespace) -> int:
    entries = load_manifest(args.manifest)
    if args.name not in entries:
        raise InputFormatError(f"{args.manifest}: no file named {args.name!r} (have: {', '.join(sorted(entries))})")
    from vimpnn.logs import show_progress

    out = download(entries[args.name], args.out, Path(args.manifest).resolve().parent,
                   progress=show_progress(args.no_progress))
    print(f"downloaded {args.name} to {out} (sha256 verified)")
    return 0
