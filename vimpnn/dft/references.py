"""Isolated-atom reference energies at a dataset's own level of theory, for atomization energies.

A dataset's atoms take every setting of the dataset's template (basis, cutoff, vacuum, box rule, functional,
convergence, its `templates.<name>` keys and `overrides`): growth clusters at 250 Ry / 3 Å give atoms at
250 Ry / 3 Å. The CP2K input itself is always the `molecule` template (OT: integer occupations, UKS in the
ground-state multiplicity of `templates.ATOM_MULTIPLICITY`): with Fermi-Dirac smearing over its degenerate d
shell the free Cu atom did not converge in 200 SCF steps, and a smeared (fractionally occupied) free atom is
not its ground state.
"""

from __future__ import annotations

from typing import Sequence

from vimpnn.dft.result import DFTResult
from vimpnn.dft.settings import DEFAULTS, for_template, merge, resolve
from vimpnn.dft.templates import choose_template
from vimpnn.errors import InputFormatError


def isolated_atoms(elements: Sequence[str]) -> list:
    """One free atom per element in a non-periodic box (ground-state spin: see templates.ATOM_MULTIPLICITY)."""
    from ase import Atoms

    return [Atoms(e, positions=[[0.0, 0.0, 0.0]], pbc=False, info={"system_id": f"atom-{e}", "scale": 1.0})
            for e in elements]


def level_of(structures: Sequence, where: str) -> str:
    """The one template (level of theory) of a dataset's structures; raise naming the file when they mix."""
    levels = sorted({choose_template(atoms) for atoms in structures})
    if len(levels) != 1:
        raise InputFormatError(f"{where}: structures of templates {', '.join(levels) or '(none)'}; "
                               "one reference set needs one template: split the file")
    return levels[0]


# A free C atom's OT SCF reaches an orbital-gradient floor of ~3e-6 (the rotation among its degenerate p
# orbitals is nearly flat): 171 steps (C, DZVP-MOLOPT-GTH) or 181 unconverged (C, DZVP-MOLOPT-PBE-GTH) against
# EPS_SCF 1e-6; at 1e-5 it stops after ~20 steps, 6e-9 Ha (2e-7 eV) from the plateau (docs/dft-validation.md).
ATOM_EPS_SCF_FACTOR = 10.0


def atom_settings(settings: dict | None, level: str) -> dict:
    """User settings under which the `molecule` template renders a free atom at `level`'s settings."""
    resolved = resolve(settings)
    at_level, as_molecule = for_template(resolved, level), for_template(resolved, "molecule")
    layer = {k: v for k, v in at_level.items() if k in DEFAULTS and k != "templates" and v != as_molecule[k]}
    layer["eps_scf"] = ATOM_EPS_SCF_FACTOR * float(at_level["eps_scf"])
    return merge(dict(settings or {}), {"templates": {"molecule": layer}})


def reference_energies(elements: Sequence[str], settings: dict | None = None, level: str | None = None,
                       **kwargs) -> dict[str, DFTResult]:
    """element -> DFTResult of its isolated atom (kwargs as for `compute`).

    `level`: the template whose settings all atoms take (a dataset's own); None: each atom its own kind's
    (`choose_template`: Al/Cu at the metal-cluster level, H/C/N/O at the molecule level).
    """
    from vimpnn.dft.engine import compute

    atoms = isolated_atoms(elements)
    by_level: dict[str, list[int]] = {}
    for k, a in enumerate(atoms):
        by_level.setdefault(level or choose_template(a), []).append(k)
    out: dict[str, DFTResult] = {}
    for lvl, ks in by_level.items():
        results = compute([atoms[k] for k in ks], atom_settings(settings, lvl), template="molecule", **kwargs)
        out.update((elements[k], r) for k, r in zip(ks, results))
    return {e: out[e] for e in elements}
