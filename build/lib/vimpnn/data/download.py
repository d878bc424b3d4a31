"""Released datasets: download with resume, verify sha256, rename into place only when verified.

The manifest (`datasets/manifest.yaml`) lists `name, url, sha256, size` per file. URLs may be http(s),
file://, or a path relative to the manifest (the shipped release before a public URL exists).
A partial download lives in `name.part` and is continued with an HTTP Range request; a checksum
mismatch deletes it, so the next attempt starts clean instead of appending to bad bytes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from vimpnn.config import load_config
from vimpnn.errors import InputFormatError, VimpnnError


class DownloadError(VimpnnError, RuntimeError):
    """The file could not be fetched or failed its checksum."""


def load_manifest(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """name -> entry of every released file; entries missing a field are an error naming it."""
    entries = load_config(path, what="manifest").get("files", [])
    out = {}
    for k, e in enumerate(entries):
        for key in ("name", "url", "sha256", "size"):
            if key not in e:
                raise InputFormatError(f"{path}: files[{k}] has no field {key!r}")
        out[e["name"]] = e
    return out


def sha256sum(path: str | os.PathLike, block: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            h.update(chunk)
    return h.hexdigest()


def _resolve(url: str, manifest_dir: Path) -> str:
    """Relative paths are relative to the manifest, so a shipped release works from any directory."""
    if urllib.parse.urlparse(url).scheme in ("http", "https", "file"):
        return url
    return (manifest_dir / url).resolve().as_uri()


def _fetch(url: str, part: Path, size: int, progress: bool) -> None:
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    from tqdm import tqdm

    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            resumed = have > 0 and getattr(response, "status", 200) == 206
            mode = "ab" if resumed else "wb"
            start = have if resumed else 0
            with open(part, mode) as out, tqdm(total=size, initial=start, unit="B", unit_scale=True,
                                               disable=not progress, desc=part.name) as bar:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError) as exc:
        raise DownloadError(f"{url}: download failed ({exc}); rerun to resume from {part.stat().st_size if part.exists() else 0} bytes") from None


def download(entry: dict[str, Any], out: str | os.PathLike, manifest_dir: Path, progress: bool = True) -> Path:
    """Fetch one manifest entry to `out`; on success `out` exists and matches the manifest's sha256."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".part")
    url = _resolve(entry["url"], manifest_dir)
    if urllib.parse.urlparse(url).scheme == "file":
        shutil.copyfile(urllib.request.url2pathname(urllib.parse.urlparse(url).path), part)
    else:
        _fetch(url, part, int(entry["size"]), progress)
        got = part.stat().st_size
        if got < int(entry["size"]):  # the server closed early: keep the bytes, the next run resumes
            raise DownloadError(f"{url}: connection closed after {got} of {entry['size']} bytes; rerun to resume")
    digest = sha256sum(part)
    if digest != entry["sha256"]:
        part.unlink()
        raise DownloadError(
            f"{entry['name']}: sha256 {digest} does not match the manifest's {entry['sha256']} "
            f"(from {url}); the partial file was deleted"
        )
    os.replace(part, out)
    return out
