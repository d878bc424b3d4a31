"""`vimpnn tables`: the paper's Tables 1-5 (CSV + Markdown) from evaluated runs, with the paper's numbers beside."""

from __future__ import annotations

import argparse
from pathlib import Path

from vimpnn.experiments import TABLES, Experiments
from vimpnn.validation import load_checked


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="YAML config with an `experiments:` section")
    parser.add_argument("--evals", default="results/evals", help="root of the evaluation directories")
    parser.add_argument("--out", default="results/tables", help="output directory")
    parser.add_argument("--table", action="append", choices=TABLES, help="table(s) to write (default: enabled ones)")


def run(args: argparse.Namespace) -> int:
    from vimpnn.tables import write_table

    exp = Experiments.from_config(load_checked(args.config))
    for table in args.table or exp.tables:
        csv_path, md_path = write_table(table, exp, Path(args.evals), Path(args.out))
        print(f"wrote {csv_path} and {md_path}")
    return 0
