"""`vimpnn import`: your own structures and energies (extxyz, ASE db, any file ASE reads) as a dataset HDF5 file.

Bonds come from the file's bond tables, or are perceived on each frame's reference geometry (the frame
divided by its `--scale-key` value, or the frame itself); splits come from `--split-key`, or are drawn at
random by group. Conventions: docs/exchange.md.
"""

from __future__ import annotations

import argparse

from vimpnn.errors import InputFormatError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="structures with energies: extxyz, ASE db (.db), or any format ASE reads")
    parser.add_argument("--energy-key", required=True,
                        help="info key or calculator property holding the energy in eV (e.g. energy, REF_energy)")
    parser.add_argument("--scale-key", help="info key of each frame's scaling relative to its reference geometry; "
                        "bonds are perceived on the frame divided by it (default: scale when every frame has it, else "
                        "the frame as given is its own reference)")
    parser.add_argument("--group-key", default="group", help="info key grouping frames that share a split, e.g. one "
                        "molecule's scalings (default: group; absent: every frame its own group)")
    parser.add_argument("--split-key", default="split", help="info key with train/val/test (default: split; "
                        "absent: random split by group)")
    parser.add_argument("--split", default="0.8,0.1,0.1", metavar="TRAIN,VAL,TEST",
                        help="fractions of groups for the random split (default 0.8,0.1,0.1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random split")
    parser.add_argument("--dataset", help="dataset name stored in the file (default: the input file's stem)")
    parser.add_argument("--out", required=True, help="output HDF5 file")


def fractions(text: str) -> dict[str, float]:
    try:
        values = [float(x) for x in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 3:
        raise InputFormatError(f"--split {text!r}: expected three comma-separated fractions TRAIN,VAL,TEST")
    return dict(zip(("train", "val", "test"), values))


def run(args: argparse.Namespace) -> int:
    from vimpnn.data.exchange import import_frames, read_frames
    from vimpnn.data.hdf5 import write_dataset

    frames, metadata = read_frames(args.file)
    arrays = import_frames(frames, str(args.file), energy_key=args.energy_key, scale_key=args.scale_key,
                           group_key=args.group_key, split_key=args.split_key, fractions=fractions(args.split),
                           seed=args.seed, dataset=args.dataset, metadata=metadata)
    write_dataset(args.out, arrays)
    info = arrays.attrs["import"]
    refs = (arrays.attrs["reference_energies"] or {}).get("energies", {})
    print(f"imported {len(arrays)} systems ({len(set(arrays.group.tolist()))} groups; "
          + ", ".join(f"{k} {len(v)}" for k, v in arrays.splits.items())
          + f"; {len(refs)} isolated-atom energies) into {args.out}")
    print(f"  {info['bonds']}: {len(arrays.bond_type)} bonds; {info['splits']}")
    return 0
