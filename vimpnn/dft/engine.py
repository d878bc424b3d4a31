"""`compute(structures, settings)`: check everything, serve the cache, run the rest in parallel, keep the order.

A backend has `prepare(atoms, template) -> job` (the job has `input_hash` and `cache_key`), `run(job, scratch)
-> fields of a DFTResult`, `stale(record) -> reason | None` (a cached record to compute again) and, when it
holds worker processes, `close()`. A job with a `curve` (CP2K with `wfn_restart`) is run with `guess` and `keep`
wavefunction files: the structures of one curve run in a chain, in order of scaling.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

from vimpnn.dft.cache import ResultCache
from vimpnn.dft.emt import EMTBackend
from vimpnn.dft.fast import FastBackend
from vimpnn.dft.geometry import check_structure
from vimpnn.dft.result import DFTResult
from vimpnn.dft.runner import CP2KBackend
from vimpnn.dft.settings import resolve
from vimpnn.dft.xtb import XTBBackend

BACKENDS = {"cp2k": CP2KBackend, "emt": EMTBackend, "xtb": XTBBackend, "fast": FastBackend}
log = logging.getLogger(__name__)


def system_id(atoms, index: int) -> str:
    return str(atoms.info.get("system_id", f"#{index}"))


def compute(
    structures: Sequence,
    settings: dict | None = None,
    *,
    backend: str | None = None,
    jobs: int | None = None,
    cache_dir: str | Path | None = None,
    template: str | None = None,
    progress: Callable[[DFTResult], None] | None = None,
) -> list[DFTResult]:
    """One DFTResult per structure, in input order.

    Before any calculation: the settings, every geometry, the binary and every element's basis/potential are
    checked (a user error raises `VimpnnError` naming the structure/element). Results found in the cache are
    returned with `cached=True`; the others run `jobs` at a time, each under a claim on its cache entry (one that
    another process is computing is left to it and its result awaited at the end), and are cached as soon as
    each finishes. The structures of one curve (CP2K `wfn_restart`) run as a chain, one after another in order
    of scaling; chains and single structures run `jobs` at a time.
    """
    overrides = {k: v for k, v in (("backend", backend), ("jobs", jobs)) if v is not None}
    s = resolve({**(settings or {}), **overrides})
    ids = [system_id(a, i) for i, a in enumerate(structures)]
    for atoms, sid in zip(structures, ids):
        check_structure(atoms, sid)
    engine = BACKENDS[s["backend"]](s)
    prepared = [engine.prepare(atoms, template) for atoms in structures]
    cache = ResultCache(cache_dir if cache_dir is not None else s["cache_dir"], stale=engine.stale)
    results: list[DFTResult | None] = [None] * len(structures)
    pending: dict[str, list[int]] = {}

    delivering = threading.Lock()  # chains deliver from worker threads; `progress` (e.g. a record file) sees one

    def deliver(ks: list[int], result: DFTResult) -> None:
        with delivering:
            for k in ks:
                results[k] = replace(result, system_id=ids[k])
                if progress:
                    progress(results[k])

    for k, job in enumerate(prepared):
        hit = cache.get(job.cache_key)
        if hit is not None:
            deliver([k], hit)
        else:
            pending.setdefault(job.cache_key, []).append(k)
    scratch = cache.root / "scratch"
    stop = threading.Event()
    holders: dict[str, str] = {}  # key -> who held its claim when this process found it taken

    def solve(key: str, wait: bool, guess: tuple[Path, str] | None, keep: Path | None
              ) -> tuple[DFTResult, bool] | None:
        """Compute `key` under its claim: the result and whether its converged wavefunction went to `keep`;
        None when another process holds the claim (and `wait` is False)."""
        first = pending[key][0]
        with cache.claim(key, wait, stop) as held:
            if not held:
                holders[key] = cache.holder(key)
                return None
            hit = cache.get(key)  # written by the process that held the claim before us
            if hit is not None:
                return hit, False
            job = prepared[first]
            fields = engine.run(job, scratch, guess, keep) if keep is not None else engine.run(job, scratch)
            kept = bool(fields.pop("_kept", False))
            if fields.pop("_cacheable"):
                cache.put(key, fields | {"system_id": ids[first]})
            return DFTResult(system_id=ids[first], **fields), kept

    def solve_chain(keys: list[str], wait: bool, wavefunctions: Path | None) -> list[str]:
        """Solve `keys` one after another, each starting from the last wavefunction this chain kept (a chain of
        one, or without `wavefunctions`, from the atomic guess); return those another process holds."""
        keep = wavefunctions / f"{keys[0]}.wfn" if wavefunctions is not None and len(keys) > 1 else None
        guess, held_elsewhere = None, []
        for key in keys:
            solved = solve(key, wait, guess, keep)
            if solved is None:
                held_elsewhere.append(key)
                continue
            deliver(pending[key], solved[0])
            if solved[1]:
                guess = (keep, ids[pending[key][0]])
        return held_elsewhere

    def run_all(pool: ThreadPoolExecutor, chains: list[list[str]], wait: bool,
                wavefunctions: Path | None) -> list[str]:
        """Solve every chain; return the keys another process holds."""
        futures = [pool.submit(solve_chain, chain, wait, wavefunctions) for chain in chains]
        return [key for future in as_completed(futures) for key in future.result()]

    # in-process backends (xtb, fast) hold worker processes: closed when the batch ends, whatever happens
    closing = contextlib.closing(engine) if hasattr(engine, "close") else contextlib.nullcontext()
    chains = curves([prepared[ks[0]] for ks in pending.values()])
    wavefunctions = None
    if any(len(chain) > 1 for chain in chains):
        scratch.mkdir(parents=True, exist_ok=True)
        wavefunctions = Path(tempfile.mkdtemp(prefix="wavefunctions-", dir=scratch))
    with closing, ThreadPoolExecutor(max_workers=max(1, int(s["jobs"]))) as pool:
        try:
            busy = run_all(pool, chains, wait=False, wavefunctions=wavefunctions)
            if busy:
                log.info("%d structure(s) were claimed by another process on the same cache (e.g. %s by %s); "
                         "waiting for their results", len(busy), ids[pending[busy[0]][0]], holders[busy[0]])
                run_all(pool, [[key] for key in busy], wait=True, wavefunctions=None)
        finally:
            stop.set()  # threads still waiting for a claim give up when the batch stops early (Ctrl-C, an error)
            if wavefunctions is not None:
                shutil.rmtree(wavefunctions, ignore_errors=True)
    return results  # type: ignore[return-value]


def curves(jobs: Sequence) -> list[list[str]]:
    """The jobs' cache keys as chains: the jobs of one curve (CP2K `wfn_restart`) in order of scaling, every other
    job alone; chains in the order their first job comes."""
    chains: dict[object, list] = {}
    for job in jobs:
        curve = getattr(job, "curve", None)
        chains.setdefault(curve if curve is not None else ("alone", job.cache_key), []).append(job)
    return [[job.cache_key for job in sorted(chain, key=lambda j: getattr(j, "scale", 0.0))]
            for chain in chains.values()]
