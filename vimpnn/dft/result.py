"""The DFT result record of docs/architecture.md ("DFT results"), one JSON line per structure."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace


@dataclass
class DFTResult:
    system_id: str
    status: str                      # "ok" | "failed"
    energy: float | None             # eV; None whenever status is "failed"
    reason: str | None               # None when ok
    backend: str                     # "cp2k" | "emt" | "xtb"
    input_hash: str
    scf_converged: bool | None
    scf_steps: int | None
    walltime_s: float
    code_version: str | None
    attempts: list[dict]
    settings: dict
    forces: list | None = None       # eV/Å, (n_atoms, 3), -dE/dR; None when the backend gives none (CP2K energy runs)
    cached: bool = field(default=False, compare=False)   # served from the cache in this run (not written)

    def __post_init__(self) -> None:
        if self.status == "ok" and (self.energy is None or not math.isfinite(self.energy)):
            raise ValueError(f"{self.system_id}: an ok result needs a finite energy")
        if self.status == "failed" and (self.energy is not None or self.forces is not None):
            raise ValueError(f"{self.system_id}: a failed result must not carry an energy or forces")

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("cached")
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict, **changes) -> "DFTResult":
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d and k != "cached"}
        return replace(cls(**known), **changes)
