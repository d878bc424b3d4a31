"""Train/val/test splits of docs/datasets.md and paper Section 5, always by group so no curve leaks across splits.

AugQM9 and the growth subsets split *groups* (a molecule with all its scalings, a growth, a scaled
configuration) by fractions after a seeded shuffle. InfCrystal follows the paper: per element curve,
`n_train` evenly spread lattice points train, the remaining points alternate val/test along the curve.
"""

from __future__ import annotations

import numpy as np

from vimpnn.errors import InputFormatError


def _counts(n: int, fractions: dict[str, float]) -> dict[str, int]:
    """Largest-remainder rounding of n * fractions; every split with a positive fraction gets >= 1 when n allows."""
    names = ["train", "val", "test"]
    f = np.array([float(fractions.get(k, 0.0)) for k in names])
    if np.any(f < 0) or f.sum() <= 0:
        raise InputFormatError(f"split fractions {fractions} must be non-negative and not all zero")
    f = f / f.sum()
    raw = n * f
    counts = np.floor(raw).astype(int)
    for k in np.argsort(-(raw - counts))[: n - counts.sum()]:
        counts[k] += 1
    for k in np.flatnonzero((f > 0) & (counts == 0)):  # tiny datasets: borrow from the largest split
        donor = int(np.argmax(counts))
        if counts[donor] > 1:
            counts[donor] -= 1
            counts[k] += 1
    return dict(zip(names, counts.tolist()))


def split_by_group(group: np.ndarray, fractions: dict[str, float], seed: int) -> dict[str, np.ndarray]:
    """System indices per split; groups are shuffled with `seed` and cut by `fractions`."""
    groups = np.unique(group)
    order = np.random.default_rng(seed).permutation(groups)
    counts = _counts(len(groups), fractions)
    out, start = {}, 0
    for name in ("train", "val", "test"):
        chosen = order[start : start + counts[name]]
        start += counts[name]
        out[name] = np.flatnonzero(np.isin(group, chosen)).astype(np.int64)
    return out


def split_lattice_scan(group: np.ndarray, scale: np.ndarray, n_train: int) -> dict[str, np.ndarray]:
    """Per curve: n_train evenly spread points (ends included) train; the rest alternate val, test."""
    out: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for g in np.unique(group):
        idx = np.flatnonzero(group == g)
        idx = idx[np.argsort(scale[idx], kind="stable")]
        if n_train >= len(idx):
            raise InputFormatError(
                f"infcrystal.n_train_per_element = {n_train} leaves no validation/test points on a curve of {len(idx)}"
            )
        pick = np.unique(np.round(np.linspace(0, len(idx) - 1, n_train)).astype(int))
        rest = np.setdiff1d(np.arange(len(idx)), pick)
        out["train"].append(idx[pick])
        out["val"].append(idx[rest[0::2]])
        out["test"].append(idx[rest[1::2]])
    return {k: np.sort(np.concatenate(v)).astype(np.int64) for k, v in out.items()}


def make_splits(dataset: str, group: np.ndarray, scale: np.ndarray, config: dict) -> dict[str, np.ndarray]:
    """The splits of `dataset` as the config asks (see docs/datasets.md)."""
    seed = int(config.get("seed", 0))
    if dataset == "augqm9":
        return split_by_group(group, config.get("augqm9", {}).get("split", {"train": 0.8, "val": 0.1, "test": 0.1}), seed)
    if dataset == "infcrystal":
        return split_lattice_scan(group, scale, int(config.get("infcrystal", {}).get("n_train_per_element", 8)))
    if dataset in ("growth_stable", "growth_unstable"):
        section = config.get("growth", {}).get(dataset.split("_")[1], {})
        return split_by_group(group, section.get("split", {"train": 0.6, "val": 0.2, "test": 0.2}), seed)
    raise InputFormatError(f"no split rule for dataset {dataset!r}")
