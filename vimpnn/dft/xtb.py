"""The fast quantum level: GFN2-xTB (or GFN1-xTB) through tblite, in single-threaded worker processes.

Semi-empirical tight binding, not DFT: results say `backend: "xtb"` and `code_version: "tblite <version>
<method>"`, so they are never taken for CP2K data (pack refuses files that mix backends). Energies and forces
are converted as tblite's own ASE calculator does (Hartree, Bohr from `ase.units`). An SCF that does not
converge in `xtb_max_iterations` is a failed record with tblite's reason, never an energy.
"""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path

import numpy as np

from vimpnn.dft.result import DFTResult
from vimpnn.dft.templates import sha256
from vimpnn.errors import DFTSetupError
from vimpnn.workers import pinned_pool

MAX_Z = 86  # both parametrisations cover H-Rn
SCF_CYCLE = re.compile(r"^\s+\d+\s+-?\d+\.\d+\s", re.MULTILINE)  # one row of tblite's SCF table


def tblite_version() -> str:
    try:
        return metadata.version("tblite")
    except metadata.PackageNotFoundError:
        raise DFTSetupError("dft backend xtb needs tblite: `pip install tblite` (or `pip install -e .`)") from None


@dataclass(frozen=True)
class XTBJob:
    """One structure ready for tblite (Å, as in ASE; converted to Bohr in the worker)."""

    input_hash: str
    numbers: np.ndarray
    positions: np.ndarray
    cell: np.ndarray | None     # None for finite systems
    pbc: tuple[bool, bool, bool]
    uhf: int                    # unpaired electrons: the electron count's parity
    params: dict                # method, accuracy, max_iterations, electronic_temperature (K)

    @property
    def cache_key(self) -> str:
        """The input hash: it covers the method, its settings and the tblite version already."""
        return self.input_hash


class XTBBackend:
    name = "xtb"

    def __init__(self, settings: dict):
        method = settings["xtb_method"]  # GFN2-xTB or GFN1-xTB: settings.resolve checks it against the schema
        self.version = tblite_version()
        self.params = {"method": method, "accuracy": float(settings["xtb_accuracy"]),
                       "max_iterations": int(settings["xtb_max_iterations"]),
                       "electronic_temperature": float(settings["xtb_temperature"])}
        self.jobs = int(settings["jobs"])
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def prepare(self, atoms, template: str | None = None) -> XTBJob:
        numbers = atoms.get_atomic_numbers()
        beyond = sorted({atoms.get_chemical_symbols()[k] for k in np.flatnonzero(numbers > MAX_Z)})
        if beyond:
            raise DFTSetupError(f"element {', '.join(beyond)} is beyond {self.params['method']}'s range (H-Rn)")
        periodic = bool(atoms.pbc.any())
        job = XTBJob("", numbers.copy(), atoms.get_positions(), atoms.cell.array.copy() if periodic else None,
                     tuple(bool(p) for p in atoms.pbc), int(numbers.sum()) % 2, self.params)
        canonical = json.dumps({
            "backend": self.name, "tblite": self.version, **self.params, "charge": 0, "uhf": job.uhf,
            "numbers": numbers.tolist(), "positions": [[round(float(x), 10) for x in p] for p in job.positions],
            "cell": None if job.cell is None else [[round(float(x), 10) for x in v] for v in job.cell],
            "pbc": list(job.pbc),
        }, sort_keys=True)
        return replace(job, input_hash=sha256(canonical))

    def stale(self, record: DFTResult) -> str | None:
        """Never: everything that changes a result is in the key, and an SCF failure is deterministic."""
        return None

    def run(self, job: XTBJob, scratch: Path) -> dict:
        """One single point in a worker process; the fields of a DFTResult (no system_id)."""
        with self._lock:  # the engine calls run from `jobs` threads; they share one pool
            if self._pool is None:
                self._pool = pinned_pool(self.jobs)
            pool = self._pool
        try:
            out, cacheable = pool.submit(singlepoint, job).result(), True
        except BrokenProcessPool as exc:  # a worker died (killed, out of memory): not a property of the input
            out = {"energy": None, "forces": None, "scf_steps": None, "seconds": 0.0,
                   "error": f"xTB worker process died ({exc})"}
            cacheable = False
            with self._lock:  # the next structures get a fresh pool
                if self._pool is pool:
                    self._pool = None
        ok = out["error"] is None
        return {
            "status": "ok" if ok else "failed", "energy": out["energy"] if ok else None,
            "forces": out["forces"] if ok else None, "reason": out["error"], "backend": self.name,
            "input_hash": job.input_hash, "scf_converged": ok if out["scf_steps"] is not None else None,
            "scf_steps": out["scf_steps"], "walltime_s": round(out["seconds"], 6),
            "code_version": f"tblite {self.version} {self.params['method']}",
            "attempts": [{"step": "initial", "status": "ok" if ok else "failed", "reason": out["error"],
                          "returncode": None, "walltime_s": round(out["seconds"], 6)}],
            "settings": {**self.params, "template": None}, "_cacheable": cacheable,
        }

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None


def singlepoint(job: XTBJob) -> dict:
    """Runs in a pinned worker: energy (eV), forces (eV/Å), SCF cycles and wall time, or tblite's error."""
    from ase.units import Bohr, Hartree, kB
    from tblite.interface import Calculator

    log: list[str] = []
    t0 = time.perf_counter()
    p = job.params
    try:
        calc = Calculator(p["method"], job.numbers, job.positions / Bohr, 0, job.uhf,
                          None if job.cell is None else job.cell / Bohr, np.array(job.pbc) if any(job.pbc) else None,
                          logger=log.append, color=False)
        calc.set("accuracy", p["accuracy"])
        calc.set("max-iter", p["max_iterations"])
        calc.set("temperature", p["electronic_temperature"] * kB / Hartree)  # K -> Hartree, as tblite.ase does
        calc.set("verbosity", 1)  # prints the SCF table to `log`: the cycle count
        res = calc.singlepoint()
        energy = float(res.get("energy")) * Hartree
        forces = -np.asarray(res.get("gradient")) * Hartree / Bohr
        error = None if np.isfinite(energy) and np.isfinite(forces).all() else "non-finite xTB energy or forces"
    except RuntimeError as exc:  # tblite's TBLiteRuntimeError, e.g. "SCF not converged in 250 cycles"
        energy, forces, error = None, None, f"xTB: {exc}"
    cycles = len(SCF_CYCLE.findall("\n".join(log))) or None
    return {"energy": energy if error is None else None, "forces": forces.tolist() if error is None else None,
            "scf_steps": cycles, "seconds": time.perf_counter() - t0, "error": error}
