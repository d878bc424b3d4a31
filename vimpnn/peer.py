"""A peer model users know: SchNet from schnetpack, trained on the same HDF5 splits as MPNN/VIMPNN.

The network, its neighbour list (matscipy, periodic images included) and its batching are schnetpack's own;
only the loop is ours, so the run directory has the files our trainer writes (config.yaml, last.pt, best.pt,
log.csv, train.json) and `vimpnn evaluate` predicts with it. Hyper-parameters are those of schnetpack's
`spktrain experiment=qm9_atomwise model/representation=schnet` (docs/models.md, "Peer model"); what differs:
- energy baseline: our per-element energies fitted on the training split (vimpnn.training.normalise), the
  same as our models', instead of RemoveOffsets/AddOffsets (which in schnetpack 2.1.1 cannot take atomrefs
  directly and keep them in float32, 1e-3 eV at 10^4 eV);
- the best epoch, early stopping and the plateau schedule follow the validation MAE, as in our trainer
  (spktrain monitors the validation MSE).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from vimpnn.data.arrays import SystemArrays
from vimpnn.data.hdf5 import content_sha256
from vimpnn.extras import require
from vimpnn.outputs import atomic_output, make_dir
from vimpnn.training import checkpoint
from vimpnn.training.checkpoint import PEER_MODEL
from vimpnn.training.normalise import fit_energy_baseline
from vimpnn.training.trainer import (DivergedError, append_log, epoch_order, resolve_device, resume_state,
                                     select_splits, training_elements, truncate_log, write_yaml)

ENERGY = "energy"
ZMAX = 119  # length of the per-element baseline, indexed by atomic number
log = logging.getLogger(__name__)


@dataclass
class PeerConfig:
    """schnetpack's SchNet recipe (configs/model/representation/schnet.yaml, experiment/qm9_atomwise.yaml,
    task/scheduler/reduce_on_plateau.yaml, callbacks/ema.yaml and earlystopping.yaml of schnetpack 2.1.1)."""

    epochs: int = 360  # our models' default budget (spktrain: up to 100000 with early stopping)
    batch_size: int = 10  # schnetpack's data default; the workflow passes our models' batch size
    cutoff: float = 5.0  # Å, cosine cutoff
    n_atom_basis: int = 128
    n_interactions: int = 6
    n_rbf: int = 20  # Gaussians from 0 to the cutoff
    lr: float = 5e-4  # AdamW without weight decay (= Adam)
    lr_factor: float = 0.5  # ReduceLROnPlateau
    lr_patience: int = 75
    lr_cooldown: int = 10
    ema_decay: float = 0.995  # validation and checkpoints use the averaged weights
    patience: int = 200  # early stopping
    seed: int = 0
    max_atoms: int | None = None  # drop larger systems from every split (growth: 75)
    max_train_atoms: int | None = None  # drop larger systems from the training split only
    max_train_groups: int | None = None  # train on the first N groups (molecules, growths) only: learning curves
    exclude_state_changed: bool = True  # drop systems whose energy came from a smearing retry rung, as TrainConfig
    device: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def hparams(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("cutoff", "n_atom_basis", "n_interactions", "n_rbf")}


def import_schnetpack():
    """schnetpack, or one line saying how to install it. schnetpack <= 2.1.1 imports torch's `T_co`, which
    torch 2.5 renamed `_T_co`: the old name is set first (an alias, nothing else changes)."""
    import torch.utils.data.dataloader as loader

    if not hasattr(loader, "T_co"):
        loader.T_co = loader._T_co
    return require("schnetpack", "the SchNet peer model")


def build_schnet(hparams: dict[str, Any]) -> torch.nn.Module:
    """schnetpack's NeuralNetworkPotential: SchNet, then an atom-wise MLP whose outputs are summed (eV)."""
    spk = import_schnetpack()
    cutoff = float(hparams["cutoff"])
    representation = spk.representation.SchNet(
        n_atom_basis=hparams["n_atom_basis"], n_interactions=hparams["n_interactions"],
        radial_basis=spk.nn.GaussianRBF(n_rbf=hparams["n_rbf"], cutoff=cutoff), cutoff_fn=spk.nn.CosineCutoff(cutoff),
    )
    return spk.model.NeuralNetworkPotential(
        representation=representation, input_modules=[spk.atomistic.PairwiseDistances()],
        output_modules=[spk.atomistic.Atomwise(n_in=hparams["n_atom_basis"], output_key=ENERGY, aggregation_mode="sum")],
    )


