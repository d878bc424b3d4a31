"""`compute(structures, settings)`: check everything, serve the cache, run the rest in parallel, keep the order."""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor, as_completed
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
    returned with `cached=True`; the others run `jobs` at a time and are cached as soon as each finishes.
    """
    overrides = {k: v for k, v in (("backend", backend), ("jobs", jobs)) if v is not None}
    s = resolve({**(settings or {}), **overrides})
    ids = [system_id(a, i) for i, a in enumerate(structures)]
    for atoms, sid in zip(structures, ids):
        check_structure(atoms, sid)
    engine = BACKENDS[s["backend"]](s)
    prepared = [engine.prepare(atoms, template) for atoms in structures]
    cache = ResultCache(cache_dir if cache_dir is not None else s["cache_dir"])
    results: list[DFTResult | None] = [None] * len(structures)
    pending: dict[str, list[int]] = {}
    for k, job in enumerate(prepared):
        hit = cache.get(job.input_hash)
        if hit is not None:
            results[k] = DFTResult.from_dict(hit, system_id=ids[k], cached=True)
            if progress:
                progress(results[k])
        else:
            pending.setdefault(job.input_hash, []).append(k)
    scratch = cache.root / "scratch"
    # in-process backends (xtb, fast) hold worker processes: closed when the batch ends, whatever happens
    closing = contextlib.closing(engine) if hasattr(engine, "close") else contextlib.nullcontext()
    with closing, ThreadPoolExecutor(max_workers=max(1, int(s["jobs"]))) as pool:
        futures = {pool.submit(engine.run, prepared[ks[0]], scratch): ks for ks in pending.values()}
        for future in as_completed(futures):
            fields = future.result()
            if fields.pop("_cacheable"):
                cache.put(fields["input_hash"], fields | {"system_id": ids[futures[future][0]]})
            for k in futures[future]:
                results[k] = DFTResult(system_id=ids[k], **fields)
                if progress:
                    progress(results[k])
    return results  # type: ignore[return-value]
