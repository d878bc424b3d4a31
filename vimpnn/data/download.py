"""Released datasets: download with resume, verify sha256, rename into place only when verified.

The manifest (`datasets/manifest.yaml`) lists `name, url, sha256, size` per file. URLs may be http(s),
file://, or a path relative to the manifest (the shipped release before a public URL exists).
A partial download lives in `name.part` and is continued with an HTTP Range request; a checksum
mismatch deletes it, so the next attempt starts clean instead of appending to bad bytes. A `.part` that is
already as large as the file (killed before the rename) or larger is verified, then renamed or refetched
whole, never resumed past its end. Errors writing the local file are reported as such, naming the path.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from vimpnn.config import load_config
from vimpnn.errors import InputFormatError, VimpnnError
from vimpnn.outputs import writing


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
    """Append the rest of `url` to `part` (all of it when `part` is absent); network and local errors apart."""
    from tqdm import tqdm

    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})

    def failed(exc: Exception) -> DownloadError:
        kept = part.stat().st_size if part.exists() else 0
        return DownloadError(f"{url}: download failed ({exc}); rerun to resume from {kept} bytes")

    try:
        response = urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the server's file is shorter than our part: it cannot be a prefix
            part.unlink()
            return _fetch(url, part, size, progress)
        raise failed(exc) from None
    except (urllib.error.URLError, OSError) as exc:
        raise failed(exc) from None
    with response:
        resumed = have > 0 and getattr(response, "status", 200) == 206
        with writing(part), open(part, "ab" if resumed else "wb") as fh, \
                tqdm(total=size, initial=have if resumed else 0, unit="B", unit_scale=True, disable=not progress,
                     desc=part.name) as bar:
            while True:
                try:
                    chunk = response.read(1 << 16)
                except OSError as exc:
                    raise failed(exc) from None
                if not chunk:
                    break
                fh.write(chunk)  # an OSError here is local (full disk): `writing` names the file
                bar.update(len(chunk))


def _verify(part: Path, entry: dict[str, Any], url: str) -> None:
    digest = sha256sum(part)
    if digest != entry["sha256"]:
        part.unlink()
        raise DownloadError(
            f"{entry['name']}: sha256 {digest} does not match the manifest's {entry['sha256']} "
            f"(from {url}); the partial file was deleted"
        )


def download(entry: dict[str, Any], out: str | os.PathLike, manifest_dir: Path, progress: bool = True) -> Path:
    """Fetch one manifest entry to `out`; on success `out` exists and matches the manifest's sha256."""
    out = Path(out)
    with writing(out):
        out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".part")
    url = _resolve(entry["url"], manifest_dir)
    size = int(entry["size"])
    if part.is_file() and part.stat().st_size >= size:  # complete (killed before the rename) or overlong
        try:
            _verify(part, entry, url)
        except DownloadError:  # bad bytes: deleted, fetched again from the start
            pass
        else:
            return _rename(part, out)
    if urllib.parse.urlparse(url).scheme == "file":
        try:
            _copy(urllib.request.url2pathname(urllib.parse.urlparse(url).path), url, part)
        except BaseException:
            part.unlink(missing_ok=True)  # a copy is not resumed: no partial file is kept
            raise
    else:
        _fetch(url, part, size, progress)
        got = part.stat().st_size
        if got < size:  # the server closed early: keep the bytes, the next run resumes
            raise DownloadError(f"{url}: connection closed after {got} of {entry['size']} bytes; rerun to resume")
    _verify(part, entry, url)
    return _rename(part, out)


def _copy(source: str, url: str, part: Path) -> None:
    """A local file to `part`, each error naming its side: shutil.copyfile names the source in write errors too."""
    try:
        src = open(source, "rb")
    except OSError as exc:
        raise DownloadError(f"{url}: cannot read ({exc.strerror or exc})") from None
    with src, writing(part), open(part, "wb") as dst:
        while True:
            try:
                chunk = src.read(1 << 20)
            except OSError as exc:
                raise DownloadError(f"{url}: cannot read ({exc.strerror or exc})") from None
            if not chunk:
                break
            dst.write(chunk)


def _rename(part: Path, out: Path) -> Path:
    with writing(out):
        os.replace(part, out)
    return out
