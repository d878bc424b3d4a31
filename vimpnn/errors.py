"""Errors a user can act on: the CLI prints them as one line (no traceback)."""

from __future__ import annotations


class VimpnnError(Exception):
    """Base class of user-facing errors; messages name the file, record and field at fault."""

    vimpnn_user_error = True


class InputFormatError(VimpnnError, ValueError):
    """A malformed input file (structure, config, results)."""


class DFTSetupError(VimpnnError, RuntimeError):
    """DFT cannot start: missing binary, missing basis/potential, invalid settings."""


class DataFileError(VimpnnError, ValueError):
    """A corrupt, truncated or schema-violating HDF5 dataset file."""


class OutputError(VimpnnError, RuntimeError):
    """An output file or folder cannot be written (unwritable folder, full disk); names the path."""
