"""CP2K CPU time and energy of one growth cluster under several `dft:` variants of its template, side by side:
how the single changes of docs/dft-validation.md ("Cost") were measured before they became defaults.

Each variant is a `templates: {metal_cluster: {...}}` layer over the config's `dft:` section (with the dataset's
`max_scale`), run in a fresh cache, one CP2K process with one thread; dE is per atom from the first variant.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/dft_variants.py growth_stable Al 15 \\
        '{"300 Ry": {"cutoff": 300}, "200 Ry": {"cutoff": 200}}'
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from vimpnn.config import load_config
from vimpnn.dft.cost import timed_run
from vimpnn.dft.settings import merge
from vimpnn.structures.datasets import build, max_scale

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=("growth_stable", "growth_unstable"))
    parser.add_argument("element", choices=("Al", "Cu"))
    parser.add_argument("size", type=int, help="atom count of the cluster (seed 0, the first scaling)")
    parser.add_argument("variants", help='JSON {name: {metal_cluster key: value}}, e.g. {"now": {}}')
    parser.add_argument("--config", default=str(ROOT / "config" / "config.yaml"))
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = "1"
    config = load_config(args.config)
    small = merge(config, {"growth": {"max_size": args.size, "stable": {"n_seeds": 1}, "unstable": {"n_seeds": 1}}})
    atoms = next(a for a in build(args.dataset, small) if a.info["element"] == args.element and len(a) == args.size)
    base = {**config["dft"], "max_scale": max_scale(args.dataset, config)}
    print(f"{atoms.info['system_id']} ({len(atoms)} atoms), {Path(args.config).name}'s level; load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    first = None
    for name, layer in json.loads(args.variants).items():
        with tempfile.TemporaryDirectory() as cache:
            cpu, r = timed_run([atoms], merge(base, {"templates": {"metal_cluster": layer}}), cache)[0]
        if r.status != "ok":
            print(f"{name:<24} {r.status}: {r.reason}")
            continue
        first = r.energy if first is None else first
        print(f"{name:<24} CPU {cpu:7.1f} s  SCF {r.scf_steps:3d}  E {r.energy:.9f} eV  "
              f"dE {(r.energy - first) / len(atoms) * 1e3:+.4f} meV/atom", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
