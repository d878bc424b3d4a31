"""`vimpnn report`: one self-contained HTML page gathering tables, figures, datasets, DFT settings and provenance."""

from __future__ import annotations

import argparse
from pathlib import Path

from vimpnn.cli.figures import parse_data
from vimpnn.experiments import Experiments
from vimpnn.validation import load_checked


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="YAML config with an `experiments:` section")
    parser.add_argument("--tables", default="results/tables", help="directory of `vimpnn tables` output")
    parser.add_argument("--figures", default="results/figures", help="directory of `vimpnn figures` output")
    parser.add_argument("--runs", default="results/runs", help="root of the run directories (train.json)")
    parser.add_argument("--data", action="append", default=[], metavar="DATASET=FILE", help="dataset HDF5 file(s)")
    parser.add_argument("--out", default="results/report/report.html", help="output HTML file")


def run(args: argparse.Namespace) -> int:
    from vimpnn.report import write_report

    exp = Experiments.from_config(load_checked(args.config))
    out = write_report(exp, Path(args.tables), Path(args.figures), Path(args.runs), parse_data(args.data), Path(args.out))
    print(f"wrote {out}")
    return 0
