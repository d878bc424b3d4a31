"""Cost of the HDF5 integrity checks (docs/hdf5.md) on reading a paper-scale AugQM9-sized file.

Writes one synthetic file of `--systems` systems (`--atoms` atoms and as many bonds each: AugQM9 at paper
scale is 100,000 systems of ~18 atoms) with `write_dataset` (fletcher32 + content_sha256) and the same
arrays with plain h5py (no filter, no hash), then times, side by side in one process (median of `--repeats`):
reading every array of each file with h5py (the fletcher32 verification is the difference), computing
`content_sha256`, and the whole `read_dataset`. Arrays are random numbers of the right shapes and dtypes.

    .venv/bin/python benchmarks/integrity.py
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from vimpnn.data.arrays import SystemArrays
from vimpnn.data.hdf5 import content_sha256, read_dataset, stored_arrays, write_dataset


def synthetic(n: int, atoms: int) -> SystemArrays:
    rng = np.random.default_rng(0)
    offsets = np.arange(n + 1, dtype=np.int64) * atoms
    return SystemArrays(
        numbers=rng.choice([1, 6, 7, 8, 9], n * atoms).astype(np.int16), positions=rng.normal(size=(n * atoms, 3)),
        offsets=offsets, energy=rng.normal(-1e4, 10, n), cell=np.zeros((n, 3, 3)), pbc=np.zeros((n, 3), bool),
        scale=rng.uniform(0.9, 1.5, n), group=np.arange(n) // 10, source_id=np.arange(n) // 10,
        bond_offsets=offsets.copy(), bond_pairs=rng.integers(0, atoms, (n * atoms, 2)).astype(np.int32),
        bond_type=rng.integers(1, 3, n * atoms).astype(np.int8),
        splits={"train": np.arange(0, n, 2), "val": np.arange(1, n, 4), "test": np.arange(3, n, 4)},
        system_id=np.array([f"augqm9-{i:06d}" for i in range(n)], dtype=object),
    )


def read_all(path: Path) -> None:
    def read(name: str, obj) -> None:  # visititems stops at the first callback that returns a value
        if isinstance(obj, h5py.Dataset):
            obj[()]

    with h5py.File(path, "r") as f:
        f.visititems(read)


def median_s(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", type=int, default=100_000)
    parser.add_argument("--atoms", type=int, default=18)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    arrays = synthetic(args.systems, args.atoms)
    with tempfile.TemporaryDirectory() as tmp:
        checked, plain = Path(tmp) / "checked.h5", Path(tmp) / "plain.h5"
        write_dataset(checked, arrays)
        with h5py.File(plain, "w") as f:
            for name, data in stored_arrays(arrays).items():
                f.create_dataset(name, data=data, dtype=h5py.string_dtype() if data.dtype == object else None)
        t_plain = median_s(lambda: read_all(plain), args.repeats)
        t_fletcher = median_s(lambda: read_all(checked), args.repeats)
        t_hash = median_s(lambda: content_sha256(arrays), args.repeats)
        t_read = median_s(lambda: read_dataset(checked), args.repeats)
    mb = sum(a.nbytes for a in stored_arrays(arrays).values() if a.dtype != object) / 1e6
    print(f"{args.systems:,} systems x {args.atoms} atoms ({mb:.0f} MB of numeric arrays), median of {args.repeats}:")
    print(f"  h5py read, no checksums     {t_plain:.3f} s")
    print(f"  h5py read, fletcher32       {t_fletcher:.3f} s  ({t_fletcher / t_plain:.2f}x)")
    print(f"  content_sha256              {t_hash:.3f} s")
    print(f"  read_dataset (all checks)   {t_read:.3f} s  ({t_read / t_plain:.2f}x the plain read)")


if __name__ == "__main__":
    main()
