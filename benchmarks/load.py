"""Data-loading throughput (HDF5 -> GraphDataset -> one epoch of batches) beside one VIMPNN training step.

For each dataset file: structures/s of reading it (`vimpnn.data.hdf5.read_dataset`), building the torch
Dataset (`vimpnn.graphs.GraphDataset`: every edge computed once) and iterating a full shuffled epoch of
batches the way the trainer does (`vimpnn.training.trainer.batches`); then the time of one training step
(VIMPNN a.ii, default hyper-parameters and auxiliary heads: forward + backward + Adam) on batches of the same
data. Each figure is the median of `--repeats` runs, measured side by side in one process, since the machine
is shared and noisy. Loading is not the bottleneck when epoch structures/s >> training structures/s.

Without FILE arguments an AugQM9-like file is built in a temporary directory from the shipped QM9 molecules
(`--molecules` x 10 scalings, bonds perceived by `vimpnn.data.pack`). Its energies are SYNTHETIC (per-element
constants plus a Morse pair term), not DFT: they only have to be deterministic numbers of the right shape.

    .venv/bin/python benchmarks/load.py                       # synthetic AugQM9-like file, 1,000 molecules
    .venv/bin/python benchmarks/load.py results/datasets/*.h5 # any dataset files
    .venv/bin/python benchmarks/load.py --device cuda         # training step on a GPU (loading stays on the CPU)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from vimpnn.data.arrays import SystemArrays
from vimpnn.data.hdf5 import read_dataset, write_dataset
from vimpnn.graphs import GraphDataset, batch_to
from vimpnn.models import build_model
from vimpnn.training.config import TrainConfig
from vimpnn.training.normalise import set_normalisation
from vimpnn.training.trainer import batches, resolve_device, train_step

GOAL_STRUCTURES_PER_S = 50_000  # issue 5, AugQM9-sized molecules
ELEMENT_ENERGY = {1: -13.6, 6: -1029.0, 7: -1485.0, 8: -2042.0, 9: -2713.0}  # eV, rough isolated-atom scale
MORSE_D, MORSE_A, MORSE_R0 = 0.4, 1.6, 1.3  # eV, 1/Å, Å: a generic pair term so energy depends on scaling


def synthetic_energy(numbers: np.ndarray, positions: np.ndarray) -> float:
    """Per-element constants plus a Morse pair sum: deterministic, cheap, and defined for every element."""
    r = np.linalg.norm(positions[:, None] - positions[None], axis=-1)[np.triu_indices(len(numbers), 1)]
    x = np.exp(-MORSE_A * (r - MORSE_R0))
    return float(sum(ELEMENT_ENERGY[int(z)] for z in numbers) + (MORSE_D * (x * x - 2 * x)).sum())


def build_augqm9_like(path: Path, n_molecules: int) -> float:
    """Write an AugQM9-like file (shipped QM9, 10 scalings, synthetic energies); returns seconds taken."""
    from vimpnn.data.pack import pack
    from vimpnn.structures.datasets import build

    t = time.perf_counter()
    config = {"qm9": {"source": "shipped", "n_molecules": n_molecules},
              "augqm9": {"scalings": {"min": 0.90, "max": 1.50, "n": 10},
                         "split": {"train": 0.8, "val": 0.1, "test": 0.1}}}
    structures = build("augqm9", config)
    results = [{"system_id": a.info["system_id"], "status": "ok", "backend": "synthetic",
                "energy": synthetic_energy(a.numbers, a.positions)} for a in structures]
    write_dataset(path, pack("augqm9", structures, results, config))
    return time.perf_counter() - t


def median_time(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Median wall time of `repeats` calls and the last call's result."""
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def epoch(dataset: GraphDataset, index: np.ndarray, batch_size: int, seed: int) -> int:
    """Iterate one shuffled epoch of batches as the trainer does; returns the edges seen (keeps the work live)."""
    generator = torch.Generator().manual_seed(seed)
    return sum(int(b["edge_index"].shape[1]) for b in batches(dataset, index, batch_size, generator))


