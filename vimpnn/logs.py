"""Console output of long commands: timestamped log lines, and progress bars only on a terminal.

A progress bar redraws itself with carriage returns: on a terminal that is one live line, in a log file
(Snakemake's `&> log`, SLURM's output) thousands of fragments. Commands therefore show bars only when stderr
is a terminal and `--no-progress` is not given, and otherwise log one timestamped line per step.
"""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)s %(message)s"
DATEFMT = "%Y-%m-%d %H:%M:%S"


def setup_logging(level: int = logging.INFO) -> None:
    """Timestamped lines on stderr for the `vimpnn.*` loggers (called once by the command line)."""
    logger = logging.getLogger("vimpnn")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT, DATEFMT))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level)


def show_progress(no_progress: bool = False) -> bool:
    """Whether to draw a progress bar: stderr is a terminal and the user did not ask for none."""
    return not no_progress and sys.stderr.isatty()
