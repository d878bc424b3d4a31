"""Checkpoints written to a temporary name then renamed, so a kill never leaves half a file.

best.pt holds what inference needs (model name, hyper-parameters, weights incl. the energy baseline and
scales as buffers, the graph rule: cutoff and molecule_graph); last.pt adds the optimiser, scheduler and
early-stopping state.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import torch

from vimpnn.data.arrays import SystemArrays
from vimpnn.errors import VimpnnError
from vimpnn.graphs import GraphDataset
from vimpnn.models import MessagePassingModel, build_model
from vimpnn.outputs import atomic_output


PEER_MODEL = "schnet"  # model_name of `vimpnn train-peer` checkpoints (vimpnn.peer)


class CheckpointError(VimpnnError, ValueError):
    """A missing or unreadable checkpoint file."""


def save_atomic(obj: dict[str, Any], path: str | os.PathLike) -> None:
    """Serialised in memory first: torch.save reports a full disk as a RuntimeError, a plain write as OSError."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_output(path) as tmp:
        tmp.write_bytes(buffer.getbuffer())


def load(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)  # tensors and plain containers only
    except Exception as exc:  # torch raises many types for a corrupt file
        raise CheckpointError(f"{path}: cannot read checkpoint ({exc})") from exc


def weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the model's state_dict, whose tensors share the parameters' storage: a best checkpoint kept
    in memory (and in last.pt) must not follow later optimiser steps."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def model_state(model: MessagePassingModel, name: str, hparams: dict[str, Any], cutoff: float,
                molecule_graph: str) -> dict[str, Any]:
    return {"model_name": name, "hparams": hparams, "cutoff": cutoff, "molecule_graph": molecule_graph,
            "state_dict": weights(model)}


def graph_dataset(arrays: SystemArrays, ckpt: dict[str, Any]) -> GraphDataset:
    """`arrays` as the graphs the checkpoint's model was trained on (its cutoff and molecule graph)."""
    return GraphDataset(arrays, cutoff=ckpt["cutoff"], molecule_graph=ckpt["molecule_graph"])


def load_model(path: str | os.PathLike) -> tuple[MessagePassingModel, dict[str, Any]]:
    """The model of a best.pt/last.pt checkpoint (eval mode, CPU) and the checkpoint dict."""
    ckpt = load(path)
    if ckpt.get("model_name") == PEER_MODEL:
        raise CheckpointError(f"{path}: a SchNet run of `vimpnn train-peer`; `vimpnn evaluate` reads it, "
                              "prediction and the ASE calculator serve MPNN/VIMPNN runs only")
    for key in ("model_name", "hparams", "state_dict", "cutoff"):
        if key not in ckpt:
            raise CheckpointError(f"{path}: field {key!r} missing; not a vimpnn checkpoint")
    if "molecule_graph" not in ckpt:
        raise CheckpointError(f"{path}: written before smooth cutoffs (no field 'molecule_graph'); its model "
                              "had a hard cutoff and stretch-dependent bond types: train it again")
    model = build_model(ckpt["model_name"], **ckpt["hparams"])
    model.load_state_dict(ckpt["state_dict"])
    return model.eval(), ckpt
