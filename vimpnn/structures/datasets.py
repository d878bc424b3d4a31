"""The four datasets of docs/datasets.md as lists of ASE Atoms, from the config.

Every structure carries `atoms.info`: system_id (stable, unique), dataset, group (the DSC curve; the
split unit of augqm9), source_id (QM9 index / cluster size / lattice grid index) and scale; growth
structures also `lineage` (the growth, the split unit: all its sizes and scalings) and `element`.
"""

from __future__ import annotations

from typing import Any, Callable

from ase.data import atomic_numbers

from vimpnn.errors import InputFormatError
from vimpnn.structures.crystals import REFERENCE_LATTICE_CONSTANTS, lattice_scan
from vimpnn.structures.growth import cluster, grow_sites, growth_rng
from vimpnn.structures.qm9 import open_qm9
from vimpnn.structures.scaling import scaled, scaling_factors

DATASETS = ("augqm9", "infcrystal", "growth_stable", "growth_unstable")
# the config sections each dataset is built from; a config must give them (left out they would mean paper scale)
SECTIONS = {"augqm9": ("qm9", "augqm9"), "infcrystal": ("infcrystal",), "growth_stable": ("growth",),
            "growth_unstable": ("growth",)}


def _grid(section: dict) -> Any:
    g = section.get("scalings", {})
    return scaling_factors(g.get("min", 0.90), g.get("max", 1.50), g.get("n", 10))


def _lattice_constant(config: dict, element: str) -> float:
    constants = {**REFERENCE_LATTICE_CONSTANTS, **config.get("lattice_constants", {})}
    if element not in constants:
        raise InputFormatError(f"no reference lattice constant for {element!r}: set lattice_constants.{element}")
    return float(constants[element])


def _tag(atoms, **info):
    atoms.info.update(info)
    return atoms


def build_augqm9(config: dict) -> list:
    factors = _grid(config.get("augqm9", {}))
    out = []
    for rec in open_qm9(config.get("qm9", {}), config.get("qm9", {}).get("n_molecules", 10000)):
        ref = rec.to_atoms()
        for k, s in enumerate(factors):
            out.append(
                _tag(scaled(ref, s), system_id=f"augqm9-{rec.index:06d}-s{k:02d}", dataset="augqm9",
                     group=rec.index, source_id=rec.index, scale=float(s), smiles=rec.smiles)
            )
    return out


def build_infcrystal(config: dict) -> list:
    section = config.get("infcrystal", {})
    factors = _grid(section)
    out = []
    for g, element in enumerate(section.get("elements", ["Al", "Cu"])):
        a0 = _lattice_constant(config, element)
        for k, crystal in enumerate(lattice_scan(element, factors, a0, section.get("cell", "primitive"))):
            out.append(
                _tag(crystal, system_id=f"infcrystal-{element}-{k:05d}", dataset="infcrystal", group=g,
                     source_id=k, scale=float(factors[k]), element=element)
            )
    return out


def _growths(config: dict, n_seeds: int):
    """(element, growth index, growth id, lattice constant, sites) for the first n_seeds growths per element."""
    section = config.get("growth", {})
    elements = section.get("elements", ["Al", "Cu"])
    for e, element in enumerate(elements):
        a0 = _lattice_constant(config, element)
        for g in range(n_seeds):
            rng = growth_rng(config.get("seed", 0), atomic_numbers[element], g)
            yield element, g, e * n_seeds + g, a0, grow_sites(section.get("max_size", 114), rng)


def build_growth_stable(config: dict) -> list:
    section = config.get("growth", {})
    out = []
    for element, g, gid, a0, sites in _growths(config, section.get("stable", {}).get("n_seeds", 20)):
        for n in range(section.get("min_size", 15), len(sites) + 1):
            out.append(
                _tag(cluster(element, sites[:n], a0), system_id=f"growth_stable-{element}-g{g:02d}-n{n:03d}",
                     dataset="growth_stable", group=gid, lineage=gid, source_id=n, scale=1.0, element=element)
            )
    return out


def build_growth_unstable(config: dict) -> list:
    section = config.get("growth", {})
    unstable = section.get("unstable", {})
    factors = _grid(unstable)
    out = []
    config_id = 0
    for element, g, gid, a0, sites in _growths(config, unstable.get("n_seeds", 5)):
        for n in range(section.get("min_size", 15), len(sites) + 1):
            ref = cluster(element, sites[:n], a0)
            for k, s in enumerate(factors):
                out.append(
                    _tag(scaled(ref, s), system_id=f"growth_unstable-{element}-g{g:02d}-n{n:03d}-s{k:02d}",
                         dataset="growth_unstable", group=config_id, lineage=gid, source_id=n, scale=float(s),
                         element=element)
                )
            config_id += 1
    return out


BUILDERS: dict[str, Callable[[dict], list]] = {
    "augqm9": build_augqm9,
    "infcrystal": build_infcrystal,
    "growth_stable": build_growth_stable,
    "growth_unstable": build_growth_unstable,
}


def build(name: str, config: dict) -> list:
    """All structures of dataset `name` for this config, in a deterministic order."""
    if name not in BUILDERS:
        raise InputFormatError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    return BUILDERS[name](config)


def count_systems(name: str, config: dict) -> int:
    """Number of structures `build(name, config)` returns, without building them (for workflow planning).

    For augqm9 this assumes the QM9 source holds at least qm9.n_molecules molecules.
    """
    growth = config.get("growth", {})
    sizes = growth.get("max_size", 114) - growth.get("min_size", 15) + 1
    n_el = len(growth.get("elements", ["Al", "Cu"]))
    if name == "augqm9":
        return config.get("qm9", {}).get("n_molecules", 10000) * len(_grid(config.get("augqm9", {})))
    if name == "infcrystal":
        section = config.get("infcrystal", {})
        return len(section.get("elements", ["Al", "Cu"])) * len(_grid(section))
    if name == "growth_stable":
        return n_el * growth.get("stable", {}).get("n_seeds", 20) * sizes
    if name == "growth_unstable":
        unstable = growth.get("unstable", {})
        return n_el * unstable.get("n_seeds", 5) * sizes * len(_grid(unstable))
    raise InputFormatError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")


def max_scale(name: str, config: dict) -> float:
    """The largest scaling factor of dataset `name`: the DFT box of a finite system must hold it (docs/dft.md).

    growth_stable is built at s = 1.0 only; a box sized for another dataset's 1.5 would double its grid work.
    """
    if name == "growth_stable":
        return 1.0
    sections = {"augqm9": config.get("augqm9", {}), "infcrystal": config.get("infcrystal", {}),
                "growth_unstable": config.get("growth", {}).get("unstable", {})}
    if name not in sections:
        raise InputFormatError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    return float(max(_grid(sections[name])))
