"""Building blocks shared by the models: scatter reductions, radial expansions and cutoff envelopes."""

from vimpnn.nn.radial import ENVELOPES, GaussianExpansion, envelope
from vimpnn.nn.scatter import scatter_mean, scatter_sum

__all__ = ["ENVELOPES", "GaussianExpansion", "envelope", "scatter_mean", "scatter_sum"]
