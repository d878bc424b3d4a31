"""DFT energies of structures: CP2K (templated, cached, with a retry ladder) or the fast ASE EMT backend.

`compute(structures, settings) -> list[DFTResult]` is the entry point; `reference_energies` gives isolated atoms.
"""

from vimpnn.dft.engine import compute
from vimpnn.dft.references import reference_energies
from vimpnn.dft.result import DFTResult
from vimpnn.dft.settings import DEFAULTS, load_settings

__all__ = ["compute", "reference_energies", "DFTResult", "DEFAULTS", "load_settings"]
