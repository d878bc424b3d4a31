"""DFT settings as data: defaults, per-template defaults, then the user's `dft:` section, merged in that order.

The user section may hold a `templates: {name: {...}}` block whose keys apply to one template only, and
`overrides: {"force_eval/dft/qs/eps_default": 1e-10}` that patch the rendered CP2K tree by path.
"""

from __future__ import annotations

import copy
from typing import Any

from vimpnn.errors import DFTSetupError

# Justified by the convergence tests in docs/dft-validation.md.
DEFAULTS: dict[str, Any] = {
    "backend": "cp2k",                 # cp2k | emt | xtb | fast (xtb for molecules, emt for metals)
    "executable": "cp2k.psmp",
    "mpi_command": "mpirun -np {ranks}",  # used only when mpi_ranks > 1
    "mpi_ranks": 1,
    "omp_threads": 1,
    "jobs": 1,                         # structures run at the same time
    "walltime_s": 3600,                # per structure and attempt
    "max_retries": 3,                  # retry-ladder steps tried after the first attempt
    "cache_dir": ".cache/vimpnn-dft",
    "keep_scratch": False,
    "data_dir": None,                  # CP2K data directory; None: $CP2K_DATA_DIR or /usr/share/cp2k
    "functional": "PBE",
    "basis_set": "DZVP-MOLOPT-SR-GTH",  # metals; molecules (and their files): see TEMPLATE_DEFAULTS
    "potential": "GTH-PBE",
    "basis_file": "BASIS_MOLOPT",
    "potential_file": "GTH_POTENTIALS",
    "element_basis": {},               # {element: {basis_set, basis_file}}: another basis for some elements
    "cutoff": 400,                     # Ry
    # Ry at which an element is converged: a structure made only of listed elements gets the largest of theirs
    # (never more than `cutoff`). Al (3 valence electrons, a soft pseudopotential) at 200 Ry: the fcc cell within
    # 0.001 meV/atom of 600 Ry, Al15 within 0.002 of 300 Ry at half the CPU (docs/dft-validation.md, "Cost");
    # Cu (11, 3d) is 20 meV/atom off at 300 Ry and stays at `cutoff`
    "element_cutoff": {"Al": 200},
    "rel_cutoff": 50,                  # Ry
    "eps_scf": 1.0e-6,
    "max_scf": 50,
    "outer_max_scf": 10,
    "added_mos_per_atom": 2,           # at least 8: empty bands for smearing
    "smear_temperature": 1000.0,       # K, Fermi-Dirac (metals; energies are Mermin free energies)
    "mixing_alpha": 0.2,               # Broyden
    "kpoint_length": 20.0,             # Å: k-grid n_i = ceil(L / |a_i|) of the unscaled cell, rounded up to even
    "kpoints": None,                   # explicit [n1, n2, n3] Monkhorst-Pack grid instead of kpoint_length
    "vacuum": 4.0,                     # Å on each side of the largest (max_scale) non-periodic system
    "max_scale": 1.5,                  # box: dataset holds the reference geometry scaled by this factor
    # finite systems: dataset (one box per curve, for max_scale) | structure (its own extent: 1.36x fewer grid
    # points on AugQM9, but the grid spacing then changes along a curve: H2O moved by 1.46 meV/atom)
    "box": "dataset",
    # OT inputs (molecules): each scaling of a curve starts from its neighbour's converged wavefunction (NH3
    # 19 -> 6 steps; docs/dft-validation.md, "Cost"); off: every structure from CP2K's atomic guess
    "wfn_restart": True,
    "templates": {},
    "overrides": {},
    # xtb backend (tblite; vimpnn/dft/xtb.py); the defaults are tblite's own
    "xtb_method": "GFN2-xTB",          # GFN2-xTB | GFN1-xTB
    "xtb_accuracy": 1.0,
    "xtb_max_iterations": 250,         # SCF cycles; not converged by then = a failed record
    "xtb_temperature": 300.0,          # K, Fermi smearing of the occupations
}

