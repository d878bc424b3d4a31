"""Node updates U_t (Eq. 2) for one or several bond-type channels (paper Sec. 4.2, variants a.i - c).

Each update takes the per-channel messages (list of (n, message) tensors, one per bond type) and the
hidden state; its GRU weights are shared across the T iterations (Gilmer et al.).
"""

from __future__ import annotations

from typing import Final

import torch
from torch import nn

VARIANTS: Final[tuple[str, ...]] = ("a.i", "a.ii", "b.i", "b.ii", "c")


class WeightedSumUpdate(nn.Module):
    """a) m_v = sum_BT lambda_BT m_v|BT (Eq. 4) into one GRU; lambda a vector (a.i), scalar (a.ii) or none
    (MPNN, one channel)."""

    def __init__(self, n_channels: int, message: int, hidden: int, weight: str | None):
        super().__init__()
        shape = {"vector": (n_channels, message), "scalar": (n_channels, 1)}.get(weight or "")
        self.lam = nn.Parameter(torch.ones(shape)) if shape else None
        self.gru = nn.GRUCell(message, hidden)

    def forward(self, messages: list[torch.Tensor], h: torch.Tensor) -> torch.Tensor:
        stacked = torch.stack(messages)  # (channels, n, message)
        if self.lam is not None:
            stacked = stacked * self.lam.unsqueeze(1)
        return self.gru(stacked.sum(0), h)


class ConcatUpdate(nn.Module):
    """b.i) the messages concatenated (3 x 73 = 219) into one GRU over the 219-wide hidden state."""

    def __init__(self, n_channels: int, message: int, hidden: int):
        super().__init__()
        self.gru = nn.GRUCell(n_channels * message, hidden)

    def forward(self, messages: list[torch.Tensor], h: torch.Tensor) -> torch.Tensor:
        return self.gru(torch.cat(messages, dim=1), h)


class SharedBlockUpdate(nn.Module):
    """b.ii) one GRU duplicated per bond type: block BT of the 219-wide hidden state is updated from
    s_BT * m_v|BT with the same GRU parameters and a learned scalar s_BT per type."""

    def __init__(self, n_channels: int, message: int):
        super().__init__()
        self.n_channels = n_channels
        self.scaling = nn.Parameter(torch.ones(n_channels, 1, 1))
        self.gru = nn.GRUCell(message, message)

    def forward(self, messages: list[torch.Tensor], h: torch.Tensor) -> torch.Tensor:
        n = h.shape[0]
        m = (torch.stack(messages) * self.scaling).reshape(self.n_channels * n, -1)
        blocks = h.view(n, self.n_channels, -1).transpose(0, 1).reshape(self.n_channels * n, -1)
        out = self.gru(m, blocks)  # all channels in one call: same weights, duplicated
        return out.view(self.n_channels, n, -1).transpose(0, 1).reshape(n, -1)


class PerChannelUpdate(nn.Module):
    """c) one GRU per bond type, h_v = sum_BT U_BT(h_v, m_v|BT) (Eq. 5)."""

    def __init__(self, n_channels: int, message: int, hidden: int):
        super().__init__()
        self.grus = nn.ModuleList(nn.GRUCell(message, hidden) for _ in range(n_channels))

    def forward(self, messages: list[torch.Tensor], h: torch.Tensor) -> torch.Tensor:
        return torch.stack([gru(m, h) for gru, m in zip(self.grus, messages)]).sum(0)


def hidden_size(variant: str | None, message: int, n_channels: int) -> int:
    """Node state width: the message size, except b variants (3 x 73 = 219, paper Appendix A.3)."""
    return n_channels * message if variant in ("b.i", "b.ii") else message


def build_update(variant: str | None, n_channels: int, message: int) -> nn.Module:
    """The update of `variant` (None: MPNN's single-channel GRU)."""
    hidden = hidden_size(variant, message, n_channels)
    if variant is None:
        return WeightedSumUpdate(n_channels, message, hidden, None)
    if variant in ("a.i", "a.ii"):
        return WeightedSumUpdate(n_channels, message, hidden, "vector" if variant == "a.i" else "scalar")
    if variant == "b.i":
        return ConcatUpdate(n_channels, message, hidden)
    if variant == "b.ii":
        return SharedBlockUpdate(n_channels, message)
    if variant == "c":
        return PerChannelUpdate(n_channels, message, hidden)
    raise ValueError(f"unknown VIMPNN variant {variant!r}; choose one of {', '.join(VARIANTS)}")
