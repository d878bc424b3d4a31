"""Training loss: MSE of the standardised energy plus alpha x the MSE of each auxiliary head (paper 4.3)."""

from __future__ import annotations

import torch

from vimpnn import keys


def loss_terms(model, out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Unweighted MSE per target, each in standardised units (energy / energy_scale, aux / aux_scale)."""
    terms = {keys.ENERGY: (((out[keys.ENERGY] - batch[keys.REF_ENERGY]) / model.energy_scale) ** 2).mean()}
    for name in model.aux:
        diff = (out[name] - model.aux_target(name, batch)) / model.aux_scale(name)
        terms[name] = (diff ** 2).mean()
    return terms


def total_loss(terms: dict[str, torch.Tensor], alpha: float) -> torch.Tensor:
    return terms[keys.ENERGY] + alpha * sum(v for k, v in terms.items() if k != keys.ENERGY)
