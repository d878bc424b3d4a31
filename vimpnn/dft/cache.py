"""Content-addressed result cache: one JSON file per cache key, written atomically, read defensively, claimed.

* Writes go to a temporary file in the same directory, then `os.replace`: a run killed at any moment leaves
  only complete files, so a rerun recomputes exactly the structures whose file is missing.
* A file that is not a result record (bad JSON, `{}`, missing or invalid fields) is reported in one log line
  naming it and computed again, never a traceback; so is a record the backend calls stale.
* `claim(key)` holds an `fcntl.flock` on `<key>.lock` next to the entry while one process computes it: a
  second process on the same cache (another `vimpnn dft`, a rerun beside an orphaned CP2K) does its other
  structures first, then waits for the first one's result instead of running the same input. The kernel
  drops the lock when its process dies, even by `kill -9`, so a dead process's claim is taken over at once.
  The lock file holds `pid N on HOST` for the message of whoever waits.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import socket
import tempfile
import threading
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Callable, Iterator

from vimpnn.dft.result import DFTResult

log = logging.getLogger(__name__)
POLL_S = 1.0  # how often a waiting process tries a claim again
REQUIRED = tuple(f.name for f in fields(DFTResult) if f.default is MISSING and f.default_factory is MISSING)
NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS)  # file systems without flock (some network mounts)


class ResultCache:
    def __init__(self, root: str | os.PathLike, stale: Callable[[DFTResult], str | None] = lambda r: None):
        self.root = Path(root)
        self.stale = stale
        self._reported: set[Path] = set()  # one log line per entry and process, however often it is read
        self._lock = threading.Lock()

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def lock_path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.lock"

    def _report(self, path: Path, level: int, message: str) -> None:
        with self._lock:
            if path in self._reported:
                return
            self._reported.add(path)
        log.log(level, "%s: %s", path, message)

    def get(self, key: str) -> DFTResult | None:
        """The cached record (`cached=True`), or None when there is none, it is invalid or it is stale."""
        path = self.path(key)
        try:
            record = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            self._report(path, logging.WARNING, f"invalid cache entry, not JSON ({exc}); computing it again")
            return None
        missing = [k for k in REQUIRED if k not in record] if isinstance(record, dict) else list(REQUIRED)
        if missing:
            what = "not a result record" if len(missing) == len(REQUIRED) else f"missing {', '.join(missing)}"
            self._report(path, logging.WARNING, f"invalid cache entry, {what}; computing it again")
            return None
        try:
            result = DFTResult.from_dict(record, cached=True)
            reason = self.stale(result)
        except (TypeError, ValueError, AttributeError) as exc:
            self._report(path, logging.WARNING, f"invalid cache entry ({exc}); computing it again")
            return None
        if reason is not None:
            self._report(path, logging.INFO, f"cached {result.status} record is stale: {reason}; computing it again")
            return None
        return result

    def put(self, key: str, record: dict) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key}.", suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(record, fh, sort_keys=True)
        os.replace(tmp, path)

    def holder(self, key: str) -> str:
        """Who holds the claim on `key` ("pid N on HOST"), as far as its lock file says."""
        try:
            return self.lock_path(key).read_text().strip() or "another process"
        except FileNotFoundError:
            return "another process"

    @contextlib.contextmanager
    def claim(self, key: str, wait: bool, stop: threading.Event) -> Iterator[bool]:
        """Yield True while this process holds the claim on `key`; False at once when another process holds it
        and `wait` is False (or when `stop` is set while waiting). The holder removes the lock file on release."""
        path = self.lock_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = self._acquire(path, wait, stop)
        if fd is None:
            yield False
            return
        try:
            if fd >= 0:
                os.ftruncate(fd, 0)
                os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
            yield True
        finally:
            if fd >= 0:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                os.close(fd)  # releases the lock; a waiter then finds the lock file gone and reads the entry

    def _acquire(self, path: Path, wait: bool, stop: threading.Event) -> int | None:
        """A locked descriptor of `path`; None when it is held elsewhere; -1 when the file system has no locks."""
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if not wait or stop.wait(POLL_S):
                    return None
                continue
            except OSError as exc:
                os.close(fd)
                if exc.errno not in NO_LOCKS:
                    raise
                self._report(path.parent, logging.WARNING, f"no file locks here ({exc.strerror}): two processes "
                             "on this cache may compute the same structure")
                return -1
            try:
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    return fd
            except FileNotFoundError:
                pass
            os.close(fd)  # the previous holder removed this file after we opened it: lock the current one
