"""Training hyper-parameters (the `train:` config section); defaults are the paper's (Appendix A.3).

Types and ranges are those of the `train` section of workflow/schemas/config.schema.yaml, the one definition
shared with Snakemake and the command line; tests check that its keys and defaults are these fields.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from vimpnn.models import AUX_HEADS
from vimpnn.validation import check


def parse_aux(aux: Any) -> Any:
    """YAML `none` or `a,b` as on the command line -> a list of head names; anything else unchanged."""
    if not isinstance(aux, str):
        return aux
    names = [a.strip() for a in aux.split(",") if a.strip()]
    return [] if [n.lower() for n in names] == ["none"] else names


@dataclass
class TrainConfig:
    model: str = "vimpnn"
    variant: str = "a.ii"  # VIMPNN only
    aux: list[str] | None = None  # None: all three heads for vimpnn, none for the MPNNs
    T: int = 3  # message-passing iterations
    message: int = 73  # message size (hidden size 73, or 219 for b variants)
    n_rbf: int = 47  # Gaussians in the distance expansion (+3 bond one-hot = 50 edge features for mpnn)
    rbf_max: float | None = None  # Å, last Gaussian centre; None: the cutoff (15 with complete molecule graphs)
    edge_width: int = 128  # hidden width of the edge network
    cutoff: float = 5.0  # Å, edges of every system; messages fade to 0 there through the envelope
    molecule_graph: str = "cutoff"  # molecules: "cutoff" like every system, or Gilmer's "complete" graph
    envelope: str = "polynomial"  # smooth cutoff: polynomial (p = 6, MACE/DimeNet) or cosine (SchNet)
    elements: list[int] = field(default_factory=lambda: [1, 6, 7, 8, 9, 13, 29])
    alpha: float = 0.3  # weight of each auxiliary MSE term
    aux_sigma: float = 0.05  # width of the Gaussian around the true scaling, spread over the scaling bins
    scaling_bins: list[float] = field(default_factory=lambda: [0.8, 1.6, 17])  # min, max, count of bins
    epochs: int = 360
    batch_size: int = 20  # paper: 20 (AugQM9, InfCrystal), 5 (growth)
    lr: float = 1e-4
    lr_schedule: str = "linear"  # linear: nmp_qc's ramp from lr to lr_decay x lr; plateau: ReduceLROnPlateau
    lr_decay: float = 0.6  # final factor of the linear ramp, or the plateau factor
    lr_ramp: list[float] = field(default_factory=lambda: [0.1, 0.9])  # linear: fractions of epochs it spans
    lr_patience: int = 10  # plateau: epochs without improvement before the rate is multiplied by lr_decay
    min_lr: float = 1e-6  # plateau: floor
    patience: int = 50  # early stopping: epochs without validation improvement
    seed: int = 0
    max_atoms: int | None = None  # drop larger systems from every split (paper growth: 75)
    max_train_atoms: int | None = None  # drop larger systems from the training split only (Fig 6: 25)
    max_train_groups: int | None = None  # train on the first N groups (molecules, growths) only: learning curves
    exclude_state_changed: bool = True  # drop systems whose energy came from a smearing retry rung (every split)
    device: str = "auto"  # auto: cuda when available, else cpu

    def __post_init__(self) -> None:
        self.aux = parse_aux(self.aux)
        check(asdict(self), "train config", section="train")

    @property
    def aux_heads(self) -> list[str]:
        if self.aux is None:
            return list(AUX_HEADS) if self.model == "vimpnn" else []
        return list(self.aux)

    def model_hparams(self) -> dict[str, Any]:
        """Keyword arguments of vimpnn.models.build_model for this config."""
        rbf_max = self.rbf_max if self.rbf_max is not None else (
            self.cutoff if self.molecule_graph == "cutoff" else 15.0)
        hp = dict(message=self.message, T=self.T, elements=list(self.elements), n_rbf=self.n_rbf,
                  rbf_max=float(rbf_max), edge_width=self.edge_width, aux=list(self.aux_heads),
                  aux_sigma=self.aux_sigma, scaling_bins=list(self.scaling_bins), envelope=self.envelope)
        if self.model == "vimpnn":
            hp["variant"] = self.variant
        return hp

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "train config",
                  flags: dict[str, str] | None = None) -> "TrainConfig":
        """`values` checked against the schema first, so an error names `where` (or the flag that set the key)."""
        values = {**values, "aux": parse_aux(values["aux"])} if "aux" in values else values
        check(values, where, section="train", flags=flags)
        return cls(**values)
