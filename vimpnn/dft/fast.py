"""`dft.backend: fast`, the fast level of one config: GFN-xTB (tblite) for molecules, ASE EMT for the metals.

Each structure goes by its own kind (`templates.choose_template`, whatever template the caller asks for):
a finite system without Al or Cu -> xTB; a periodic cell or anything holding Al or Cu -> EMT. So QM9 molecules
and the free H/C/N/O/F atoms of their references run xTB, crystals, clusters and the free Al/Cu atoms run EMT,
and every record names the backend that computed it. Each dataset is one kind, so each file stays one backend
(pack refuses a file that mixes them).
"""

from __future__ import annotations

from pathlib import Path

from vimpnn.dft.emt import EMTBackend, EMTJob
from vimpnn.dft.result import DFTResult
from vimpnn.dft.templates import choose_template
from vimpnn.dft.xtb import XTBBackend


class FastBackend:
    name = "fast"

    def __init__(self, settings: dict):
        self.xtb = XTBBackend(settings)
        self.emt = EMTBackend(settings)

    def prepare(self, atoms, template: str | None = None):
        backend = self.xtb if choose_template(atoms) == "molecule" else self.emt
        return backend.prepare(atoms, template)

    def stale(self, record: DFTResult) -> str | None:
        return (self.emt if record.backend == "emt" else self.xtb).stale(record)

    def run(self, job, scratch: Path) -> dict:
        return (self.emt if isinstance(job, EMTJob) else self.xtb).run(job, scratch)

    def close(self) -> None:
        self.xtb.close()
