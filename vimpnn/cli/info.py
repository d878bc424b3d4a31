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
    if a.provenance is not None:
        _levels(a)
    elif a.attrs.get("dft_settings"):
        print(_wrap("dft_settings", _pairs(a.attrs["dft_settings"])))
    refs = a.attrs.get("reference_energies") or {}
    if refs.get("energies") or refs.get("failed"):
        energies = sorted(refs.get("energies", {}).items(), key=lambda kv: atomic_numbers.get(kv[0], 0))
        cells = [f"{el} {e:.4f}" for el, e in energies] + [f"{el} failed" for el in sorted(refs.get("failed") or {})]
        print(textwrap.fill(", ".join(cells), width=WIDTH, initial_indent="  ref. atoms    ",
                            subsequent_indent=" " * 16) + (f" eV ({refs['backend']})" if refs.get("backend") else " eV"))
        mismatch = reference_level_mismatch(a)
        if mismatch:
            print(f"  note          reference atoms at other settings: {'; '.join(mismatch)}")
    _curve_check(a)
    imported = a.attrs.get("import")
    if imported:
        print(f"  imported from {imported.get('file')} ({imported.get('bonds')}; {imported.get('splits')})")
    return 0


def _curve_check(a) -> None:
    """How far the energies lie from smooth curves in the scaling (vimpnn.data.curves)."""
    from vimpnn.data import curves

    found = curves.check(a)
    if found.curves == 0:
        return
    worst = int(np.nanargmax(found.deviation))
    label = (lambda i: str(a.system_id[i])) if a.system_id is not None else (lambda i: f"system {i}")
    flagged = ", ".join(label(i) for i in found.outliers[:5])
    print(f"  curve check   {found.curves} curves: largest deviation from the cubic through the neighbours "
          f"{found.deviation[worst]:.4f} eV/atom ({label(worst)}); " + (f"{len(found.outliers)} off their curve by > "
          f"{curves.THRESHOLD_EV_PER_ATOM} eV/atom (another SCF state?): {flagged}" if found.outliers
          else "none off its curve"))


def _pairs(settings: dict) -> str:
    return " ".join(f"{k}={json.dumps(v) if isinstance(v, (list, dict)) else v}" for k, v in sorted(settings.items()))


def _wrap(label: str, text: str) -> str:
    return textwrap.fill(text, width=WIDTH, initial_indent=f"  {label:<13} ", subsequent_indent=" " * 16)


def _levels(a) -> None:
    """Per-system provenance in a few lines: settings block 0 in full, every other block as its differences."""
    from vimpnn.data.hdf5 import settings_sha256

    prov = a.provenance
    counts = np.bincount(prov.settings_index, minlength=len(prov.settings))
    blocks = [json.loads(t) for t in prov.settings]
    base = {"backend": blocks[0]["backend"], **blocks[0]["settings"]}
    for k, (block, text) in enumerate(zip(blocks, prov.settings)):
        flat = {"backend": block["backend"], **block["settings"]}
        shown = flat if k == 0 else {key: flat.get(key) for key in sorted(set(flat) | set(base))
                                     if flat.get(key) != base.get(key)}
        head = f"{counts[k]} systems, sha256 {settings_sha256(text)[:12]}" + ("" if k == 0 else "; differs from 0 in")
        print(_wrap(f"settings {k}", f"({head}) {_pairs(shown)}"))
    steps, n = np.unique(prov.ladder_step.astype(str), return_counts=True)
    print("  ladder step   " + ", ".join(f"{step or 'not recorded'} {c}" for step, c in zip(steps, n)))
    scf = prov.scf_steps[prov.scf_steps >= 0]
    if len(scf):
        print(f"  scf steps     {scf.min()} .. {scf.max()} (median {np.median(scf):g})")
    wall = prov.walltime_s[np.isfinite(prov.walltime_s)]
    if len(wall):
        print(f"  wall time     {wall.sum():.1f} s in all, {wall.max():.1f} s at most")
    flagged = int(a.state_changed.sum())
    print(f"  state changed {flagged} of {len(a)} systems (energy from a smearing rung of the retry ladder; "
          "left out of training by default)")
