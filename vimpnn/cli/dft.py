"""`vimpnn dft`: DFT energies of a structures file as JSON lines (one DFTResult per structure)."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from vimpnn.dft.settings import BACKENDS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--in", dest="inp", required=True, help="structures file (extended XYZ)")
    parser.add_argument("--out", required=True, help="results file (JSON lines)")
    parser.add_argument("--backend", choices=BACKENDS, help="overrides dft.backend (docs/dft.md)")
    parser.add_argument("--jobs", type=int, help="structures run at once (overrides dft.jobs)")
    parser.add_argument("--settings", help="YAML file with the dft: section of the project config")
    parser.add_argument("--start", type=int, help="first frame (0-based)")
    parser.add_argument("--stop", type=int, help="one past the last frame")
    parser.add_argument("--cache", help="cache directory (overrides dft.cache_dir)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


class Progress:
    """tqdm bar with done / failed / cached counts; the ETA comes from the rate of finished structures."""

    def __init__(self, total: int, enabled: bool):
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="structure", disable=not enabled, dynamic_ncols=True)
        self.ok = self.failed = self.cached = 0

    def __call__(self, result) -> None:
        self.cached += result.cached
        self.ok += result.status == "ok"
        self.failed += result.status != "ok"
        self.bar.set_postfix(done=self.ok, failed=self.failed, cached=self.cached, refresh=False)
        self.bar.update(1)


def write_jsonl(path: str | Path, records) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(r.to_json() + "\n" for r in records))
    os.replace(tmp, path)


def run(args: argparse.Namespace) -> int:
    from vimpnn.dft import compute, load_settings
    from vimpnn.structures.io import read_structures

    t0 = time.perf_counter()
    settings = load_settings(args.settings)
    structures = read_structures(args.inp, args.start, args.stop)
    progress = Progress(len(structures), enabled=not args.no_progress)
    try:
        results = compute(structures, settings, backend=args.backend, jobs=args.jobs, cache_dir=args.cache,
                          progress=progress)
    finally:
        progress.bar.close()
    write_jsonl(args.out, results)
    print(f"{len(results)} structures: {progress.ok} ok, {progress.failed} failed, {progress.cached} from cache; "
          f"wrote {args.out} in {time.perf_counter() - t0:.1f} s")
    return 0
