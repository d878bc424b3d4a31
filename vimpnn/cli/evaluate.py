"""`vimpnn evaluate`: predictions and test metrics (MAE, MSE, RE, DSC) of a trained run on a dataset split."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from vimpnn.errors import VimpnnError
from vimpnn.data.arrays import SYMBOLS
from vimpnn.outputs import atomic_output
from vimpnn.validation import positive_int



class EmptySplitError(VimpnnError, ValueError):
    """The split to evaluate holds no systems."""


class UnseenElementsError(VimpnnError, ValueError):
    """The split holds elements the model never saw in training: its energies there are meaningless."""


PREDICTION_COLUMNS = ("index", "group", "source_id", "scale", "n_atoms", "formula", "energy_ref", "energy_pred")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True,
                        help="run directory of `vimpnn train` or `vimpnn train-peer` (reads best.pt)")
    parser.add_argument("--data", required=True, help="dataset HDF5 file (docs/hdf5.md)")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"), help="split to evaluate")
    parser.add_argument("--out", required=True, help="output directory: metrics.json, metrics.csv, predictions.csv")
    parser.add_argument("--batch-size", type=positive_int, default=64, help="systems per inference batch")


def formula(numbers) -> str:
    """Hill order (C, H, then alphabetical; alphabetical without carbon)."""
    counts: dict[str, int] = {}
    for z in numbers:
        sym = _symbol(int(z))
        counts[sym] = counts.get(sym, 0) + 1
    first = [s for s in ("C", "H") if s in counts] if "C" in counts else []
    order = first + sorted(s for s in counts if s not in first)
    return "".join(s + (str(counts[s]) if counts[s] > 1 else "") for s in order)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from vimpnn import metrics
    from vimpnn.data.hdf5 import read_dataset
    from vimpnn.training import checkpoint
    from vimpnn.training.normalise import isolated_atom_energy

    best = Path(args.run) / "best.pt"
    ckpt = checkpoint.load(best)
    arrays = read_dataset(args.data)
    index = np.asarray(arrays.splits.get(args.split, np.zeros(0, np.int64)), dtype=np.int64)
    max_atoms = ckpt.get("config", {}).get("max_atoms")
    if max_atoms is not None:  # the run's size filter applies to every split; max_train_atoms does not
        index = index[arrays.n_atoms[index] <= max_atoms]
    if ckpt.get("config", {}).get("exclude_state_changed", True):  # as training did (docs/models.md)
        index = index[~arrays.state_changed[index]]
    if len(index) == 0:
        raise EmptySplitError(f"{args.data}: split {args.split!r} has no systems"
                              + (f" with at most {max_atoms} atoms (the run's max_atoms)" if max_atoms else ""))
    subset = arrays.subset(index)
    check_elements(subset.numbers, ckpt, f"{args.data}: split {args.split!r}", str(args.run))
    pred, length = predict_energies(best, ckpt, subset, args.batch_size)
    summary = metrics.summarise(pred, subset.energy, subset.scale, subset.group, length, isolated_atom_energy(subset))
    summary["mae_per_atom"] = metrics.mae(pred / subset.n_atoms, subset.energy / subset.n_atoms)
    summary.update(run=str(args.run), data=str(args.data), split=args.split)

    out = Path(args.out)
    _write_json(out / "metrics.json", summary)
    row = {"n": summary["n"]}
    for key in ("mae", "mae_per_atom", "mse", "re"):
        value = summary[key] or {}
        row.update({f"{key}_mean": value.get("mean"), f"{key}_std": value.get("std")})
    dsc = summary["dsc"] or {}
    row.update(dsc_mean=dsc.get("mean"), dsc_std=dsc.get("std"), dsc_n_curves=dsc.get("n_curves"),
               dsc_excluded=summary["dsc_excluded"],
               run=summary["run"], data=summary["data"], split=args.split)
    _write_csv(out / "metrics.csv", list(row), [list(row.values())])
    rows = [
        [int(i), int(subset.group[k]), int(subset.source_id[k]), float(subset.scale[k]), int(subset.n_atoms[k]),
         formula(subset.numbers[subset.atom_slice(k)]), float(subset.energy[k]), float(pred[k])]
        for k, i in enumerate(index)
    ]
    _write_csv(out / "predictions.csv", list(PREDICTION_COLUMNS), rows)
    print(f"{args.split}: n={summary['n']} MAE={summary['mae']['mean']:.4f} eV"
          + (f" DSC={dsc['mean']:.4f} Å over {dsc['n_curves']} curves" if dsc else "")
          + (f" ({summary['dsc_excluded']} curves without a bracketed minimum excluded)" if summary["dsc_excluded"] else ""))
    return 0


def predict_energies(best: Path, ckpt: dict, subset, batch_size: int):
    """Energies (eV) of every system of `subset` from a run's best.pt, ours or the peer's (`vimpnn train-peer`),
    and the DSC length unit of each system (vimpnn.graphs, with the run's cutoff)."""
    import numpy as np

    from vimpnn.graphs import GraphDataset
    from vimpnn.training import load_model, predict
    from vimpnn.training.checkpoint import PEER_MODEL, graph_dataset
    from vimpnn.training.trainer import resolve_device

    device = resolve_device("auto")
    if ckpt.get("model_name") == PEER_MODEL:
        from vimpnn import peer

        length = GraphDataset(subset, cutoff=ckpt["cutoff"]).characteristic_length()
        return peer.predict(ckpt, subset, batch_size, device), length
    model, ckpt = load_model(best)
    dataset = graph_dataset(subset, ckpt)
    pred = predict(model.to(device), dataset, np.arange(len(subset)), batch_size, device)
    return pred, dataset.characteristic_length()


def check_elements(numbers, ckpt: dict, where: str, run: str) -> None:
    """Elements absent from the run's training split are an error naming them (checkpoints record them)."""
    import numpy as np

    seen = ckpt.get("train_elements")
    if seen is None:
        print(f"warning: {run}: checkpoint written before training elements were recorded; cannot check that "
              f"{where} holds only elements the model was trained on", file=sys.stderr)
        return
    unseen = sorted(set(np.unique(numbers).tolist()) - set(seen))
    if unseen:
        raise UnseenElementsError(
            f"{where} holds {', '.join(_symbol(z) for z in unseen)}, which the model in {run} never saw in training "
            f"(trained on {', '.join(_symbol(z) for z in seen)}); its energies there would be meaningless"
        )


def _symbol(z: int) -> str:
    return SYMBOLS[z] if z < len(SYMBOLS) else f"Z{z}"


def _write_json(path: Path, data: dict) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with atomic_output(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
