"""Overhead of `vimpnn dft` over bare `cp2k.psmp` calls on the same N small inputs, and the cache-hit rerun time.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/dft_overhead.py --n 4

Both paths run the identical rendered inputs one at a time (jobs=1, OMP_NUM_THREADS=1). `vimpnn dft` also pays a
fixed start-up (Python imports, loading CP2K's input schema) that the cache-hit rerun measures on its own.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def structures(n: int) -> list:
    """N H2 molecules with different bond lengths (distinct inputs, so nothing is shared between them)."""
    from ase import Atoms

    return [Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.70 + 0.02 * k]], info={"system_id": f"h2-{k}", "scale": 1.0})
            for k in range(n)]


def bare(inputs: list[str], workdir: Path) -> float:
    t0 = time.perf_counter()
    for k, text in enumerate(inputs):
        d = workdir / f"bare-{k}"
        d.mkdir()
        (d / "in.inp").write_text(text)
        subprocess.run(["cp2k.psmp", "-i", "in.inp", "-o", "out.out"], cwd=d, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def vimpnn_dft(path: Path, out: Path, cache: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vimpnn.cli.main", "dft", "--in", str(path), "--out", str(out),
                    "--cache", str(cache), "--jobs", "1", "--no-progress"], cwd=ROOT, check=True)
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4)
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = "1"
    from vimpnn.dft import templates
    from vimpnn.dft.settings import resolve
    from vimpnn.structures.io import write_structures

    mols = structures(args.n)
    inputs = [templates.render(m, resolve({})).text for m in mols]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_structures(tmp / "s.extxyz", mols)
        t_bare = bare(inputs, tmp)
        t_vimpnn = vimpnn_dft(tmp / "s.extxyz", tmp / "r.jsonl", tmp / "cache")
        t_cached = vimpnn_dft(tmp / "s.extxyz", tmp / "r2.jsonl", tmp / "cache")
    per = (t_vimpnn - t_cached - t_bare) / args.n
    print(f"N = {args.n} H2 molecules, default settings, OMP_NUM_THREADS=1")
    print(f"bare cp2k.psmp:   {t_bare:8.2f} s")
    print(f"vimpnn dft:       {t_vimpnn:8.2f} s  overhead ratio {t_vimpnn / t_bare - 1:+.1%}")
    print(f"cache-hit rerun:  {t_cached:8.2f} s  (fixed start-up + rendering + cache reads)")
    print(f"per-structure overhead beyond the start-up: {per:+.3f} s ({per * args.n / t_bare:+.1%} of bare)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
