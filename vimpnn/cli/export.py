"""`vimpnn export`: a dataset HDF5 file as extended XYZ, an ASE/schnetpack database, or MACE's training files.

Energies (eV, full float64 precision), splits, metadata and bond tables travel with every system; the
isolated-atom reference energies become IsolatedAtom frames (MACE's E0s) or the database's atomrefs.
Conventions: docs/exchange.md.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="dataset HDF5 file (docs/hdf5.md)")
    parser.add_argument("--format", required=True, choices=("extxyz", "ase-db", "mace"),
                        help="extxyz: one file; ase-db: FILE.db (+ FILE_split.npz); mace: a directory with "
                             "train.xyz (with IsolatedAtom frames), valid.xyz, test.xyz")
    parser.add_argument("--out", required=True, help="output file (extxyz, ase-db) or directory (mace)")


def run(args: argparse.Namespace) -> int:
    from vimpnn.data.exchange import EXPORTERS, MACE_ENERGY_KEY, reference_energies, reference_level_mismatch
    from vimpnn.data.hdf5 import read_dataset

    arrays = read_dataset(args.file)
    paths = EXPORTERS[args.format](arrays, args.out)
    refs = reference_energies(arrays)
    print(f"exported {len(arrays)} systems of {args.file} ("
          + ", ".join(f"{k} {len(v)}" for k, v in arrays.splits.items())
          + f"; {len(refs)} isolated-atom energies) to " + ", ".join(map(str, paths)))
    mismatch = reference_level_mismatch(arrays)
    if mismatch:
        print(f"note: the isolated-atom energies were computed at other settings than the systems "
              f"({'; '.join(mismatch)}): they are not E0s at the dataset's level of theory"
              + (", so the MACE files leave them out" if args.format == "mace" else ""))
    if args.format == "mace":
        files = {p.name: p for p in paths}
        cmd = [f"mace_run_train --name vimpnn_{arrays.attrs.get('dataset', 'data')}",
               f"--train_file {files['train.xyz']}", f"--energy_key {MACE_ENERGY_KEY}"]
        cmd += [f"--valid_file {files['valid.xyz']}"] if "valid.xyz" in files else ["--valid_fraction 0.1"]
        cmd += [f"--test_file {files['test.xyz']}"] if "test.xyz" in files else []
        cmd += [] if refs and not mismatch else ["--E0s average"]
        print("train MACE on it (energies only, no forces in these files): " + " ".join(cmd))
    elif args.format == "ase-db":
        print(f"schnetpack: ASEAtomsData('{paths[0]}', load_properties=['energy']); "
              f"split file for AtomsDataModule(split_file=...): {paths[1]}")
    return 0
