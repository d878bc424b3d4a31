"""Datasets as flat ragged arrays (SPEC §3): HDF5 I/O, splits, torch loading."""

from vimpnn.data.arrays import SystemArrays

__all__ = ["SystemArrays"]
