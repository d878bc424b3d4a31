"""The retry ladder: (name, detect, fix) entries tried in order after a failed CP2K attempt.

`detect(outcome, tree)` says whether the entry applies to this failure and input; `fix(tree)` returns a patched
copy of the input tree. Each entry is used at most once per structure, up to `max_retries` retries:

1. `more_scf_steps`: any SCF failure or crash -> double MAX_SCF (and the outer-loop MAX_SCF under OT).
2. `smaller_mixing`: the input mixes densities (diagonalisation) -> halve the Broyden ALPHA, keep 8 buffers.
3. `diagonalisation_smearing`: the input uses OT -> replace OT + outer SCF by diagonalisation, Fermi-Dirac
   smearing (300 K), Broyden mixing (ALPHA 0.1) and added MOs; the safe (slower) path for small-gap systems.

A run that hit the wall-time limit is not retried (the same input would hit it again); it is recorded as failed.

`LADDER_VERSION` is a hash of this module's code: each CP2K record carries it, and a cached failure made with
another ladder is computed again (engine.py).
"""

from __future__ import annotations

import ast
import copy
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from vimpnn.dft.templates import get_path, set_path


@dataclass(frozen=True)
class Outcome:
    """One finished CP2K attempt as the handlers see it."""

    ok: bool
    reason: str | None
    walltime_exceeded: bool = False


def _retryable(outcome: Outcome, tree: dict) -> bool:
    return not outcome.ok and not outcome.walltime_exceeded


def _more_scf_steps(tree: dict) -> dict:
    tree = copy.deepcopy(tree)
    scf = "force_eval/dft/scf"
    set_path(tree, f"{scf}/max_scf", 2 * int(get_path(tree, f"{scf}/max_scf", 50)))
    if get_path(tree, f"{scf}/outer_scf") is not None:
        set_path(tree, f"{scf}/outer_scf/max_scf", 2 * int(get_path(tree, f"{scf}/outer_scf/max_scf", 10)))
    return tree


def _has_mixing(outcome: Outcome, tree: dict) -> bool:
    return _retryable(outcome, tree) and get_path(tree, "force_eval/dft/scf/mixing") is not None


def _smaller_mixing(tree: dict) -> dict:
    tree = copy.deepcopy(tree)
    path = "force_eval/dft/scf/mixing/alpha"
    set_path(tree, path, float(get_path(tree, path, 0.4)) / 2)
    return tree


def _uses_ot(outcome: Outcome, tree: dict) -> bool:
    return _retryable(outcome, tree) and get_path(tree, "force_eval/dft/scf/ot") is not None


def _diagonalisation_smearing(tree: dict) -> dict:
    tree = copy.deepcopy(tree)
    scf = get_path(tree, "force_eval/dft/scf")
    scf.pop("ot", None)
    scf.pop("outer_scf", None)
    n_atoms = len(get_path(tree, "force_eval/subsys/coord/*", []))
    scf.update({
        "max_scf": max(int(scf.get("max_scf", 50)), 200),
        "added_mos": max(8, 2 * n_atoms),
        "diagonalization": {"algorithm": "standard"},
        "smear": {"method": "fermi_dirac", "electronic_temperature": 300.0},
        "mixing": {"method": "broyden_mixing", "alpha": 0.1, "nbuffer": 8},
    })
    return tree


Handler = tuple[str, Callable[[Outcome, dict], bool], Callable[[dict], dict]]

HANDLERS: list[Handler] = [
    ("more_scf_steps", _retryable, _more_scf_steps),
    ("smaller_mixing", _has_mixing, _smaller_mixing),
    ("diagonalisation_smearing", _uses_ot, _diagonalisation_smearing),
]
# Rungs whose energy belongs to another electronic state than the initial input's: smearing gives fractional
# occupations and frees the UKS moment, so the energy does not sit on the same curve as its neighbours'.
# `vimpnn pack` flags the structures they rescued (/systems/electronic_state_changed), and training leaves them out.
STATE_CHANGING = frozenset({"diagonalisation_smearing"})


def next_fix(outcome: Outcome, tree: dict, used: set[str]) -> tuple[str, dict] | None:
    """The first unused handler that applies, with the patched tree; None when the ladder is exhausted."""
    for name, detect, fix in HANDLERS:
        if name not in used and detect(outcome, tree):
            return name, fix(tree)
    return None


def ladder_version(source: str) -> str:
    """16 hex digits of sha256 over a module's code without its docstrings and comments (edits of those keep it)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.unparse(tree).encode()).hexdigest()[:16]


LADDER_VERSION = ladder_version(Path(__file__).read_text())
