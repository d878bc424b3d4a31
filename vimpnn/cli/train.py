"""`vimpnn train`: fit MPNN / MPNN without bond types / VIMPNN on a dataset file into a run directory.

Settings: TrainConfig defaults (paper), overridden by --config (a YAML mapping of `train:` keys, or a
file with a `train:` section), overridden by the flags given on the command line; `--print-config` shows
the result as YAML (a valid --config file) without training.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", help="dataset HDF5 file (docs/hdf5.md) with train/val splits; own structures: "
                        "convert them with `vimpnn import` first")
    parser.add_argument("--model", choices=("mpnn", "mpnn_nobt", "vimpnn"), help="model (default vimpnn)")
    parser.add_argument("--variant", choices=("a.i", "a.ii", "b.i", "b.ii", "c"), help="VIMPNN variant (a.ii)")
    parser.add_argument("--aux", help="comma-separated auxiliary heads (n_atoms_per_type, n_orbitals_per_type, "
                        "scaling_gaussian) or 'none'; default all for vimpnn, none for mpnn")
    parser.add_argument("--T", type=int, help="message-passing iterations (3)")
    parser.add_argument("--epochs", type=int, help="maximum epochs (360)")
    parser.add_argument("--batch-size", type=int, dest="batch_size", help="systems per batch (20)")
    parser.add_argument("--lr", type=float, help="Adam learning rate (1e-4)")
    parser.add_argument("--lr-schedule", dest="lr_schedule", choices=("linear", "plateau"),
                        help="linear ramp to lr_decay x lr over 10-90%% of the epochs (default), or plateau decay")
    parser.add_argument("--lr-decay", type=float, dest="lr_decay",
                        help="final factor of the linear ramp (0.6), or the plateau factor")
    parser.add_argument("--lr-patience", type=int, dest="lr_patience",
                        help="plateau: epochs without improvement before the rate decays (10)")
    parser.add_argument("--patience", type=int, help="early stopping: epochs without improvement (50)")
    parser.add_argument("--molecule-graph", dest="molecule_graph", choices=("cutoff", "complete"),
                        help="molecule edges: within the cutoff (default) or Gilmer's complete graph")
    parser.add_argument("--seed", type=int, help="random seed (0)")
    add_selection_arguments(parser, int)
    parser.add_argument("--config", help="YAML file of train settings (see docs/models.md)")
    parser.add_argument("--out", help="run directory (resumes from its last.pt if present)")
    parser.add_argument("--restart-on-change", action="store_true",
                        help="if last.pt was written with other settings, train anew instead of failing")
    parser.add_argument("--print-config", action="store_true",
                        help="print the settings (defaults < --config < flags) as YAML and exit")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (default: only on a terminal); "
                        "one timestamped log line per epoch instead")


def add_selection_arguments(parser: argparse.ArgumentParser, integer: Callable[[str], int]) -> None:
    """Which systems train and on which device: the flags `train` and `train-peer` share."""
    parser.add_argument("--max-atoms", type=integer, dest="max_atoms", help="drop larger systems from all splits")
    parser.add_argument("--max-train-atoms", type=integer, dest="max_train_atoms",
                        help="drop larger systems from the training split only")
    parser.add_argument("--max-train-groups", type=integer, dest="max_train_groups",
                        help="train on the first N groups (molecules, growths) of the training split only")
    parser.add_argument("--device", help="auto (cuda if available), cpu, cuda, cuda:1, ...")


FLAG_KEYS = ("model", "variant", "T", "epochs", "batch_size", "lr", "lr_schedule", "lr_patience", "lr_decay",
             "patience", "molecule_graph", "seed", "max_atoms", "max_train_atoms", "max_train_groups", "device")


def resolve_config(args: argparse.Namespace):
    """TrainConfig from defaults < --config file < command-line flags, each checked against the schema's
    `train` section; an error names the file and key, or the flag."""
    from vimpnn.config import load_config
    from vimpnn.training import TrainConfig
    from vimpnn.validation import check

    values: dict = {}
    if args.config:
        loaded = load_config(args.config, what="train config file")
        if "train" in loaded:  # a whole project config: every section is checked
            check(loaded, args.config)
            values = dict(loaded["train"])
        else:
            check(loaded, args.config, section="train")
            values = loaded
    flags = {k: f"--{k.replace('_', '-')}" for k in FLAG_KEYS if getattr(args, k) is not None}
    values.update({k: getattr(args, k) for k in flags})
    if args.aux is not None:
        values["aux"] = args.aux  # "none" or a comma-separated list, parsed by TrainConfig
        flags["aux"] = "--aux"
    return TrainConfig.from_dict(values, where=args.config or "train settings", flags=flags)


def run(args: argparse.Namespace) -> int:
    import yaml

    from vimpnn.errors import InputFormatError
    from vimpnn.training import train

    config = resolve_config(args)
    if args.print_config:
        print(yaml.safe_dump({"train": config.to_dict()}, sort_keys=False, default_flow_style=None), end="")
        return 0
    missing = [flag for flag, value in (("--data", args.data), ("--out", args.out)) if not value]
    if missing:
        raise InputFormatError(f"train needs {' and '.join(missing)} (or --print-config)")
    return train_and_report(train, config, args)


def train_and_report(train: Callable[..., dict], config: Any, args: argparse.Namespace) -> int:
    """Read --data, run a trainer (ours or the peer's) into --out, print its one-line summary."""
    from vimpnn.data.hdf5 import read_dataset
    from vimpnn.logs import show_progress

    summary = train(read_dataset(args.data), config, args.out, data=str(args.data),
                    restart_on_change=args.restart_on_change, progress=show_progress(args.no_progress))
    print(f"best val MAE {summary['best_val_mae']:.4f} eV at epoch {summary['best_epoch']} "
          f"({summary['epochs_run']} epochs, {summary['device']}) -> {args.out}")
    return 0