def train_step_seconds(arrays: SystemArrays, dataset: GraphDataset, batch_size: int, steps: int,
                       repeats: int, device: torch.device) -> float:
    """Median seconds of one VIMPNN a.ii training step at `batch_size` on shuffled batches of `dataset`,
    batches already on `device` (the step alone, as the loader runs ahead of it).
    """
    config = TrainConfig(batch_size=batch_size)
    torch.manual_seed(0)
    model = build_model(config.model, **config.model_hparams())
    index = np.arange(len(arrays))
    set_normalisation(model, arrays, index, batches(dataset, index, 256))
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(1)
    data = [batch_to(b, device) for _, b in zip(range(steps), batches(dataset, index, batch_size, generator))]
    model.train()

    def step(batch):
        train_step(model, batch, optimizer, config.alpha)

    step(data[0])  # warm-up
    times = []
    for _ in range(repeats):
        for batch in data:
            t = time.perf_counter()
            step(batch)
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def measure(path: Path, args: argparse.Namespace) -> dict[str, float]:
    read_s, arrays = median_time(lambda: read_dataset(path), args.repeats)
    build_s, dataset = median_time(lambda: GraphDataset(arrays, cutoff=args.cutoff), args.repeats)
    n = len(arrays)
    epoch_s, _ = median_time(lambda: epoch(dataset, np.arange(n), args.batch_size, 0), args.repeats)
    step_s = train_step_seconds(arrays, dataset, args.batch_size, args.steps, args.repeats,
                                resolve_device(args.device))
    return {"systems": n, "atoms": float(arrays.n_atoms.mean()),
            "edges": float(np.diff(dataset.edge_offsets).mean()), "read": n / read_s, "build": n / build_s,
            "epoch": n / epoch_s, "total": n / (read_s + build_s + epoch_s), "step_s": step_s,
            "train_rate": args.batch_size / step_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="dataset HDF5 files (default: build a synthetic one)")
    parser.add_argument("--molecules", type=int, default=1000, help="QM9 molecules of the synthetic file")
    parser.add_argument("--keep", type=Path, help="write the synthetic file here (reuse it as FILE later)")
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--cutoff", type=float, default=TrainConfig.cutoff)
    parser.add_argument("--steps", type=int, default=5, help="training steps timed per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto", help="device of the training step (loading is on the CPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        files = list(args.files)
        if not files:
            files = [args.keep or Path(tmp) / "augqm9_synthetic.h5"]
            seconds = build_augqm9_like(files[0], args.molecules)
            print(f"built {files[0].name}: {args.molecules} shipped QM9 molecules x 10 scalings, "
                  f"SYNTHETIC energies (element constants + Morse pairs, not DFT), in {seconds:.1f} s")
        print(f"{args.threads} thread(s), training step on {resolve_device(args.device)}, batch {args.batch_size}, "
              f"median of {args.repeats} repeats; structures/s of each stage (epoch: every system, shuffled, "
              f"batched as the trainer does; total: read + build + epoch)")
        print(f"{'file':28s} {'systems':>8s} {'atoms':>6s} {'edges':>6s} {'read/s':>10s} {'build/s':>9s} "
              f"{'epoch/s':>9s} {'total/s':>9s} {'step ms':>8s} {'train/s':>8s} {'epoch/train':>11s}")
        for path in files:
            r = measure(path, args)
            print(f"{path.name:28s} {r['systems']:8d} {r['atoms']:6.1f} {r['edges']:6.0f} {r['read']:10.0f} "
                  f"{r['build']:9.0f} {r['epoch']:9.0f} {r['total']:9.0f} {1e3 * r['step_s']:8.1f} "
                  f"{r['train_rate']:8.0f} {r['epoch'] / r['train_rate']:11.0f}")
        print(f"goal: >= {GOAL_STRUCTURES_PER_S} structures/s for AugQM9-sized molecules; "
              f"epoch/train = how many times faster batches are made than a VIMPNN a.ii step consumes them")


if __name__ == "__main__":
    main()
