"""What a CP2K output file says: total energy (eV), SCF convergence and steps, version, how the run ended."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ase.units import Hartree

_ENERGY = re.compile(r"ENERGY\| Total FORCE_EVAL \( QS \) energy \[(?:a\.u\.|hartree)\]:\s+(\S+)")
_SCF_OK = re.compile(r"\*\*\* SCF run converged in\s+(\d+) steps \*\*\*")
_SCF_BAD = re.compile(r"SCF run NOT converged")
_OUTER = re.compile(r"outer SCF loop converged in\s+\d+ iterations or\s+(\d+) steps")
_STEP = re.compile(r"^\s+\d+\s+(?:OT|P_Mix|Broy|Pulay|Diag|Kerker|No)\S*\s", re.MULTILINE)
_VERSION = re.compile(r"CP2K\| version string:\s+(.+?)\s*$", re.MULTILINE)
_ENDED = "PROGRAM ENDED AT"
_WALLTIME = "exceeded requested execution time"


@dataclass(frozen=True)
class ParsedOutput:
    energy_ev: float | None
    scf_converged: bool | None
    scf_steps: int | None
    code_version: str | None
    ended: bool
    walltime_exceeded: bool


def parse_output(text: str) -> ParsedOutput:
    """Parse one CP2K output. `scf_converged` is None when no SCF started (crash during setup)."""
    energies = _ENERGY.findall(text)
    energy = float(energies[-1]) * Hartree if energies else None
    outer = _OUTER.findall(text)
    inner = _SCF_OK.findall(text)
    steps = int(outer[-1]) if outer else int(inner[-1]) if inner else (len(_STEP.findall(text)) or None)
    if "outer SCF loop FAILED" in text:
        converged = False
    elif outer:
        converged = True
    elif _SCF_BAD.search(text):
        converged = False
    elif inner:
        converged = True
    else:
        converged = False if steps else None
    version = _VERSION.search(text)
    return ParsedOutput(
        energy_ev=energy,
        scf_converged=converged,
        scf_steps=steps,
        code_version=version.group(1) if version else None,
        ended=_ENDED in text,
        walltime_exceeded=_WALLTIME in text,
    )
