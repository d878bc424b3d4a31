"""Energy models: MPNN (Gilmer et al. 2017), its no-bond-type baseline, and VIMPNN (paper Sec. 4)."""

from __future__ import annotations

from typing import Final

from vimpnn.models.heads import AUX_HEADS
from vimpnn.models.network import MessagePassingModel
from vimpnn.models.updates import VARIANTS

MODEL_NAMES: Final[tuple[str, ...]] = ("mpnn", "mpnn_nobt", "vimpnn")


def build_model(name: str, **hparams) -> MessagePassingModel:
    """`mpnn` (bond-type one-hot in the edge features), `mpnn_nobt` (distance only, Table 1's baseline) or
    `vimpnn` (one channel per bond type, `variant` default a.ii). Other keyword arguments go to
    MessagePassingModel (message, T, elements, n_rbf, rbf_max, edge_width, aux, aux_sigma, message_form).
    """
    if name == "mpnn":
        return MessagePassingModel(n_channels=1, variant=None, bond_feature=True, **hparams)
    if name == "mpnn_nobt":
        return MessagePassingModel(n_channels=1, variant=None, bond_feature=False, **hparams)
    if name == "vimpnn":
        hparams.setdefault("variant", "a.ii")
        return MessagePassingModel(n_channels=3, bond_feature=False, **hparams)
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")


__all__ = ["AUX_HEADS", "MODEL_NAMES", "VARIANTS", "MessagePassingModel", "build_model"]
