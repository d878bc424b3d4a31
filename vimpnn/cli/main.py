"""vimpnn: QM9 and fcc structures -> CP2K energies -> HDF5 datasets -> MPNN / VIMPNN models and the paper's results.

Each subcommand lives in its own module with `add_arguments(parser)` and `run(args)`; only the module of
the command being run is imported, so `vimpnn info` does not pay for torch and a broken module cannot
break the others.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from vimpnn.errors import VimpnnError

# name -> (module under vimpnn.cli, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "structures": ("structures", "build the geometries of one dataset (extended XYZ, no energies)"),
    "train": ("train", "train MPNN / VIMPNN on a dataset file into a run directory (resumable)"),
    "train-peer": ("train_peer", "train SchNet from schnetpack on a dataset file's splits: a peer model (resumable)"),
    "evaluate": ("evaluate", "predictions and test metrics (MAE, MSE, RE, DSC) of a trained run"),
    "predict": ("predict", "energies and per-atom contributions of a trained run for structures (extxyz, HDF5, db)"),
    "dft": ("dft", "DFT energies (CP2K or EMT) of a structures file as JSON lines, cached and resumable"),
    "dft-refs": ("dft_refs", "isolated-atom reference energies with the same DFT settings (JSON)"),
    "validate-dft": ("validate_dft", "fcc Al/Cu lattice, cutoff, k-grid checks, or atomization energies vs PBE"),
    "pack": ("pack", "join structures and DFT results into one HDF5 dataset with bonds, splits, provenance"),
    "info": ("info", "print what an HDF5 dataset file holds"),
    "export": ("export", "a dataset file as extxyz, an ASE/schnetpack database, or MACE training files"),
    "import": ("import_data", "your own structures + energies (extxyz, ASE db, ...) as a dataset file"),
    "download": ("download", "fetch a released dataset file of the manifest and verify its sha256"),
    "tables": ("tables", "the paper's Tables 1-5 (CSV + Markdown) from evaluated runs, with the paper's numbers"),
    "figures": ("figures", "the paper's Figures 3-7 and training curves (PNG + SVG) from evaluated runs"),
    "report": ("report", "one self-contained HTML page: tables, figures, datasets, DFT settings, provenance"),
    "plan": ("plan", "estimated GPU-hours of the experiment design and core-hours of its DFT, from measured times"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `vimpnn` parser; only `command`'s module is imported to add its arguments (help lists them all)."""
    parser = argparse.ArgumentParser(prog="vimpnn", description=__doc__.splitlines()[0])
    from vimpnn import __version__

    parser.add_argument("--version", action="version", version=f"vimpnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        sp.set_defaults(_module=module)
        if name == command:
            _load(module).add_arguments(sp)
    return parser


def _load(module: str):
    return importlib.import_module(f"vimpnn.cli.{module}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    from vimpnn.logs import setup_logging

    setup_logging()
    try:
        return int(_load(args._module).run(args) or 0)
    except BrokenPipeError:  # `vimpnn info x.h5 | head`: the reader left, nothing to report
        sys.stderr.close()
        return 0
    except VimpnnError as exc:
        # vimpnn's own errors already name the file, record and field: one line, no traceback.
        print(f"vimpnn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.filename is None:  # not about a path: a bug or a network error, keep the traceback
            raise
        print(f"vimpnn {args.command}: error: {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
