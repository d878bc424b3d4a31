"""Shared test settings: one torch thread (CI has 2 cores) and the repository root."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def _single_thread():
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
