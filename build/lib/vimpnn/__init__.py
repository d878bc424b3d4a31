"""vimpnn: DFT reference data for out-of-equilibrium molecules and crystals, and the VIMPNN models."""

__version__ = "0.1.0"
