"""Inference and training-step throughput of MPNN and VIMPNN-a.ii vs a PyTorch Geometric reference.

The reference is the same MPNN written the PyG way (NNConv edge network recomputed in every iteration +
nn.GRU), sharing our modules' weights, so its outputs must agree with ours. Molecules are the first
`--molecules` records of the shipped QM9 file (complete graphs, RDKit bond types), batched in a fixed
random order. FLOPs are counted by torch.utils.flop_counter for one forward of each model.

    .venv/bin/python benchmarks/inference.py --threads 1            # needs the `bench` extra (torch-geometric)
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from vimpnn import keys
from vimpnn.bonds import N_BOND_TYPES, perceive_bonds
from vimpnn.data import SystemArrays
from vimpnn.graphs import GraphDataset, batch_to
from vimpnn.models import build_model
from vimpnn.structures.qm9 import open_qm9

PAPER_S_PER_ESTIMATE = 0.007  # V100, paper Sec. 5


class PygReference(nn.Module):
    """Our MPNN's message passing as PyG's qm9_nn_conv example does it, with our model's weights."""

    def __init__(self, ours):
        from torch_geometric.nn import NNConv

        super().__init__()
        net = ours.edge_nets[0]
        self.ours = ours
        self.conv = NNConv(ours.hidden, net.out_dim, nn.Sequential(net.lin1, nn.ReLU(), net.lin2), aggr="add",
                           root_weight=False, bias=False)
        cell = ours.update.gru
        self.gru = nn.GRU(cell.input_size, cell.hidden_size)
        with torch.no_grad():
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(self.gru, f"{name}_l0").copy_(getattr(cell, name))

    def forward(self, batch):
        m = self.ours
        idx = m.element_index(batch[keys.Z])
        h0 = nn.functional.one_hot(idx, m.hidden).float()
        edge_attr = torch.cat([m.rbf(batch[keys.DISTANCE]),
                               nn.functional.one_hot(batch[keys.BOND_TYPE], N_BOND_TYPES).float()], dim=1)
        h, state = h0, h0.unsqueeze(0)
        for _ in range(m.T):
            msg = self.conv(h, batch[keys.EDGE_INDEX], edge_attr)
            out, state = self.gru(msg.unsqueeze(0), state)
            h = out.squeeze(0)
        node = m.readout(torch.cat([h, h0], dim=1)).squeeze(1).double() * m.energy_scale + m.element_baseline[idx]
        return {keys.ENERGY: node.new_zeros(batch[keys.N_ATOMS].shape[0]).index_add_(0, batch[keys.IDX_M], node)}


def qm9_dataset(n: int) -> GraphDataset:
    atoms = [r.to_atoms() for r in open_qm9({"source": "shipped"}, n)]
    return GraphDataset(SystemArrays.from_atoms(atoms, [0.0] * len(atoms), [perceive_bonds(a) for a in atoms]))


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def inference_rate(model, batches, device, repeats: int) -> float:
    """Molecules per second (best of `repeats` passes over `batches`)."""
    best = float("inf")
    with torch.no_grad():
        model(batches[0])
        for _ in range(repeats):
            sync(device)
            t = time.perf_counter()
            for b in batches:
                model(b)
            sync(device)
            best = min(best, time.perf_counter() - t)
    return sum(int(b[keys.N_ATOMS].shape[0]) for b in batches) / best


def training_rate(model, batches, device) -> float:
    """Molecules per second of forward + backward + Adam step."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step(b):
        loss = ((model(b)[keys.ENERGY] - b[keys.REF_ENERGY]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    step(batches[0])
    sync(device)
    t = time.perf_counter()
    for b in batches:
        step(b)
    sync(device)
    return sum(int(b[keys.N_ATOMS].shape[0]) for b in batches) / (time.perf_counter() - t)


def forward_flops(model, batch) -> int:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(batch)
    return counter.get_total_flops()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--molecules", type=int, default=2000, help="first N shipped QM9 molecules")
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--batches", type=int, default=5, help="batches timed per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--single", type=int, default=40, help="molecules timed one at a time (batch 1)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if args.device == "auto" else args.device))
    t0 = time.perf_counter()
    ds = qm9_dataset(args.molecules)
    order = np.random.default_rng(0).permutation(len(ds))
    bs = args.batch_size
    batches = [batch_to(ds.collate(order[k * bs:(k + 1) * bs].tolist()), device) for k in range(args.batches)]
    singles = [batch_to(ds.collate([int(i)]), device) for i in order[:args.single]]
    n_mol = sum(int(b[keys.N_ATOMS].shape[0]) for b in batches)
    atoms = sum(int(b[keys.N_ATOMS].sum()) for b in batches) / n_mol
    edges = sum(int(b[keys.EDGE_INDEX].shape[1]) for b in batches) / n_mol
    print(f"QM9: {len(ds)} molecules prepared in {time.perf_counter() - t0:.1f} s; timed batches: "
          f"{atoms:.1f} atoms, {edges:.0f} directed edges per molecule; device {device}, {args.threads} thread(s)")

    torch.manual_seed(0)
    mpnn = build_model("mpnn").to(device).eval()
    models = {
        "pyg_reference": PygReference(mpnn).to(device).eval(),
        "mpnn_matrix_once": build_model("mpnn", message_form="matrix").to(device).eval(),
        "mpnn": mpnn,
        "vimpnn_a.ii": build_model("vimpnn", variant="a.ii", aux=[]).to(device).eval(),
    }
    models["mpnn_matrix_once"].load_state_dict(mpnn.state_dict())
    with torch.no_grad():
        ref = torch.cat([models["pyg_reference"](b)[keys.ENERGY] for b in batches])
        agree = {name: float((torch.cat([m(b)[keys.ENERGY] for b in batches]) - ref).abs().max())
                 for name, m in models.items() if name.startswith("mpnn")}
    print("max |E - E_pyg| (eV, float32): " + ", ".join(f"{k} {v:.2e}" for k, v in agree.items()))
    assert max(agree.values()) < 1e-3 * float(ref.abs().max() + 1), "outputs disagree with the PyG reference"

    results = {"device": str(device), "threads": args.threads, "atoms_per_molecule": atoms,
               "edges_per_molecule": edges, "max_abs_diff_vs_pyg": agree, "models": {}}
    base = None
    print(f"{'model':18s} {'infer mol/s':>12s} {'x pyg':>6s} {'train mol/s':>12s} {'x pyg':>6s} "
          f"{'MFLOP/mol':>10s} {'GFLOP/s':>8s} {'s/estimate b=1':>15s}")
    for name, model in models.items():
        infer = inference_rate(model, batches, device, args.repeats)
        flops = sum(forward_flops(model, b) for b in batches) / n_mol
        single = 1.0 / inference_rate(model, singles, device, 1)
        model.train()
        train = training_rate(model, batches, device)
        model.eval()
        base = base or (infer, train)
        results["models"][name] = {"inference_mol_per_s": infer, "train_mol_per_s": train,
                                   "inference_ratio_vs_pyg": infer / base[0], "train_ratio_vs_pyg": train / base[1],
                                   "mflop_per_molecule": flops / 1e6, "gflop_per_s": flops * infer / 1e9,
                                   "s_per_estimate_batch1": single}
        print(f"{name:18s} {infer:12.1f} {infer / base[0]:6.2f} {train:12.1f} {train / base[1]:6.2f} "
              f"{flops / 1e6:10.1f} {flops * infer / 1e9:8.1f} {single:15.5f}")
    print(f"paper: {PAPER_S_PER_ESTIMATE} s/estimate (V100)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
