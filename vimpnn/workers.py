"""Single-threaded worker processes for in-process quantum codes (tblite/xTB), one per `--jobs`.

tblite parallelises each calculation with OpenMP. Left alone, every worker starts one OpenMP thread per core,
and those threads spin-wait for work while the other workers' threads want the same cores: the median AugQM9
structure then took 73x longer (docs/dft.md, "Fast level"). Each worker here is a fresh (spawned, not forked)
process whose thread variables are set to 1 before it imports anything that starts a thread pool; this module
imports nothing heavy, so unpickling the initializer in the child cannot load a library before the variables
are set. Parallelism comes from the number of workers.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _pin() -> None:
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"


def pinned_pool(jobs: int) -> ProcessPoolExecutor:
    """`jobs` spawned worker processes, each limited to one thread."""
    return ProcessPoolExecutor(max_workers=max(1, int(jobs)), mp_context=multiprocessing.get_context("spawn"),
                               initializer=_pin)
