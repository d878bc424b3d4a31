"""The fast ASE EMT backend (Al, Cu, H, C, N, O, ...) behind the CP2K interface: tests, demos, the fast level's metals.

Its results say `backend: "emt"` and `code_version: "ase <version> EMT"`, so they can never pass for DFT.
Forces come with the energy at no extra cost and are stored (eV/Å).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from vimpnn.dft.result import DFTResult
from vimpnn.dft.templates import sha256
from vimpnn.errors import DFTSetupError


@dataclass(frozen=True)
class EMTJob:
    input_hash: str
    atoms: object

    @property
    def cache_key(self) -> str:
        """The input hash (structure and record kind): the ASE version is checked on reading, by `stale`, which
        keeps the entries cached before it was checked."""
        return self.input_hash


class EMTBackend:
    name = "emt"

    def __init__(self, settings: dict):
        import ase

        self.settings = settings
        self.code_version = f"ase {ase.__version__} EMT"

    def prepare(self, atoms, template: str | None = None) -> EMTJob:
        from ase.calculators.emt import parameters

        missing = sorted(set(atoms.get_chemical_symbols()) - set(parameters))
        if missing:
            raise DFTSetupError(f"element {', '.join(missing)} has no parameters in the ASE EMT set "
                                f"(it has {', '.join(sorted(parameters))})")
        # "record" names what a cached result holds: results cached before forces were stored are recomputed
        canonical = json.dumps({
            "backend": "emt", "record": "energy+forces", "numbers": atoms.get_atomic_numbers().tolist(),
            "positions": [[round(float(x), 10) for x in p] for p in atoms.get_positions()],
            "cell": [[round(float(x), 10) for x in v] for v in atoms.cell.array], "pbc": atoms.pbc.tolist(),
        }, sort_keys=True)
        return EMTJob(sha256(canonical), atoms.copy())

    def stale(self, record: DFTResult) -> str | None:
        """A record computed with another ASE version."""
        if record.code_version == self.code_version:
            return None
        return f"from {record.code_version}, now {self.code_version}"

    def run(self, job: EMTJob, scratch: Path) -> dict:
        from ase.calculators.emt import EMT

        t0 = time.perf_counter()
        atoms = job.atoms
        atoms.calc = EMT()
        energy = float(atoms.get_potential_energy())
        forces = atoms.get_forces().tolist()
        seconds = time.perf_counter() - t0
        return {
            "status": "ok", "energy": energy, "forces": forces, "reason": None, "backend": self.name,
            "input_hash": job.input_hash,
            "scf_converged": None, "scf_steps": None, "walltime_s": round(seconds, 6),
            "code_version": self.code_version,
            "attempts": [{"step": "initial", "status": "ok", "reason": None, "returncode": None,
                          "walltime_s": round(seconds, 6)}],
            "settings": {"functional": "EMT", "template": None}, "_cacheable": True,
        }
