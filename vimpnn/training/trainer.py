"""The training loop: Adam, nmp_qc's linear learning-rate ramp (or ReduceLROnPlateau), early stopping,
best-validation checkpoint, resume.

Run directory (docs/architecture.md): config.yaml, last.pt (resume state, every epoch), best.pt, log.csv,
train.json. A killed run restarted with the same arguments resumes from last.pt: shuffling is seeded per
epoch, so the resumed run sees the batches an uninterrupted one would. A run's identity is its settings and
the content of its data (`content_sha256` of the dataset, recorded in config.yaml, last.pt and best.pt): a
rerun on changed data never resumes or reports the old model.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
import yaml
from tqdm import tqdm

from vimpnn import keys
from vimpnn.data.arrays import SystemArrays, ragged_take
from vimpnn.data.hdf5 import content_sha256
from vimpnn.errors import VimpnnError
from vimpnn.graphs import GraphDataset, batch_to
from vimpnn.models import build_model
from vimpnn.outputs import atomic_output, make_dir, writing
from vimpnn.training import checkpoint
from vimpnn.training.config import TrainConfig
from vimpnn.training.loss import loss_terms, total_loss
from vimpnn.training.normalise import set_normalisation

LOG_COLUMNS = ("epoch", "train_loss", "val_mae", "lr", "seconds")
log = logging.getLogger(__name__)


class SplitError(VimpnnError, ValueError):
    """A split the trainer needs is missing or empty after filtering."""


class DivergedError(VimpnnError, RuntimeError):
    """No epoch reached a finite validation error."""


def select_splits(arrays: SystemArrays, config: TrainConfig, source: str) -> dict[str, np.ndarray]:
    """train/val/test indices after the filters (max_atoms and exclude_state_changed: all splits,
    max_train_atoms: train) and the training-set limit (max_train_groups: train)."""
    n_atoms = arrays.n_atoms
    out = {}
    for name in ("train", "val", "test"):
        idx = np.asarray(arrays.splits.get(name, np.zeros(0, np.int64)), dtype=np.int64)
        if config.max_atoms is not None:
            idx = idx[n_atoms[idx] <= config.max_atoms]
        if config.exclude_state_changed:
            idx = idx[~arrays.state_changed[idx]]
        if name == "train" and config.max_train_atoms is not None:
            idx = idx[n_atoms[idx] <= config.max_train_atoms]
        if name == "train" and config.max_train_groups is not None:
            idx = first_groups(arrays.group, idx, config.max_train_groups, source)
        out[name] = idx
    for name in ("train", "val"):
        if len(out[name]) == 0:
            raise SplitError(f"{source}: split {name!r} is empty (after the max_atoms/max_train_atoms/"
                             "exclude_state_changed filters)")
    return out


def first_groups(group: np.ndarray, index: np.ndarray, n: int, source: str) -> np.ndarray:
    """The systems of `index` that belong to its first `n` groups in order of appearance.

    Groups are whole molecules (all scalings) or growths, so a smaller training set never holds part of a
    curve, and the sets of a learning curve are nested: the first 100 molecules are among the first 300."""
    groups = group[index]
    _, first = np.unique(groups, return_index=True)
    ordered = groups[np.sort(first)]
    if n > len(ordered):
        raise SplitError(f"{source}: max_train_groups {n} exceeds the {len(ordered)} groups of the training split")
    return index[np.isin(groups, ordered[:n])]


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def batches(dataset: GraphDataset, index: np.ndarray, batch_size: int,
            generator: torch.Generator | None = None) -> Iterator[dict[str, torch.Tensor]]:
    """Batches of `index` in order, or shuffled by `generator`."""
    order = index if generator is None else index[torch.randperm(len(index), generator=generator).numpy()]
    for start in range(0, len(order), batch_size):
        yield dataset.collate(order[start:start + batch_size])


@torch.no_grad()
def predict(model, dataset: GraphDataset, index: np.ndarray, batch_size: int,
            device: torch.device, per_atom: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Predicted energies (eV, float64) of systems `index`, in that order; with `per_atom`, also the per-atom
    contributions (eV, flat: the atoms of index[0], then of index[1], ...), which sum to each energy."""
    model.eval()
    energy, node = [], []
    for b in batches(dataset, index, batch_size):
        out = model(batch_to(b, device))
        energy.append(out[keys.ENERGY].cpu())
        node.append(out[keys.NODE_ENERGY].cpu())
    energies = torch.cat(energy).numpy() if energy else np.zeros(0)
    if not per_atom:
        return energies
    return energies, (torch.cat(node).numpy() if node else np.zeros(0))


