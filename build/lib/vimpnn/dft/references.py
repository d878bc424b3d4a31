"""Isolated-atom reference energies with the same settings as the data, for atomization energies.

Every free atom runs through the `molecule` template (OT: integer occupations, UKS in its ground-state
multiplicity): with Fermi-Dirac smearing over its degenerate d shell the free Cu atom did not converge in 200
SCF steps, with OT it does. Al and Cu keep the basis set their clusters and crystals use.
"""

from __future__ import annotations

from typing import Sequence

from vimpnn.dft.result import DFTResult
from vimpnn.dft.settings import for_template, merge, resolve
from vimpnn.dft.templates import METALS


def isolated_atoms(elements: Sequence[str]) -> list:
    """One free atom per element in a non-periodic box (ground-state spin: see templates.ATOM_MULTIPLICITY)."""
    from ase import Atoms

    return [Atoms(e, positions=[[0.0, 0.0, 0.0]], pbc=False, info={"system_id": f"atom-{e}", "scale": 1.0})
            for e in elements]


def reference_energies(elements: Sequence[str], settings: dict | None = None, **kwargs) -> dict[str, DFTResult]:
    """element -> DFTResult of its isolated atom (kwargs as for `compute`)."""
    from vimpnn.dft.engine import compute

    settings = dict(settings or {})
    out: dict[str, DFTResult] = {}
    metals = [e for e in elements if e in METALS]
    others = [e for e in elements if e not in METALS]
    if others:
        out.update(zip(others, compute(isolated_atoms(others), settings, template="molecule", **kwargs)))
    if metals:
        metal_basis = for_template(resolve(settings), "metal_cluster")["basis_set"]
        as_metal = merge(settings, {"templates": {"molecule": {"basis_set": metal_basis}}})
        out.update(zip(metals, compute(isolated_atoms(metals), as_metal, template="molecule", **kwargs)))
    return {e: out[e] for e in elements}
