"""`vimpnn structures`: write the geometries of one dataset (no energies) as extended XYZ."""

from __future__ import annotations

import argparse
import time

from vimpnn.structures.datasets import DATASETS, SECTIONS, build
from vimpnn.structures.io import write_structures
from vimpnn.validation import load_checked


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--config", required=True, help="YAML config (config/config.yaml or config/demo.yaml)")
    parser.add_argument("--out", required=True, help="output extended XYZ file")


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    structures = build(args.dataset, load_checked(args.config, require=SECTIONS[args.dataset]))
    write_structures(args.out, structures)
    print(f"wrote {len(structures)} {args.dataset} systems to {args.out} in {time.perf_counter() - t0:.1f} s")
    return 0