class PeerData:
    """Every system as schnetpack's input dict with its neighbour list, built once; `collate` batches them."""

    def __init__(self, arrays: SystemArrays, cutoff: float):
        spk = import_schnetpack()
        self.arrays = arrays
        self._neighbours = spk.transform.MatScipyNeighborList(cutoff=cutoff)
        self._cast = spk.transform.CastTo32()
        self._collate = spk.data.loader._atoms_collate_fn
        self._cache: dict[int, dict[str, torch.Tensor]] = {}

    def inputs(self, i: int) -> dict[str, torch.Tensor]:
        if i not in self._cache:
            from schnetpack import properties as p

            a, sl = self.arrays, self.arrays.atom_slice(i)
            inputs = {
                p.idx: torch.tensor([i]), p.n_atoms: torch.tensor([sl.stop - sl.start]),
                p.Z: torch.as_tensor(a.numbers[sl], dtype=torch.long),
                p.R: torch.as_tensor(a.positions[sl], dtype=torch.float64),
                p.cell: torch.as_tensor(a.cell[i], dtype=torch.float64)[None],
                p.pbc: torch.as_tensor(a.pbc[i], dtype=torch.bool),
            }
            self._cache[i] = self._cast(self._neighbours(inputs))
        return self._cache[i]

    def prepare(self, index: np.ndarray) -> None:
        """Build the neighbour lists of `index` now (before training, as our GraphDataset builds its edges)."""
        for i in index:
            self.inputs(int(i))

    def collate(self, index: np.ndarray) -> dict[str, torch.Tensor]:
        return self._collate([self.inputs(int(i)) for i in index])


def baseline_energy(arrays: SystemArrays, atomref: np.ndarray) -> np.ndarray:
    """Per system, eV (float64): the sum of its atoms' baseline energies."""
    system = np.repeat(np.arange(len(arrays)), arrays.n_atoms)
    return np.bincount(system, weights=atomref[arrays.numbers], minlength=len(arrays))


@torch.no_grad()
def predict_residual(model, data: PeerData, index: np.ndarray, batch_size: int, device: torch.device) -> np.ndarray:
    """The network's energies (eV, without the baseline) of systems `index`, in that order."""
    model.eval()
    out = [model(_to(data.collate(index[s:s + batch_size]), device))[ENERGY].double().cpu()
           for s in range(0, len(index), batch_size)]
    return torch.cat(out).numpy() if out else np.zeros(0)


def predict(ckpt: dict[str, Any], arrays: SystemArrays, batch_size: int, device: torch.device) -> np.ndarray:
    """Energies (eV) of every system of `arrays` from a peer best.pt."""
    model = build_schnet(ckpt["hparams"])
    model.load_state_dict(ckpt["state_dict"])
    data = PeerData(arrays, ckpt["hparams"]["cutoff"])
    residual = predict_residual(model.to(device), data, np.arange(len(arrays)), batch_size, device)
    return residual + baseline_energy(arrays, np.asarray(ckpt["atomref"], dtype=np.float64))


