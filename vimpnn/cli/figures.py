"""`vimpnn figures`: the paper's Figures 3-7 and training curves (PNG + SVG) from evaluated runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from vimpnn.errors import InputFormatError
from vimpnn.experiments import FIGURES, Experiments, enabled_figures
from vimpnn.validation import load_checked


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="YAML config with an `experiments:` section")
    parser.add_argument("--figure", action="append", choices=FIGURES, help="figure(s) to draw (default: enabled ones)")
    parser.add_argument("--evals", default="results/evals", help="root of the evaluation directories")
    parser.add_argument("--runs", default="results/runs", help="root of the run directories")
    parser.add_argument("--data", action="append", default=[], metavar="DATASET=FILE", help="dataset HDF5 file (Fig 7, learning curve)")
    parser.add_argument("--out", default="results/figures", help="output directory")


def parse_data(items: list[str]) -> dict[str, Path]:
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise InputFormatError(f"--data {item!r}: expected DATASET=FILE")
        out[name] = Path(path)
    return out


def run(args: argparse.Namespace) -> int:
    from vimpnn.plots import Inputs, make_figure

    exp = Experiments.from_config(load_checked(args.config))
    inputs = Inputs(exp, Path(args.evals), Path(args.runs), parse_data(args.data))
    for name in args.figure or enabled_figures(exp):
        paths = make_figure(name, inputs, Path(args.out))
        print("wrote " + " and ".join(map(str, paths)))
    return 0