def train(arrays: SystemArrays, config: TrainConfig, out_dir: str | os.PathLike, data: str = "",
          restart_on_change: bool = False, progress: bool = False) -> dict[str, Any]:
    """Train (or resume) a model on `arrays` into `out_dir`; returns the train.json summary.

    `restart_on_change`: a last.pt written with other settings or on other data starts training anew instead
    of failing (the workflow's choice: a changed config or dataset must retrain, not resume a different model).
    `progress`: a progress bar (terminals); otherwise one log line per epoch (log files).
    """
    out = make_dir(out_dir)
    splits = select_splits(arrays, config, data or "dataset")
    identity = {"data_sha256": content_sha256(arrays), "train_elements": training_elements(arrays, splits["train"])}
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    dataset = GraphDataset(arrays, cutoff=config.cutoff, molecule_graph=config.molecule_graph)
    hparams = config.model_hparams()
    model = build_model(config.model, **hparams)
    set_normalisation(model, arrays, splits["train"], batches(dataset, splits["train"], 256))
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    scheduler = build_scheduler(optimizer, config)
    graph = (config.cutoff, config.molecule_graph)
    state = {"epoch": 0, "best_val_mae": float("inf"), "best_epoch": 0, "bad_epochs": 0, "wall_s": 0.0}
    last = out / "last.pt"
    best: dict[str, Any] | None = None  # the best checkpoint, also kept in last.pt: Snakemake deletes best.pt on a rerun
    if last.exists():
        state, best = resume_state(last, config, identity["data_sha256"], data, model, optimizer, scheduler,
                              restart_on_change)
        truncate_log(out / "log.csv", state["epoch"])
    if best is not None and not (out / "best.pt").exists():
        checkpoint.save_atomic(best, out / "best.pt")
    write_yaml(out / "config.yaml", {"data": data, "data_sha256": identity["data_sha256"], **config.to_dict(),
                                      "hparams": hparams})

    log.info("training %s on %s: %d train / %d val systems, %s, epochs %d..%d", config.model, data or "dataset",
             len(splits["train"]), len(splits["val"]), device, state["epoch"] + 1, config.epochs)
    bar = tqdm(total=config.epochs, initial=state["epoch"], desc=f"train {config.model}", unit="epoch",
               mininterval=2.0, disable=not progress)
    try:
        while state["epoch"] < config.epochs and state["bad_epochs"] < config.patience:
            epoch = state["epoch"] + 1
            t0 = time.perf_counter()
            train_loss = _train_epoch(model, dataset, splits["train"], config, optimizer, device, epoch)
            val_pred = predict(model, dataset, splits["val"], max(config.batch_size, 64), device)
            val_mae = float(np.abs(val_pred - arrays.energy[splits["val"]]).mean())
            if config.lr_schedule == "plateau":
                scheduler.step(val_mae)
            else:
                scheduler.step()
            if val_mae < state["best_val_mae"]:
                state.update(best_val_mae=val_mae, best_epoch=epoch, bad_epochs=0)
                best = {**checkpoint.model_state(model, config.model, hparams, *graph), "epoch": epoch,
                        "val_mae": val_mae, "config": config.to_dict(), "data": data, **identity}
                checkpoint.save_atomic(best, out / "best.pt")
            else:
                state["bad_epochs"] += 1
            seconds = time.perf_counter() - t0
            state.update(epoch=epoch, wall_s=state["wall_s"] + seconds)
            append_log(out / "log.csv", [epoch, train_loss, val_mae, optimizer.param_groups[0]["lr"], seconds])
            checkpoint.save_atomic(
                {**checkpoint.model_state(model, config.model, hparams, *graph), **state,
                 "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "config": config.to_dict(),
                 "best": best, **identity},
                last,
            )
            bar.update(1)
            bar.set_postfix(loss=f"{train_loss:.4g}", val_mae=f"{val_mae:.4g}", best=f"{state['best_val_mae']:.4g}",
                            refresh=False)
            if not progress:
                log.info("epoch %d/%d train_loss %.4g val_mae %.4g eV best %.4g eV (epoch %d) lr %.3g %.1f s", epoch,
                         config.epochs, train_loss, val_mae, state["best_val_mae"], state["best_epoch"],
                         optimizer.param_groups[0]["lr"], seconds)
    finally:
        bar.close()  # also before an error propagates, so the error is printed on a line of its own
    if best is None:  # every validation MAE was nan: no model to report (and JSON has no Infinity)
        raise DivergedError(f"{out}: no epoch gave a finite validation MAE (the training diverged; try a lower lr)")
    summary = {
        "epochs_run": state["epoch"], "best_epoch": state["best_epoch"], "best_val_mae": state["best_val_mae"],
        "stopped_early": state["bad_epochs"] >= config.patience, "device": str(device),
        "wall_time_s": state["wall_s"], "n_train": int(len(splits["train"])), "n_val": int(len(splits["val"])),
        "model": config.model, "data": data, "data_sha256": identity["data_sha256"],
    }
    with atomic_output(out / "train.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
    return summary


def linear_lr_factor(epoch: int, epochs: int, decay: float, ramp: tuple[float, float] | list[float]) -> float:
    """Learning-rate factor during 0-based `epoch`, as nmp_qc (Gilmer et al.'s reference MPNN code) sets it:
    the rate drops by lr (1 - decay) / (epochs (r1 - r0)) at the start of every epoch k with
    r0 epochs < k < r1 epochs, a linear ramp from 1 to about `decay`, flat before and after."""
    lo, hi = ramp[0] * epochs, ramp[1] * epochs
    first, last = math.floor(lo) + 1, math.ceil(hi) - 1  # integers strictly inside (lo, hi)
    steps = max(0, min(epoch, last) - first + 1)
    return 1.0 - (1.0 - decay) * steps / (hi - lo) if hi > lo else 1.0


def build_scheduler(optimizer, config: TrainConfig):
    """`lr_schedule`: linear (stepped once per epoch) or plateau (stepped on the validation MAE)."""
    if config.lr_schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=config.lr_decay, patience=config.lr_patience, min_lr=config.min_lr
        )
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda e: linear_lr_factor(e, config.epochs, config.lr_decay, config.lr_ramp)
    )


