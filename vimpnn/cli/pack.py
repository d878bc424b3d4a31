"""`vimpnn pack`: structures + DFT result chunks -> one HDF5 dataset (docs/hdf5.md)."""

from __future__ import annotations

import argparse
import json

from vimpnn.data.hdf5 import write_dataset
from vimpnn.data.pack import pack, read_results
from vimpnn.errors import InputFormatError
from vimpnn.structures.datasets import DATASETS, SECTIONS
from vimpnn.structures.io import read_structures
from vimpnn.validation import load_checked


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--structures", required=True, help="extended XYZ written by `vimpnn structures`")
    parser.add_argument("--results", required=True, nargs="+", help="DFT result files (JSON lines) of every chunk")
    parser.add_argument("--config", required=True, help="YAML config the structures were built with (splits, provenance)")
    parser.add_argument("--refs", help="isolated-atom reference energies (JSON written by `vimpnn dft-refs`)")
    parser.add_argument("--out", required=True, help="output HDF5 file")
    parser.add_argument("--allow-mixed-levels", action="store_true",
                        help="pack systems computed at different levels of theory (backends or settings blocks) "
                             "into one file; each system's level is in /provenance (docs/hdf5.md)")


def run(args: argparse.Namespace) -> int:
    refs = None
    if args.refs:
        try:
            with open(args.refs) as fh:
                refs = json.load(fh)
        except (OSError, json.JSONDecodeError) as exc:
            raise InputFormatError(f"{args.refs}: cannot read reference energies ({exc})") from None
    config = load_checked(args.config, require=SECTIONS[args.dataset])
    arrays = pack(args.dataset, read_structures(args.structures), read_results(args.results), config, refs,
                  allow_mixed_levels=args.allow_mixed_levels, source=str(args.structures))
    write_dataset(args.out, arrays)
    sizes = ", ".join(f"{k} {len(v)}" for k, v in arrays.splits.items())
    blocks = len(arrays.provenance.settings)
    print(f"packed {len(arrays)} {args.dataset} systems ({sizes}; {len(arrays.failed)} failed; "
          f"{blocks} settings block{'s' if blocks > 1 else ''}; {int(arrays.state_changed.sum())} with a changed "
          f"electronic state) into {args.out}")
    from vimpnn.data import curves

    off = curves.check(arrays).outliers
    if off:
        print(f"warning: {len(off)} system(s) lie more than {curves.THRESHOLD_EV_PER_ATOM} eV/atom off the smooth "
              f"curve of their neighbours in the scaling (another SCF state?): "
              f"{', '.join(str(arrays.system_id[i]) for i in off[:10])}; `vimpnn info {args.out}` shows the check")
    return 0
