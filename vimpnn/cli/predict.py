"""`vimpnn predict`: energies and per-atom contributions of a trained run for structures in a file.

Input: a dataset HDF5 file (all systems or one split), or structures in any file ASE reads (extxyz, ASE db);
their bonds come from the file or are perceived on each frame's reference geometry (docs/exchange.md).
Output by suffix: `.extxyz`/`.xyz` (info `energy_pred` [and `energy_ref`], per-atom array
`energy_contribution`), or `.csv` (one row per system) plus `<stem>_atoms.csv` (one row per atom).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from vimpnn.errors import InputFormatError
from vimpnn.outputs import atomic_output

SYSTEM_COLUMNS = ("index", "system_id", "formula", "n_atoms", "scale", "energy_ref", "energy_pred")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, help="run directory of `vimpnn train` (reads best.pt)")
    parser.add_argument("--in", dest="inp", required=True, help="dataset HDF5 file, or structures (extxyz, .db, ...)")
    parser.add_argument("--out", required=True, help="output .extxyz / .xyz or .csv")
    parser.add_argument("--split", choices=("train", "val", "test"), help="HDF5 input: only this split")
    parser.add_argument("--energy-key", help="structures input: reference energy key to copy beside the prediction")
    parser.add_argument("--scale-key", help="structures input: scaling key for bond perception (see `vimpnn import`)")
    parser.add_argument("--batch-size", type=int, default=64, help="systems per inference batch")
    parser.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, ...")


def load_systems(args: argparse.Namespace):
    """(SystemArrays, indices of the systems to predict) from an HDF5 dataset or a structures file."""
    import h5py

    from vimpnn.data.hdf5 import read_dataset

    path = Path(args.inp)
    if path.is_file() and h5py.is_hdf5(path):
        arrays = read_dataset(path)
        index = np.arange(len(arrays)) if args.split is None else np.asarray(arrays.splits.get(args.split, []))
        if len(index) == 0:
            raise InputFormatError(f"{path}: split {args.split!r} holds no systems")
        return arrays, index
    if args.split:
        raise InputFormatError(f"{path}: --split needs an HDF5 dataset file")
    from vimpnn.data.exchange import import_frames, read_frames

    frames, metadata = read_frames(path)
    arrays = import_frames(frames, str(path), energy_key=args.energy_key, scale_key=args.scale_key,
                           split_key=None, metadata=metadata)
    return arrays, np.arange(len(arrays))


def run(args: argparse.Namespace) -> int:
    from vimpnn.cli.evaluate import check_elements, formula
    from vimpnn.training import load_model, predict
    from vimpnn.training.checkpoint import graph_dataset
    from vimpnn.training.trainer import resolve_device

    out = Path(args.out)
    if out.suffix not in (".extxyz", ".xyz", ".csv"):
        raise InputFormatError(f"--out {out}: use a .extxyz, .xyz or .csv file name")
    model, ckpt = load_model(Path(args.run) / "best.pt")
    arrays, index = load_systems(args)
    known = {int(z) for z in model.elements}
    unknown = sorted({int(z) for z in np.unique(arrays.numbers)} - known)
    if unknown:
        raise InputFormatError(f"{args.inp}: atomic numbers {unknown} are not among the model's elements {sorted(known)}")
    subset = arrays.subset(index)
    check_elements(subset.numbers, ckpt, f"{args.inp}" + (f": split {args.split!r}" if args.split else ""), str(args.run))
    device = resolve_device(args.device)
    energy, contrib = predict(model.to(device), graph_dataset(subset, ckpt), np.arange(len(subset)),
                              args.batch_size, device, per_atom=True)
    if out.suffix == ".csv":
        _write_csv(out, subset, index, energy, contrib, formula)
    else:
        _write_extxyz(out, subset, energy, contrib)
    ref = subset.energy
    mae = f"; MAE vs reference {np.mean(np.abs(energy - ref)):.4f} eV" if np.all(np.isfinite(ref)) else ""
    print(f"predicted {len(subset)} systems ({int(subset.n_atoms.sum())} atoms) with {args.run}{mae} -> {out}")
    return 0


def _write_extxyz(out: Path, subset, energy: np.ndarray, contrib: np.ndarray) -> None:
    from ase.io import write

    frames = []
    for i in range(len(subset)):
        atoms = subset.atoms(i)
        atoms.calc = None
        atoms.info["energy_pred"] = float(energy[i])
        if np.isfinite(subset.energy[i]):
            atoms.info["energy_ref"] = float(subset.energy[i])
        atoms.arrays["energy_contribution"] = contrib[subset.atom_slice(i)].astype(np.float64)
        frames.append(atoms)
    with atomic_output(out) as tmp:
        write(tmp, frames, format="extxyz")


def _write_csv(out: Path, subset, index: np.ndarray, energy: np.ndarray, contrib: np.ndarray, formula) -> None:
    atoms_out = out.with_name(out.stem + "_atoms.csv")
    with (atomic_output(out) as tmp, atomic_output(atoms_out) as tmp_atoms,  # both files or neither
          open(tmp, "w", newline="") as fh, open(tmp_atoms, "w", newline="") as fa):
        systems, atoms = csv.writer(fh), csv.writer(fa)
        systems.writerow(SYSTEM_COLUMNS)
        atoms.writerow(("index", "atom", "Z", "x", "y", "z", "energy_contribution"))
        for k, i in enumerate(index):
            sl = subset.atom_slice(k)
            ref = subset.energy[k]
            systems.writerow([int(i), subset.system_id[k], formula(subset.numbers[sl]), int(subset.n_atoms[k]),
                              float(subset.scale[k]), float(ref) if np.isfinite(ref) else "", float(energy[k])])
            for a, (z, xyz, e) in enumerate(zip(subset.numbers[sl], subset.positions[sl], contrib[sl])):
                atoms.writerow([int(i), a, int(z), *map(float, xyz), float(e)])