def train(arrays: SystemArrays, config: PeerConfig, out_dir: str | os.PathLike, data: str = "",
          restart_on_change: bool = False, progress: bool = False) -> dict[str, Any]:
    """Train (or resume) SchNet on `arrays` into `out_dir`; returns the train.json summary (as our trainer)."""
    spk = import_schnetpack()
    from torch_ema import ExponentialMovingAverage

    out = make_dir(out_dir)
    splits = select_splits(arrays, config, data or "dataset")
    identity = {"data_sha256": content_sha256(arrays), "train_elements": training_elements(arrays, splits["train"])}
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    elements = tuple(int(z) for z in np.unique(arrays.numbers))
    per_element, scale = fit_energy_baseline(arrays, splits["train"], elements)
    atomref = np.zeros(ZMAX)
    atomref[list(elements)] = per_element
    target = arrays.energy - baseline_energy(arrays, atomref)
    dataset = PeerData(arrays, config.cutoff)
    dataset.prepare(np.concatenate([splits["train"], splits["val"]]))
    hparams = config.hparams()
    model = build_schnet(hparams).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
    # schnetpack's ReduceLROnPlateau with smoothing 0 is torch's (and passes `verbose`, which torch 2.13 dropped)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=config.lr_factor, patience=config.lr_patience, threshold=0.0, cooldown=config.lr_cooldown,
        min_lr=0.0)
    ema = ExponentialMovingAverage(model.parameters(), decay=config.ema_decay)
    state = {"epoch": 0, "best_val_mae": float("inf"), "best_epoch": 0, "bad_epochs": 0, "wall_s": 0.0}
    last = out / "last.pt"
    best: dict[str, Any] | None = None
    if last.exists():
        state, best = resume_state(last, config, identity["data_sha256"], data, model, optimizer, scheduler,
                                   restart_on_change)
        if state["epoch"]:
            ema.load_state_dict(checkpoint.load(last)["ema"])
        truncate_log(out / "log.csv", state["epoch"])
    if best is not None and not (out / "best.pt").exists():
        checkpoint.save_atomic(best, out / "best.pt")
    write_yaml(out / "config.yaml", {"data": data, "data_sha256": identity["data_sha256"], "model": PEER_MODEL,
                                     **config.to_dict(), "hparams": hparams})
    fixed = {"model_name": PEER_MODEL, "framework": f"schnetpack {spk.__version__}", "hparams": hparams,
             "cutoff": config.cutoff, "atomref": atomref.tolist()}

    log.info("training SchNet (schnetpack %s) on %s: %d train / %d val systems, %s, epochs %d..%d",
             spk.__version__, data or "dataset", len(splits["train"]), len(splits["val"]), device, state["epoch"] + 1,
             config.epochs)
    bar = tqdm(total=config.epochs, initial=state["epoch"], desc="train schnet", unit="epoch", mininterval=2.0,
               disable=not progress)
    try:
        while state["epoch"] < config.epochs and state["bad_epochs"] < config.patience:
            epoch = state["epoch"] + 1
            t0 = time.perf_counter()
            train_mse = _train_epoch(model, dataset, splits["train"], target, config, optimizer, ema, device, epoch)
            with ema.average_parameters():
                val = predict_residual(model, dataset, splits["val"], max(config.batch_size, 64), device)
                val_mae = float(np.abs(val - target[splits["val"]]).mean())
                scheduler.step(val_mae)
                if val_mae < state["best_val_mae"]:
                    state.update(best_val_mae=val_mae, best_epoch=epoch, bad_epochs=0)
                    best = {**fixed, "state_dict": checkpoint.weights(model), "epoch": epoch, "val_mae": val_mae,
                            "config": config.to_dict(), "data": data, **identity}
                    checkpoint.save_atomic(best, out / "best.pt")
                else:
                    state["bad_epochs"] += 1
            seconds = time.perf_counter() - t0
            state.update(epoch=epoch, wall_s=state["wall_s"] + seconds)
            # logged standardised, as our models' loss (MSE of the residual / its training std), for one plot
            append_log(out / "log.csv", [epoch, train_mse / scale**2, val_mae, optimizer.param_groups[0]["lr"], seconds])
            checkpoint.save_atomic(
                {**fixed, "state_dict": model.state_dict(), **state, "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict(), "ema": ema.state_dict(), "config": config.to_dict(),
                 "best": best, **identity},
                last,
            )
            bar.update(1)
            bar.set_postfix(mse=f"{train_mse:.4g}", val_mae=f"{val_mae:.4g}", refresh=False)
            if not progress:
                log.info("epoch %d/%d train_mse %.4g eV² val_mae %.4g eV best %.4g eV (epoch %d) lr %.3g %.1f s", epoch,
                         config.epochs, train_mse, val_mae, state["best_val_mae"], state["best_epoch"],
                         optimizer.param_groups[0]["lr"], seconds)
    finally:
        bar.close()
    if best is None:
        raise DivergedError(f"{out}: no epoch gave a finite validation MAE (the training diverged)")
    summary = {
        "epochs_run": state["epoch"], "best_epoch": state["best_epoch"], "best_val_mae": state["best_val_mae"],
        "stopped_early": state["bad_epochs"] >= config.patience, "device": str(device),
        "wall_time_s": state["wall_s"], "n_train": int(len(splits["train"])), "n_val": int(len(splits["val"])),
        "model": PEER_MODEL, "framework": fixed["framework"], "data": data, "data_sha256": identity["data_sha256"],
    }
    with atomic_output(out / "train.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
    return summary


def _train_epoch(model, data: PeerData, index: np.ndarray, target: np.ndarray, config: PeerConfig, optimizer,
                 ema, device: torch.device, epoch: int) -> float:
    """One pass in the seeded order of our trainer; returns the mean squared error (eV²) per system."""
    model.train()
    order = epoch_order(index, config.seed, epoch)
    total = 0.0
    for start in range(0, len(order), config.batch_size):
        chunk = order[start:start + config.batch_size]
        batch = _to(data.collate(chunk), device)
        ref = torch.as_tensor(target[chunk], dtype=torch.float32, device=device)
        loss = torch.nn.functional.mse_loss(model(batch)[ENERGY], ref)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        ema.update()
        total += float(loss.detach()) * len(chunk)
    return total / len(order)


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device) for k, v in batch.items()}
