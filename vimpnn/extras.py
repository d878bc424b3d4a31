"""Optional dependencies: an import that fails names the pip extra that provides it, in one line.

`pip install vimpnn` installs what training and prediction need; DFT inputs and molecular bond perception
(`[dft]`), figures (`[report]`) and the workflow (`[workflow]`) come as extras (pyproject.toml).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from vimpnn.errors import VimpnnError

# top-level module -> (pip distribution, extra that installs it)
EXTRAS: dict[str, tuple[str, str]] = {
    "rdkit": ("rdkit", "dft"),
    "cp2k_input_tools": ("cp2k-input-tools", "dft"),
    "matplotlib": ("matplotlib", "report"),
    "snakemake": ("snakemake", "workflow"),
    "schnetpack": ("schnetpack", "peer"),
}
# distributions installed without their declared dependencies (the extra brings those): schnetpack 2.1.1 pins
# sympy<=1.12, torch >= 2.5 needs sympy>=1.13.3, so a plain `pip install schnetpack` replaces torch
NO_DEPS = {"schnetpack": "schnetpack==2.1.1"}


class MissingExtraError(VimpnnError, ImportError):
    """An optional dependency is not installed."""


def require(module: str, why: str) -> ModuleType:
    """`module` imported, or MissingExtraError saying which extra to install; `why` names the task needing it."""
    top = module.split(".")[0]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] != top:
            raise  # the package is there but one of its own dependencies is broken: show the real error
        dist, extra = EXTRAS[top]
        hint = f"pip install 'vimpnn[{extra}]'" + (f" && pip install --no-deps '{NO_DEPS[top]}'" if top in NO_DEPS else "")
        raise MissingExtraError(f"{why} needs {dist}, which is not installed: {hint}") from None
