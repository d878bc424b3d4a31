"""`vimpnn validate-dft`: physics checks of the DFT settings against published PBE numbers.

`--element Al|Cu`, fcc one-atom primitive cells: `--scan lattice` (default) fits Birch-Murnaghan (ASE
EquationOfState) to energies over lattice constants, a0 in Å and B in GPa, curve as PNG; `--scan cutoff` /
`--scan kgrid`: energy per atom vs CUTOFF (Ry) or an n x n x n k-grid, as differences from the last value.
`--atomization`: D_e of small molecules (ASE's G2 geometries) from the molecule and its free atoms at the
molecule level, against PBE's own paper.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

# Atomization energies D_e (no zero-point energy) in kcal/mol with PBE near the basis-set limit: Perdew, Burke,
# Ernzerhof, Phys. Rev. Lett. 77, 3865 (1996), Table I.
PBE_ATOMIZATION_KCAL = {"CH4": 419.8, "NH3": 301.7, "H2O": 234.2, "C2H2": 414.9}

def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--element", choices=("Al", "Cu"), help="fcc lattice / cutoff / k-grid checks")
    which.add_argument("--atomization", action="store_true",
                       help="atomization energies of small molecules against published PBE values")
    parser.add_argument("--molecules", default=",".join(PBE_ATOMIZATION_KCAL),
                        help=f"--atomization: comma-separated, from {', '.join(PBE_ATOMIZATION_KCAL)}")
    parser.add_argument("--scan", choices=("lattice", "cutoff", "kgrid"), default="lattice")
    parser.add_argument("--points", type=int, default=11, help="lattice scan: number of lattice constants")
    parser.add_argument("--range", type=float, nargs=2, default=(0.95, 1.05), metavar=("LO", "HI"),
                        help="lattice scan: factors of the reference lattice constant")
    parser.add_argument("--values", help="cutoff / kgrid scan: comma-separated CUTOFF (Ry) or grid sizes")
    parser.add_argument("--settings", help="YAML file with the dft: section of the project config")
    parser.add_argument("--backend", choices=("cp2k", "emt"), default="cp2k")
    parser.add_argument("--cache", help="cache directory (overrides dft.cache_dir)")
    parser.add_argument("--plot", help="lattice scan: PNG of the fitted curve (default validate-dft-<El>.png)")
    parser.add_argument("--json", help="write the numbers as JSON here")


def _cell(element: str, factor: float, a_ref: float):
    from vimpnn.structures.crystals import fcc_cell

    atoms = fcc_cell(element, factor * a_ref)
    atoms.info.update(system_id=f"validate-{element}-{factor:.4f}", scale=factor)
    return atoms


def _energy(results) -> list[float]:
    from vimpnn.errors import VimpnnError

    bad = [f"{r.system_id}: {r.reason}" for r in results if r.status != "ok"]
    if bad:
        raise VimpnnError("validation calculation failed: " + "; ".join(bad))
    return [r.energy for r in results]


def lattice_scan(args, settings: dict) -> dict:
    from ase.eos import EquationOfState
    from ase.units import kJ

    from vimpnn.dft import compute
    from vimpnn.structures.crystals import REFERENCE_LATTICE_CONSTANTS

    a_ref = REFERENCE_LATTICE_CONSTANTS[args.element]
    factors = np.linspace(*args.range, args.points)
    cells = [_cell(args.element, f, a_ref) for f in factors]
    energies = _energy(compute(cells, settings, backend=args.backend, cache_dir=args.cache))
    volumes = [c.get_volume() / len(c) for c in cells]
    eos = EquationOfState(volumes, energies, eos="birchmurnaghan")
    v0, e0, bulk = eos.fit()
    from vimpnn.extras import require

    require("matplotlib", "the lattice-scan plot").use("Agg")
    plot = args.plot or f"validate-dft-{args.element}.png"
    eos.plot(plot, show=False)
    a0 = (4 * v0) ** (1 / 3)
    print(f"{args.element}: a0 = {a0:.4f} Å, B = {bulk / kJ * 1e24:.1f} GPa, E0 = {e0:.6f} eV/atom "
          f"({args.points} points, a = {factors[0] * a_ref:.3f}-{factors[-1] * a_ref:.3f} Å); curve: {plot}")
    return {"element": args.element, "a0_A": a0, "B_GPa": bulk / kJ * 1e24, "E0_eV": e0,
            "lattice_constants_A": list(factors * a_ref), "energies_eV": energies}


def convergence_scan(args, settings: dict) -> dict:
    from vimpnn.dft import compute
    from vimpnn.errors import InputFormatError
    from vimpnn.structures.crystals import REFERENCE_LATTICE_CONSTANTS

    values = [float(v) if args.scan == "cutoff" else int(v) for v in (args.values or "").split(",") if v]
    if len(values) < 2:
        raise InputFormatError(f"validate-dft --scan {args.scan}: --values needs two or more comma-separated numbers")
    cell = _cell(args.element, 1.0, REFERENCE_LATTICE_CONSTANTS[args.element])
    key = "cutoff" if args.scan == "cutoff" else "kpoints"
    energies = []
    for v in values:
        override = {"cutoff": v, "element_cutoff": {args.element: v}} if key == "cutoff" else {key: [v, v, v]}
        energies += _energy(compute([cell], {**settings, **override}, backend=args.backend, cache_dir=args.cache))
    ref = energies[-1]
    print(f"{args.element} {args.scan} scan at a = {REFERENCE_LATTICE_CONSTANTS[args.element]} Å "
          f"(differences from the last value, meV/atom):")
    for v, e in zip(values, energies):
        print(f"  {args.scan} {v:>6g}: E = {e:.6f} eV/atom, dE = {1000 * (e - ref):+9.4f} meV/atom")
    return {"element": args.element, "scan": args.scan, "values": values, "energies_eV": energies}


def atomization(args, settings: dict) -> dict:
    """D_e = sum of free-atom energies - molecule energy, both at the molecule level, vs PBE's Table I."""
    from ase.build import molecule
    from ase.units import kcal, mol

    from vimpnn.dft import compute, reference_energies
    from vimpnn.dft.settings import for_template, resolve
    from vimpnn.errors import InputFormatError

    names = [n.strip() for n in args.molecules.split(",") if n.strip()]
    unknown = [n for n in names if n not in PBE_ATOMIZATION_KCAL]
    if unknown or not names:
        raise InputFormatError(f"validate-dft --molecules {args.molecules!r}: choose from "
                               f"{', '.join(PBE_ATOMIZATION_KCAL)}")
    molecules = []
    for name in names:
        atoms = molecule(name)
        atoms.info.update(system_id=f"validate-{name}", scale=1.0)
        molecules.append(atoms)
    elements = sorted({e for m in molecules for e in m.get_chemical_symbols()})
    kwargs = {"backend": args.backend, "cache_dir": args.cache}
    refs = reference_energies(elements, settings, "molecule", **kwargs)
    e_atoms = dict(zip(elements, _energy(list(refs.values()))))
    mols = compute(molecules, settings, template="molecule", **kwargs)
    files = {k: for_template(resolve(settings), "molecule")[k] for k in ("basis_file", "potential_file")}
    level = {**mols[0].settings, **files}
    per_element = "".join(f", {e} {b['basis_set']} ({b['basis_file']})"
                          for e, b in sorted((level.get("element_basis") or {}).items()))
    print(f"atomization energies D_e (kcal/mol), {mols[0].code_version}: {level.get('functional')}, "
          f"{level.get('basis_set')} ({files['basis_file']}){per_element} / {level.get('potential')} "
          f"({files['potential_file']}), "
          f"cutoff {level.get('cutoff')} / {level.get('rel_cutoff')} Ry, vacuum {level.get('vacuum')} Å, "
          f"max_scale {level.get('max_scale')}, eps_scf {level.get('eps_scf')} (atoms 10x); "
          "free atoms UKS, ground-state multiplicity, integer occupations (OT)")
    print(f"  {'molecule':8s} {'D_e':>8s} {'PBE':>8s} {'diff':>7s}")
    rows = []
    for name, atoms, energy in zip(names, molecules, _energy(mols)):
        de = (sum(e_atoms[e] for e in atoms.get_chemical_symbols()) - energy) / (kcal / mol)
        pbe = PBE_ATOMIZATION_KCAL[name]
        rows.append({"molecule": name, "De_kcal_mol": de, "pbe_kcal_mol": pbe, "diff_kcal_mol": de - pbe,
                     "energy_eV": energy})
        print(f"  {name:8s} {de:8.1f} {pbe:8.1f} {de - pbe:+7.1f}")
    return {"atomization": rows, "atom_energies_eV": e_atoms, "settings": level,
            "reference": "Perdew, Burke, Ernzerhof, PRL 77, 3865 (1996), Table I"}


def run(args: argparse.Namespace) -> int:
    from vimpnn.dft import load_settings

    settings = load_settings(args.settings)
    if args.atomization:
        doc = atomization(args, settings)
    elif args.scan == "lattice":
        doc = lattice_scan(args, settings)
    else:
        doc = convergence_scan(args, settings)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(doc, fh, indent=1)
    return 0
