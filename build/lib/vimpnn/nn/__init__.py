"""Building blocks shared by the models: scatter reductions and radial expansions."""

from vimpnn.nn.radial import GaussianExpansion
from vimpnn.nn.scatter import scatter_mean, scatter_sum

__all__ = ["GaussianExpansion", "scatter_mean", "scatter_sum"]