def training_elements(arrays: SystemArrays, train: np.ndarray) -> list[int]:
    """Atomic numbers present in the training split: a model knows nothing about the others."""
    atoms, _ = ragged_take(arrays.offsets, train)
    return sorted(int(z) for z in np.unique(arrays.numbers[atoms]))


def epoch_order(index: np.ndarray, seed: int, epoch: int) -> np.ndarray:
    """`index` shuffled by a generator seeded per epoch: a resumed run sees the batches an uninterrupted one would."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return index[torch.randperm(len(index), generator=generator).numpy()]


def train_step(model, batch: dict, optimizer, alpha: float) -> torch.Tensor:
    """One optimiser step on one batch (energy + weighted auxiliary losses); returns the loss."""
    loss = total_loss(loss_terms(model, model(batch), batch), alpha)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss


def _train_epoch(model, dataset, index, config: TrainConfig, optimizer, device, epoch: int) -> float:
    model.train()
    total, n = 0.0, 0
    for batch in batches(dataset, epoch_order(index, config.seed, epoch), config.batch_size):
        batch = batch_to(batch, device)
        loss = train_step(model, batch, optimizer, config.alpha)
        k = int(batch[keys.N_ATOMS].shape[0])
        total, n = total + float(loss.detach()) * k, n + k
    return total / n


def resume_state(path: Path, config: TrainConfig, data_sha256: str, data: str, model, optimizer, scheduler,
            restart_on_change: bool) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Training state and best checkpoint from last.pt; a run with other settings or on other data is an error
    or a restart (then the old last.pt is kept as last.pt.replaced and its best.pt and train.json removed)."""
    ckpt = checkpoint.load(path)
    current = config.to_dict()
    # a key added after the checkpoint was written had its default then (the data hash catches changed data)
    saved = {**type(config)().to_dict(), **ckpt.get("config", {})}
    differ = sorted(k for k in current if k != "epochs" and saved.get(k) != current[k])
    changes = [f"settings differ from the checkpoint's: {differ}"] if differ else []
    if ckpt.get("data_sha256") != data_sha256:
        then = (ckpt.get("data_sha256") or "not recorded")[:16]
        changes.append(f"the data {data or 'set'} changed since it was trained (content sha256 {then}, now "
                       f"{data_sha256[:16]})")
    if changes and restart_on_change:
        log.warning("%s: %s: training again from epoch 0", path, "; ".join(changes))
        path.rename(path.with_name("last.pt.replaced"))
        for stale in ("best.pt", "train.json"):
            (path.parent / stale).unlink(missing_ok=True)
        return {"epoch": 0, "best_val_mae": float("inf"), "best_epoch": 0, "bad_epochs": 0, "wall_s": 0.0}, None
    if changes:
        raise checkpoint.CheckpointError(
            f"{path}: cannot resume, {'; '.join(changes)}; use a new --out (or --restart-on-change to train anew)"
        )
    model.load_state_dict(ckpt["state_dict"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    state = {k: ckpt[k] for k in ("epoch", "best_val_mae", "best_epoch", "bad_epochs", "wall_s")}
    return state, ckpt.get("best")


def append_log(path: Path, row: list) -> None:
    new = not path.exists()
    with writing(path), open(path, "a", newline="") as fh:
        writer = csv.writer(fh)
        if new:
            writer.writerow(LOG_COLUMNS)
        writer.writerow(row)


def truncate_log(path: Path, epoch: int) -> None:
    """Drop rows logged after the checkpointed epoch (a kill between the log and last.pt)."""
    if not path.exists():
        return
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    kept = [rows[0]] + [r for r in rows[1:] if int(r[0]) <= epoch]
    with atomic_output(path) as tmp, open(tmp, "w", newline="") as fh:
        csv.writer(fh).writerows(kept)


def write_yaml(path: Path, data: dict[str, Any]) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(yaml.safe_dump(data, sort_keys=False))
