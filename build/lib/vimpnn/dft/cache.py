"""Content-addressed result cache: one JSON file per rendered-input sha256, written atomically.

A run killed at any moment leaves only complete files (write to a temporary name, then `os.replace`), so a rerun
recomputes exactly the structures whose file is missing.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


class ResultCache:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        path = self.path(key)
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None  # not written by us (renames are atomic): recompute and overwrite

    def put(self, key: str, record: dict) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key}.", suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(record, fh, sort_keys=True)
        os.replace(tmp, path)
