"""Energy baseline and target scales fitted on the training split only (docs/models.md).

Total energies (CP2K: ~-10^4 eV for a QM9 molecule) are dominated by per-atom constants. A least-squares
fit E ~ sum_e n_e b_e over the training systems (n_e = atoms of element e) removes them; the network learns
the residual divided by its training standard deviation. No global mean is subtracted: the energy stays a
sum of per-atom terms, so it extrapolates to larger systems.

When the dataset carries isolated-atom reference energies (HDF5 attribute `reference_energies`), the fit
is b_e = E_atom,e + d_e with the minimum-norm d: an element absent from the training split then keeps its
free-atom energy instead of 0 (which would be off by its whole total energy, ~400 eV for O), and elements
that the training systems cannot tell apart (e.g. C and H from CH4 alone) split the energy physically.
"""

from __future__ import annotations

import numpy as np
import torch

from vimpnn.data.arrays import SystemArrays


def element_counts(arrays: SystemArrays, index: np.ndarray, elements: tuple[int, ...]) -> np.ndarray:
    """(len(index), n_elements) atoms of each element per system."""
    col = np.full(119, -1, dtype=np.int64)
    col[list(elements)] = np.arange(len(elements))
    counts = np.zeros((len(index), len(elements)))
    for row, i in enumerate(index):
        counts[row] = np.bincount(col[arrays.numbers[arrays.atom_slice(int(i))]], minlength=len(elements))
    return counts


# Chemical symbols up to Kr, so training reads reference energies without importing ASE.
SYMBOLS = ("X H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br "
           "Kr").split()


def atom_references(arrays: SystemArrays, elements: tuple[int, ...]) -> np.ndarray:
    """Isolated-atom energies (eV) of `elements` from the file's provenance; 0 where none was computed."""
    refs = (arrays.attrs.get("reference_energies") or {}).get("energies", {})
    return np.array([float(refs.get(SYMBOLS[z], 0.0)) if z < len(SYMBOLS) else 0.0 for z in elements])


def fit_energy_baseline(
    arrays: SystemArrays, train: np.ndarray, elements: tuple[int, ...]
) -> tuple[np.ndarray, float]:
    """Per-element energies (eV; the free-atom energy, or 0, for elements absent from training) and the
    residual std (eV)."""
    counts = element_counts(arrays, train, elements)
    energy = arrays.energy[train]
    atoms = atom_references(arrays, elements)
    correction, *_ = np.linalg.lstsq(counts, energy - counts @ atoms, rcond=None)
    baseline = atoms + correction
    residual = energy - counts @ baseline
    return baseline, float(max(residual.std(), 1e-3))


def set_normalisation(model, arrays: SystemArrays, train: np.ndarray, loader) -> None:
    """Fit the model's energy baseline/scale and each auxiliary head's scale (RMS of its training target)."""
    baseline, scale = fit_energy_baseline(arrays, train, model.elements)
    model.element_baseline.copy_(torch.as_tensor(baseline))
    model.energy_scale.fill_(scale)
    if not model.aux:
        return
    targets: dict[str, list[torch.Tensor]] = {name: [] for name in model.aux}
    for batch in loader:
        for name in model.aux:
            targets[name].append(model.aux_target(name, batch))
    for name, parts in targets.items():
        rms = torch.cat(parts).pow(2).mean(0).sqrt()
        model.aux_scale(name).copy_(torch.where(rms > 1e-6, rms, torch.ones_like(rms)))
