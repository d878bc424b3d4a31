"""The message-passing energy model behind MPNN, its no-bond-type baseline and every VIMPNN variant.

MPNN is one message channel over all edges (edge features: distance expansion + bond-type one-hot);
VIMPNN has one channel per bond type (Eq. 1 restricted to edges of that type, each with its own edge
network) and combines them by `variant` (updates.py). Energies come out in eV: the network predicts a
standardised per-node residual that is rescaled and added to the per-element baseline fitted by the
trainer (both stored as buffers, so a checkpoint is self-contained).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from vimpnn import keys
from vimpnn.bonds import N_BOND_TYPES
from vimpnn.errors import VimpnnError
from vimpnn.models.heads import (
    AUX_HEADS, SCALING_SIGMA, NodeReadout, aux_target, head_width, reduce_per_system,
)
from vimpnn.models.messages import MESSAGE_FORMS, EdgeNetwork, choose_form
from vimpnn.models.updates import build_update, hidden_size
from vimpnn.nn import GaussianExpansion, scatter_sum

DEFAULT_ELEMENTS: tuple[int, ...] = (1, 6, 7, 8, 9, 13, 29)  # H C N O F Al Cu


class UnknownElementError(VimpnnError, ValueError):
    """A structure holds an element the model has no one-hot slot for."""


class MessagePassingModel(nn.Module):
    def __init__(
        self,
        n_channels: int = 1,
        variant: str | None = None,
        bond_feature: bool = True,
        message: int = 73,
        T: int = 3,
        elements: Sequence[int] = DEFAULT_ELEMENTS,
        n_rbf: int = 47,
        rbf_max: float = 15.0,
        edge_width: int = 128,
        aux: Sequence[str] = (),
        aux_sigma: float = SCALING_SIGMA,
        message_form: str = "auto",
    ):
        super().__init__()
        if message_form not in MESSAGE_FORMS:
            raise ValueError(f"message_form must be one of {MESSAGE_FORMS}, not {message_form!r}")
        for name in aux:
            if name not in AUX_HEADS:
                raise ValueError(f"unknown auxiliary head {name!r}; choose from {', '.join(AUX_HEADS)}")
        self.n_channels, self.bond_feature, self.T = n_channels, bond_feature, T
        self.message_form, self.aux_sigma = message_form, aux_sigma
        self.elements = tuple(int(z) for z in elements)
        self.hidden = hidden_size(variant, message, n_channels)
        if len(self.elements) > self.hidden:
            raise ValueError(f"{len(self.elements)} elements do not fit a one-hot in hidden size {self.hidden}")
        z_index = torch.full((119,), -1, dtype=torch.long)
        z_index[list(self.elements)] = torch.arange(len(self.elements))
        self.register_buffer("z_index", z_index)
        self.rbf = GaussianExpansion(n_rbf, 0.0, rbf_max)
        edge_dim = n_rbf + (N_BOND_TYPES if bond_feature else 0)
        self.edge_nets = nn.ModuleList(
            EdgeNetwork(edge_dim, self.hidden, message, edge_width) for _ in range(n_channels)
        )
        self.update = build_update(variant, n_channels, message)
        self.readout = NodeReadout(self.hidden, 1)
        self.aux = tuple(aux)
        self.aux_heads = nn.ModuleDict({a: NodeReadout(self.hidden, head_width(a, len(self.elements))) for a in aux})
        # Set by the trainer from the training split (training/normalise.py); identity until then.
        self.register_buffer("element_baseline", torch.zeros(len(self.elements), dtype=torch.float64))
        self.register_buffer("energy_scale", torch.tensor(1.0, dtype=torch.float64))
        for a in aux:
            self.register_buffer(f"aux_scale_{a}", torch.ones(head_width(a, len(self.elements)), dtype=torch.float64))

    def aux_scale(self, name: str) -> torch.Tensor:
        return getattr(self, f"aux_scale_{name}")

    def element_index(self, z: torch.Tensor) -> torch.Tensor:
        idx = self.z_index[z]
        if bool((idx < 0).any()):
            missing = sorted(set(z[idx < 0].tolist()))
            raise UnknownElementError(f"atomic numbers {missing} are not among the model's elements {self.elements}")
        return idx

    def aux_target(self, name: str, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Physical-unit target of auxiliary head `name` for the systems of `batch`."""
        idx = self.element_index(batch[keys.Z])
        return aux_target(name, batch, idx, len(self.elements), self.aux_sigma)

    def _channels(self, batch: dict[str, torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(edge_index, edge features) per message channel."""
        feats = self.rbf(batch[keys.DISTANCE])
        bond = batch[keys.BOND_TYPE]
        if self.bond_feature:
            feats = torch.cat([feats, nn.functional.one_hot(bond, N_BOND_TYPES).to(feats.dtype)], dim=1)
        if self.n_channels == 1:
            return [(batch[keys.EDGE_INDEX], feats)]
        masks = [bond == bt for bt in range(self.n_channels)]
        return [(batch[keys.EDGE_INDEX][:, m], feats[m]) for m in masks]

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        idx = self.element_index(batch[keys.Z])
        h0 = nn.functional.one_hot(idx, self.hidden).to(self.rbf.centres.dtype)  # one-hot padded to hidden
        channels = self._channels(batch)
        n_nodes = h0.shape[0]
        forms = [choose_form(self.message_form, ei.shape[1], n_nodes, self.T) for ei, _ in channels]
        prepared = [net.prepare(f, form) for net, (_, f), form in zip(self.edge_nets, channels, forms)]
        h = h0
        for _ in range(self.T):
            messages = [
                net(h, p, ei, form)
                for net, p, (ei, _), form in zip(self.edge_nets, prepared, channels, forms)
            ]
            h = self.update(messages, h)
        idx_m, n_systems = batch[keys.IDX_M], batch[keys.N_ATOMS].shape[0]
        node_energy = self.readout(h, h0).squeeze(1).double() * self.energy_scale + self.element_baseline[idx]
        out = {keys.NODE_ENERGY: node_energy, keys.ENERGY: scatter_sum(node_energy, idx_m, n_systems)}
        for name, head in self.aux_heads.items():
            out[name] = reduce_per_system(name, head(h, h0).double(), idx_m, n_systems) * self.aux_scale(name)
        return out
