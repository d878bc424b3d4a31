"""Cost of one VimpnnCalculator call (energy + forces) beside the batched `predict` rate, measured side by side.

Structures: the 1-atom fcc Al cell and the first 20-atom molecule of the shipped QM9 file, slightly rattled
at every call as in a relaxation or MD step. For each: the calculator as shipped (topology reused, vesin
neighbour list), the calculator rebuilt for every call (bond perception and graph from scratch, which is
what the former calculator did), and `vimpnn.training.predict` on batches of 64 copies (energies only,
no forces: the training/evaluation path). Times are wall and CPU (process) time per structure, one torch
thread. A paper-size VIMPNN (a.ii, message 73, T = 3, all heads) with untrained weights: cost does not
depend on the weights. Also the neighbour search of an 864-atom Al cell: vesin (ours) vs ASE.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/calculator.py [--calls 200]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from ase.build import bulk
from ase.neighborlist import neighbor_list

from vimpnn.bonds import perceive_bonds
from vimpnn.calculator import VimpnnCalculator
from vimpnn.data import SystemArrays
from vimpnn.graphs import GraphDataset, cutoff_graph
from vimpnn.models import AUX_HEADS, build_model
from vimpnn.structures.qm9 import open_qm9
from vimpnn.training.checkpoint import model_state, save_atomic
from vimpnn.training.trainer import predict


def per_call(fn: Callable[[], object], calls: int) -> tuple[float, float]:
    """Median over 5 rounds of (wall, CPU) seconds per call."""
    fn()
    walls, cpus = [], []
    for _ in range(5):
        w, c = time.perf_counter(), time.process_time()
        for _ in range(max(calls // 5, 1)):
            fn()
        walls.append((time.perf_counter() - w) / max(calls // 5, 1))
        cpus.append((time.process_time() - c) / max(calls // 5, 1))
    return float(np.median(walls)), float(np.median(cpus))


def structures():
    al = bulk("Al", "fcc", a=4.05)
    mol = next(r.to_atoms() for r in open_qm9({"source": "shipped"}, 2000) if len(r.to_atoms()) == 20)
    return {"Al cell (1 atom)": al, f"{mol.get_chemical_formula()} (20 atoms)": mol}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="calculator calls per measurement")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    hparams = dict(variant="a.ii", aux=list(AUX_HEADS))
    model = build_model("vimpnn", **hparams)
    ckpt = Path(tempfile.mkdtemp()) / "best.pt"
    save_atomic(model_state(model, "vimpnn", hparams, 5.0, "cutoff"), ckpt)
    rng = np.random.default_rng(0)
    print(f"{'structure':24s} {'path':34s} {'ms/structure wall':>18s} {'CPU':>8s} {'structures/s':>13s}")
    for name, atoms in structures().items():
        calc = VimpnnCalculator(ckpt)
        atoms.calc = calc

        def step(a=atoms):
            a.positions += rng.normal(0, 1e-3, a.positions.shape)
            a.get_forces()

        def rebuilt(a=atoms):
            a.positions += rng.normal(0, 1e-3, a.positions.shape)
            a.calc = VimpnnCalculator(ckpt, bonds=perceive_bonds(a))
            a.get_forces()

        copies = [atoms.copy() for _ in range(64)]
        arrays = SystemArrays.from_atoms(copies, [0.0] * 64, [perceive_bonds(atoms)] * 64)
        dataset = GraphDataset(arrays, cutoff=5.0)
        index = np.arange(64)
        rows = [("calculator (topology reused)", per_call(step, args.calls), 1),
                ("calculator rebuilt every call", per_call(rebuilt, max(args.calls // 4, 5)), 1),
                ("predict, batches of 64, no forces", per_call(lambda: predict(model, dataset, index, 64, "cpu"),
                                                               max(args.calls // 20, 5)), 64)]
        for path, (wall, cpu), n in rows:
            print(f"{name:24s} {path:34s} {wall / n * 1e3:18.2f} {cpu / n * 1e3:8.2f} {n / wall:13.1f}")
    big = bulk("Al", "fcc", a=4.05, cubic=True).repeat(6)
    big.rattle(0.05, seed=1)
    (w_v, _), (w_a, _) = (per_call(lambda: cutoff_graph(big.positions, big.cell.array, big.pbc, 5.0), 10),
                          per_call(lambda: neighbor_list("ijS", big, 5.0), 10))
    print(f"neighbour list, {len(big)}-atom Al cell, 5 Å: vesin {w_v * 1e3:.1f} ms, ASE {w_a * 1e3:.1f} ms "
          f"(x{w_a / w_v:.0f})")


if __name__ == "__main__":
    main()
