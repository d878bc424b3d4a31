"""`vimpnn train-peer`: SchNet from schnetpack on a dataset file's splits, a peer to compare our models with.

The run directory has the files of `vimpnn train` (docs/architecture.md), so `vimpnn evaluate --run` and the
tables read it as any other run. Defaults are schnetpack's SchNet recipe (vimpnn.peer.PeerConfig, docs/models.md).
"""

from __future__ import annotations

import argparse
import math

from vimpnn.cli.train import add_selection_arguments, train_and_report
from vimpnn.validation import positive_int


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{value} is not a finite positive number")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="dataset HDF5 file (docs/hdf5.md) with train/val splits")
    parser.add_argument("--out", required=True, help="run directory (resumes from its last.pt if present)")
    parser.add_argument("--epochs", type=positive_int, help="maximum epochs (360, as our models)")
    parser.add_argument("--batch-size", type=positive_int, dest="batch_size", help="systems per batch (10)")
    parser.add_argument("--cutoff", type=_positive_float, help="Å, neighbour list and cosine cutoff (5.0)")
    parser.add_argument("--n-interactions", type=positive_int, dest="n_interactions", help="SchNet interaction blocks (6)")
    parser.add_argument("--lr", type=_positive_float, help="AdamW learning rate, no weight decay (5e-4)")
    parser.add_argument("--lr-factor", type=_positive_float, dest="lr_factor",
                        help="ReduceLROnPlateau factor (0.5)")
    parser.add_argument("--lr-patience", type=positive_int, dest="lr_patience",
                        help="ReduceLROnPlateau patience in epochs (75)")
    parser.add_argument("--patience", type=positive_int, help="early stopping: epochs without improvement (200)")
    parser.add_argument("--seed", type=int, help="random seed (0)")
    add_selection_arguments(parser, positive_int)
    parser.add_argument("--restart-on-change", action="store_true",
                        help="if last.pt was written with other settings or data, train anew instead of failing")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (default: only on a terminal)")


FLAG_KEYS = ("epochs", "batch_size", "cutoff", "n_interactions", "lr", "lr_factor", "lr_patience", "patience", "seed",
             "max_atoms", "max_train_atoms", "max_train_groups", "device")


def run(args: argparse.Namespace) -> int:
    from vimpnn.peer import PeerConfig, train

    config = PeerConfig(**{k: getattr(args, k) for k in FLAG_KEYS if getattr(args, k) is not None})
    return train_and_report(train, config, args)
