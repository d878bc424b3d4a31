"""`vimpnn dft-refs`: isolated-atom reference energies (eV) at a dataset's level of theory, as JSON.

With `--structures` the atoms take the settings of the template those structures run with (one template per
file); with `--elements`, of `--level`, else each atom its own kind's (docs/dft.md, "Reference atoms").
"""

from __future__ import annotations

import argparse
import json

from vimpnn.errors import InputFormatError
from vimpnn.outputs import atomic_output

from vimpnn.dft.settings import BACKENDS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--elements", help="comma-separated symbols, e.g. H,C,N,O")
    which.add_argument("--structures", help="the elements present in this structures file (extended XYZ)")
    parser.add_argument("--level", choices=("molecule", "metal_cluster", "bulk_metal"),
                        help="with --elements: the template whose settings the atoms take (default: each atom's own)")
    parser.add_argument("--settings", help="YAML file with the dft: section of the project config")
    parser.add_argument("--backend", choices=BACKENDS, help="overrides dft.backend (docs/dft.md)")
    parser.add_argument("--cache", help="cache directory (overrides dft.cache_dir)")
    parser.add_argument("--out", required=True, help="output JSON: energies {element: eV}, failed {element: reason}, provenance")


def run(args: argparse.Namespace) -> int:
    from vimpnn.dft import load_settings, reference_energies

    elements, level = _elements_and_level(args)
    results = reference_energies(elements, load_settings(args.settings), level, backend=args.backend,
                                 cache_dir=args.cache)
    # A failed atom is recorded with its reason (never a made-up energy); the dataset stays usable.
    failed = {e: r.reason for e, r in results.items() if r.status != "ok"}
    doc = {
        "unit": "eV",
        "energies": {e: r.energy for e, r in results.items() if r.status == "ok"},
        "failed": failed,
        "backend": " + ".join(sorted({r.backend for r in results.values()})),  # `fast`: xtb + emt
        "level": level,
        "code_version": " + ".join(sorted({str(r.code_version) for r in results.values()})),
        "results": {e: r.to_dict() for e, r in results.items()},
    }
    with atomic_output(args.out) as tmp:
        tmp.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    for e, r in results.items():
        if r.status == "ok":
            print(f"{e:>2s} {r.energy:.6f} eV ({r.backend}{', cached' if r.cached else ''})")
        else:
            print(f"{e:>2s} FAILED: {r.reason}")
    return 0


def _elements_and_level(args: argparse.Namespace) -> tuple[list[str], str | None]:
    if args.elements:
        elements = [e.strip() for e in args.elements.split(",") if e.strip()]
        if not elements:
            raise InputFormatError(f"--elements {args.elements!r}: no element given")
        return elements, args.level
    if args.level:
        raise InputFormatError("--level goes with --elements; with --structures the structures' template is the level")
    from ase.data import atomic_numbers

    from vimpnn.dft.references import level_of
    from vimpnn.structures.io import read_structures

    structures = read_structures(args.structures)
    present = {s for atoms in structures for s in atoms.get_chemical_symbols()}
    return sorted(present, key=atomic_numbers.get), level_of(structures, args.structures)
