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


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a line is logged, not the stream of the first call: a process
    that redirects stderr later (tests, notebooks, `contextlib.redirect_stderr`) gets its lines there."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr


def setup_logging(level: int = logging.INFO) -> None:
    """Timestamped lines on stderr for the `vimpnn.*` loggers (called once by the command line)."""
    logger = logging.getLogger("vimpnn")
    if not logger.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter(FORMAT, DATEFMT))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level)


def show_progress(no_progress: bool = False) -> bool:
    """Whether to draw a progress bar: stderr is a terminal and the user did not ask for none."""
    return not no_progress and sys.stderr.isatty()
