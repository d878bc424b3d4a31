"""`vimpnn validate-dft`: physics checks of the DFT settings on fcc Al / Cu (one-atom primitive cells).

`--scan lattice` (default): energies over lattice constants around the reference value, Birch-Murnaghan fit
(ASE EquationOfState), a0 in Å and B in GPa, curve as PNG.
`--scan cutoff` / `--scan kgrid`: energy per atom vs CUTOFF (Ry) or vs an n x n x n k-grid at the reference
lattice constant, as differences from the last (most converged) value in meV/atom.
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--element", required=True, choices=("Al", "Cu"))
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
        override = {key: v if key == "cutoff" else [v, v, v]}
        energies += _energy(compute([cell], {**settings, **override}, backend=args.backend, cache_dir=args.cache))
    ref = energies[-1]
    print(f"{args.element} {args.scan} scan at a = {REFERENCE_LATTICE_CONSTANTS[args.element]} Å "
          f"(differences from the last value, meV/atom):")
    for v, e in zip(values, energies):
        print(f"  {args.scan} {v:>6g}: E = {e:.6f} eV/atom, dE = {1000 * (e - ref):+9.4f} meV/atom")
    return {"element": args.element, "scan": args.scan, "values": values, "energies_eV": energies}


def run(args: argparse.Namespace) -> int:
    from vimpnn.dft import load_settings

    settings = load_settings(args.settings)
    doc = lattice_scan(args, settings) if args.scan == "lattice" else convergence_scan(args, settings)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(doc, fh, indent=1)
    return 0
