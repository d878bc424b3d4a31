"""`vimpnn info FILE.h5`: what a dataset file holds (counts, splits, energies, provenance)."""

from __future__ import annotations

import argparse
import json
import textwrap

import numpy as np

from vimpnn.data.exchange import reference_level_mismatch
from vimpnn.data.hdf5 import read_dataset

WIDTH = 110

PROVENANCE = ("dataset", "dft_backend", "code_version", "vimpnn_version", "git_commit", "created", "schema_version")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="HDF5 dataset file")


def run(args: argparse.Namespace) -> int:
    a = read_dataset(args.file)
    n_atoms = a.n_atoms
    elements = sorted(set(a.numbers.tolist()))
    from ase.data import atomic_numbers, chemical_symbols

    print(f"{args.file}")
    print(f"  systems       {len(a)} ({len(a.failed)} failed DFT excluded), {len(np.unique(a.group))} groups")
    print(f"  atoms         {int(n_atoms.sum())} ({n_atoms.min()}-{n_atoms.max()} per system), "
          f"elements {' '.join(chemical_symbols[z] for z in elements)}")
    print("  splits        " + ", ".join(f"{k} {len(v)}" for k, v in a.splits.items()))
    print(f"  energy        {a.energy.min():.4f} .. {a.energy.max():.4f} eV "
          f"(per atom {np.min(a.energy / n_atoms):.4f} .. {np.max(a.energy / n_atoms):.4f} eV)")
    print(f"  scale         {a.scale.min():.4f} .. {a.scale.max():.4f}")
    print(f"  bonds         {len(a.bond_type)} (types {np.bincount(a.bond_type, minlength=3).tolist()})")
    if a.forces is not None:
        print(f"  forces        |F| up to {np.linalg.norm(a.forces, axis=1).max():.4f} eV/Å (/atoms/forces)")
    for key in PROVENANCE:
        if key in a.attrs:
            print(f"  {key:<13} {a.attrs[key]}")
    settings = a.attrs.get("dft_settings")
    if settings:
        pairs = " ".join(f"{k}={json.dumps(v) if isinstance(v, (list, dict)) else v}" for k, v in sorted(settings.items()))
        print(textwrap.fill(pairs, width=WIDTH, initial_indent="  dft_settings  ", subsequent_indent=" " * 16))
    refs = a.attrs.get("reference_energies") or {}
    if refs.get("energies") or refs.get("failed"):
        energies = sorted(refs.get("energies", {}).items(), key=lambda kv: atomic_numbers.get(kv[0], 0))
        cells = [f"{el} {e:.4f}" for el, e in energies] + [f"{el} failed" for el in sorted(refs.get("failed") or {})]
        print(textwrap.fill(", ".join(cells), width=WIDTH, initial_indent="  ref. atoms    ",
                            subsequent_indent=" " * 16) + (f" eV ({refs['backend']})" if refs.get("backend") else " eV"))
        mismatch = reference_level_mismatch(a)
        if mismatch:
            print(f"  note          reference atoms at other settings: {'; '.join(mismatch)}")
    imported = a.attrs.get("import")
    if imported:
        print(f"  imported from {imported.get('file')} ({imported.get('bonds')}; {imported.get('splits')})")
    return 0
