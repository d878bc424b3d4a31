"""Datasets as flat ragged arrays (docs/hdf5.md): HDF5 I/O, splits, torch loading."""

from vimpnn.data.arrays import SystemArrays
from vimpnn.data.hdf5 import read_dataset, write_dataset

__all__ = ["SystemArrays", "read_dataset", "write_dataset"]
