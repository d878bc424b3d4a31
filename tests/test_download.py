"""Download against a real HTTP server on 127.0.0.1 that honours Range requests and can drop a connection."""

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from vimpnn.cli.main import main
from vimpnn.data.download import DownloadError, download, load_manifest

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB of real bytes


class _Handler(BaseHTTPRequestHandler):
    cut_after: int | None = None  # serve only this many bytes of a full request, then close (a dropped link)
    requests: list = []

    def do_GET(self):  # noqa: N802 (http.server API)
        _Handler.requests.append(self.headers.get("Range"))
        start = 0
        rng = self.headers.get("Range")
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if _Handler.cut_after is not None and not rng:
            self.wfile.write(body[: _Handler.cut_after])
            self.wfile.flush()
            self.connection.close()
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Handler.requests = []
    _Handler.cut_after = None
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _entry(url, sha=None):
    return {"name": "x.h5", "url": url, "sha256": sha or hashlib.sha256(PAYLOAD).hexdigest(), "size": len(PAYLOAD)}


def test_download_verifies_and_renames(server, tmp_path):
    out = download(_entry(f"{server}/x.h5"), tmp_path / "x.h5", tmp_path, progress=False)
    assert out.read_bytes() == PAYLOAD and not (tmp_path / "x.h5.part").exists()


def test_dropped_connection_resumes_with_range(server, tmp_path):
    _Handler.cut_after = 300_000
    with pytest.raises(DownloadError, match="rerun to resume"):
        download(_entry(f"{server}/x.h5"), tmp_path / "x.h5", tmp_path, progress=False)
    assert (tmp_path / "x.h5.part").stat().st_size == 300_000 and not (tmp_path / "x.h5").exists()
    download(_entry(f"{server}/x.h5"), tmp_path / "x.h5", tmp_path, progress=False)
    assert _Handler.requests[-1] == "bytes=300000-"
    assert (tmp_path / "x.h5").read_bytes() == PAYLOAD


def test_wrong_checksum_deletes_partial_and_fails_clearly(server, tmp_path):
    with pytest.raises(DownloadError, match="does not match the manifest's 000"):
        download(_entry(f"{server}/x.h5", sha="0" * 64), tmp_path / "x.h5", tmp_path, progress=False)
    assert not (tmp_path / "x.h5.part").exists() and not (tmp_path / "x.h5").exists()


def test_cli_with_manifest_relative_path(tmp_path, capsys):
    (tmp_path / "release").mkdir()
    (tmp_path / "release" / "x.h5").write_bytes(PAYLOAD)
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(yaml.safe_dump({"files": [_entry("release/x.h5")]}))
    assert set(load_manifest(manifest)) == {"x.h5"}
    assert main(["download", "--manifest", str(manifest), "--name", "x.h5", "--out", str(tmp_path / "got" / "x.h5"), "--no-progress"]) == 0
    assert (tmp_path / "got" / "x.h5").read_bytes() == PAYLOAD
    assert main(["download", "--manifest", str(manifest), "--name", "nope", "--out", str(tmp_path / "n")]) == 2
    assert "no file named 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("manifest", ["datasets/manifest.yaml", "datasets/fast/manifest.yaml"])
def test_shipped_files_match_their_manifest(manifest):
    """Every shipped file has the manifest's size and sha256 and reads as a dataset; the fast level has forces."""
    from tests.conftest import ROOT
    from vimpnn.data.download import sha256sum
    from vimpnn.data.hdf5 import read_dataset

    path = ROOT / manifest
    for name, entry in load_manifest(path).items():
        f = path.parent / entry["url"]
        assert f.stat().st_size == entry["size"] and sha256sum(f) == entry["sha256"], name
        data = read_dataset(f)
        assert len(data) and not data.failed
        if "fast" in manifest:
            assert data.attrs["dft_backend"] == ("xtb" if name == "augqm9.h5" else "emt")
            assert data.forces is not None and data.forces.shape == data.positions.shape