# Molecules and their free atoms (docs/dft-validation.md, "Atomization energies"): D_e of CH4, NH3, H2O, C2H2
# within 3 kcal/mol of PBE's own (all-electron) values (-0.5, -2.8, -1.2, -0.5), where the level before missed
# by up to 10.
# - GTH-NLCC-PBE (Willand et al. 2013, core-corrected): GTH-PBE without a core correction underbinds NH3, H2O
#   and C2H2 by 7-10 kcal/mol whatever the basis (the free atoms' spin polarisation).
# - TZV2P-MOLOPT-PBE-GTH (BASIS_MOLOPT_UZH; KINDs get its `-q<N>` names) for C, N, O, F: the 2007
#   DZVP-MOLOPT-GTH put the free C atom 1.35 eV too high (~30 kcal/mol per C overbinding).
# - H from ccGRB-T (BASIS_ccGRB_UZH): every MOLOPT set is 1.4 mHa above the basis limit for the free H atom (its
#   most diffuse s exponent, 0.14, is optimised for bonded H), which overbound D_e by ~0.9 kcal/mol per H;
#   ccGRB-T is within 0.08 mHa and has as many functions (3s2p1d).
# 400 Ry: 600 moves these molecules and atoms by under 2 µHa. Same cost per molecule as the level before.
TEMPLATE_DEFAULTS: dict[str, dict[str, Any]] = {
    # EPS_SCF 1e-5: the OT energy is converged to ~1e-9 Ha once the orbital gradient is below 1e-5 (the error is
    # second order in it); 1e-6 costs ~20% more steps for nothing measurable (docs/dft-validation.md, "Cost")
    "molecule": {"basis_set": "TZV2P-MOLOPT-PBE-GTH", "basis_file": "BASIS_MOLOPT_UZH",
                 "element_basis": {"H": {"basis_set": "ccGRB-T", "basis_file": "BASIS_ccGRB_UZH"}},
                 "potential": "GTH-NLCC-PBE", "potential_file": "NLCC_POTENTIALS", "eps_scf": 1.0e-5},
    # Broyden ALPHA 0.4: Al15 / Cu15 in 20 / 24 steps instead of 26 / 32, the same energy to 0.01 meV/atom
    # (docs/dft-validation.md, "Cost"); the retry ladder's smaller_mixing rung halves it back to 0.2
    # EPS_SCF 1e-5 (a Broyden density at 1e-5 gives the energy to ~0.1 meV/atom): Al15 -0.06 meV/atom, 1.2x less
    # CPU. The vacuum stays at 4 Å: 3 Å moves Al15 by only 0.15 meV/atom but Cu15 by 4.8 (docs/dft-validation.md,
    # "Cost")
    "metal_cluster": {"max_scf": 100, "mixing_alpha": 0.4, "eps_scf": 1.0e-5},
    "bulk_metal": {"max_scf": 100},
}

BASIS_KEYS = {"basis_set", "basis_file", "element_basis"}

# `dft.backend` values; the schema's enum (workflow/schemas/config.schema.yaml) lists the same
BACKENDS = ("cp2k", "emt", "xtb", "fast")


def merge(base: dict, update: dict) -> dict:
    """Recursive dict update returning a new dict (nested mappings are merged, everything else replaced)."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve(user: dict | None = None) -> dict:
    """Validate the user's `dft:` section and return it merged over the defaults (template layers not applied).

    The `dft` section of the workflow's config schema decides what is valid (unknown keys, types, ranges, each
    template's keys): a typo must not silently fall back to a default, a negative cutoff must not reach CP2K.
    """
    from vimpnn.validation import check

    user = dict(user or {})
    check(user, "dft settings", section="dft", error=DFTSetupError)
    return merge(DEFAULTS, user) | {"_user": user}


def for_template(settings: dict, template: str) -> dict:
    """What one template sees: defaults -> template defaults -> user keys -> user `templates.<name>` keys."""
    user = settings["_user"]
    common = {k: v for k, v in user.items() if k != "templates"}
    layers = [DEFAULTS, TEMPLATE_DEFAULTS[template], common, user.get("templates", {}).get(template, {})]
    out = DEFAULTS
    for layer in layers[1:]:
        out = merge(out, layer)
    # the basis is chosen as a whole: the last layer that names any of basis_set, basis_file or element_basis
    # decides the per-element sets too (none named there: none), so another basis_set never keeps an old H set
    chosen = next(la for la in reversed(layers) if BASIS_KEYS & la.keys())
    out["element_basis"] = copy.deepcopy(chosen.get("element_basis", {}))
    return out | {"_user": user}


def structure_cutoff(settings: dict, elements) -> float:
    """The CUTOFF for a structure of these elements: `cutoff`, or the largest of their `element_cutoff` values
    when every element has one (a 400 Ry grid buys an Al cluster nothing over 200 Ry), never above `cutoff`."""
    per_element = settings.get("element_cutoff") or {}
    cutoff = float(settings["cutoff"])
    if elements and all(e in per_element for e in elements):
        return min(cutoff, max(float(per_element[e]) for e in elements))
    return cutoff


def load_settings(path: str | None) -> dict:
    """The `dft:` section from a YAML file that holds either the section itself or a whole project config."""
    if path is None:
        return {}
    from vimpnn.config import load_config

    from vimpnn.validation import check

    config = load_config(path, what="dft settings file")
    if "dft" in config:  # a whole project config: every section is checked
        check(config, str(path))
        return config["dft"]
    check(config, str(path), section="dft")
    return config
