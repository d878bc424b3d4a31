"""Training hyper-parameters (the `train:` config section); defaults are the paper's (Appendix A.3)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from vimpnn.errors import InputFormatError
from vimpnn.models import AUX_HEADS, MODEL_NAMES, VARIANTS


@dataclass
class TrainConfig:
    model: str = "vimpnn"
    variant: str = "a.ii"  # VIMPNN only
    aux: list[str] | None = None  # None: all three heads for vimpnn, none for the MPNNs
    T: int = 3  # message-passing iterations
    message: int = 73  # message size (hidden size 73, or 219 for b variants)
    n_rbf: int = 47  # Gaussians in the distance expansion (+3 bond one-hot = 50 edge features for mpnn)
    rbf_max: float = 15.0  # Å, last Gaussian centre
    edge_width: int = 128  # hidden width of the edge network
    cutoff: float = 5.0  # Å, edges of periodic cells and metal clusters (molecules: complete graph)
    elements: list[int] = field(default_factory=lambda: [1, 6, 7, 8, 9, 13, 29])
    alpha: float = 0.3  # weight of each auxiliary MSE term
    aux_sigma: float = 0.15  # width of the scaling Gaussian target
    epochs: int = 360
    batch_size: int = 20  # paper: 20 (AugQM9, InfCrystal), 5 (growth)
    lr: float = 1e-4
    lr_decay: float = 0.6  # ReduceLROnPlateau factor on validation MAE
    lr_patience: int = 10  # epochs without improvement before the learning rate is multiplied by lr_decay
    min_lr: float = 1e-6
    patience: int = 50  # early stopping: epochs without validation improvement
    seed: int = 0
    max_atoms: int | None = None  # drop larger systems from every split (paper growth: 75)
    max_train_atoms: int | None = None  # drop larger systems from the training split only (Fig 6: 25)
    device: str = "auto"  # auto: cuda when available, else cpu

    def __post_init__(self) -> None:
        if isinstance(self.aux, str):  # YAML "none" or "a,b" as on the command line
            names = [a.strip() for a in self.aux.split(",") if a.strip()]
            self.aux = [] if [n.lower() for n in names] == ["none"] else names
        if self.model not in MODEL_NAMES:
            raise InputFormatError(f"train.model: {self.model!r} is not one of {', '.join(MODEL_NAMES)}")
        if self.variant not in VARIANTS:
            raise InputFormatError(f"train.variant: {self.variant!r} is not one of {', '.join(VARIANTS)}")
        for name in self.aux or []:
            if name not in AUX_HEADS:
                raise InputFormatError(f"train.aux: {name!r} is not one of {', '.join(AUX_HEADS)}")

    @property
    def aux_heads(self) -> list[str]:
        if self.aux is None:
            return list(AUX_HEADS) if self.model == "vimpnn" else []
        return list(self.aux)

    def model_hparams(self) -> dict[str, Any]:
        """Keyword arguments of vimpnn.models.build_model for this config."""
        hp = dict(message=self.message, T=self.T, elements=list(self.elements), n_rbf=self.n_rbf,
                  rbf_max=self.rbf_max, edge_width=self.edge_width, aux=list(self.aux_heads),
                  aux_sigma=self.aux_sigma)
        if self.model == "vimpnn":
            hp["variant"] = self.variant
        return hp

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "train config") -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputFormatError(f"{where}: unknown keys {unknown}; known: {sorted(known)}")
        return cls(**values)
