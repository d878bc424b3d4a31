"""`vimpnn dft`: DFT energies of a structures file as JSON lines (one DFTResult per structure)."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from vimpnn.dft.settings import BACKENDS
from vimpnn.outputs import atomic_output

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--in", dest="inp", required=True, help="structures file (extended XYZ)")
    parser.add_argument("--out", required=True, help="results file (JSON lines)")
    parser.add_argument("--backend", choices=BACKENDS, help="overrides dft.backend (docs/dft.md)")
    parser.add_argument("--jobs", type=int, help="structures run at once (overrides dft.jobs)")
    parser.add_argument("--settings", help="YAML file with the dft: section of the project config")
    parser.add_argument("--start", type=int, help="first frame (0-based)")
    parser.add_argument("--stop", type=int, help="one past the last frame")
    parser.add_argument("--cache", help="cache directory (overrides dft.cache_dir)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (default: only on a terminal)")


class Progress:
    """tqdm bar with done / failed / cached counts on a terminal (the ETA comes from the rate of finished
    structures); elsewhere one timestamped log line per finished structure."""

    def __init__(self, total: int, enabled: bool):
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="structure", disable=not enabled, dynamic_ncols=True)
        self.enabled, self.total = enabled, total
        self.ok = self.failed = self.cached = 0

    def __call__(self, result) -> None:
        self.cached += result.cached
        self.ok += result.status == "ok"
        self.failed += result.status != "ok"
        self.bar.set_postfix(done=self.ok, failed=self.failed, cached=self.cached, refresh=False)
        self.bar.update(1)
        if not self.enabled:
            what = f"{result.energy:.6f} eV" if result.status == "ok" else f"FAILED: {result.reason}"
            log.info("%d/%d %s: %s%s", self.ok + self.failed, self.total, result.system_id, what,
                     " (cached)" if result.cached else f" ({result.walltime_s:.1f} s)")


def write_jsonl(path: str | Path, records) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text("".join(r.to_json() + "\n" for r in records))


def run(args: argparse.Namespace) -> int:
    from vimpnn.dft import compute, load_settings
    from vimpnn.errors import InputFormatError
    from vimpnn.structures.io import read_structures
    from vimpnn.validation import check

    t0 = time.perf_counter()
    if args.start is not None and args.stop is not None and args.stop <= args.start:
        raise InputFormatError(f"--start {args.start} --stop {args.stop} selects no structures")
    if args.jobs is not None:
        check({"jobs": args.jobs}, "vimpnn dft", section="dft", flags={"jobs": "--jobs"})
    settings = load_settings(args.settings)
    structures = read_structures(args.inp, args.start, args.stop)
    from vimpnn.logs import show_progress

    progress = Progress(len(structures), enabled=show_progress(args.no_progress))
    try:
        results = compute(structures, settings, backend=args.backend, jobs=args.jobs, cache_dir=args.cache,
                          progress=progress)
    finally:
        progress.bar.close()
    write_jsonl(args.out, results)
    print(f"{len(results)} structures: {progress.ok} ok, {progress.failed} failed, {progress.cached} from cache; "
          f"wrote {args.out} in {time.perf_counter() - t0:.1f} s")
    return 0
