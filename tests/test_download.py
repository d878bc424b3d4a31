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
            if start >= len(PAYLOAD):  # what real servers answer to a range past the end
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(PAYLOAD)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
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


@pytest.mark.parametrize("part_bytes", [PAYLOAD, PAYLOAD + b"stale tail", PAYLOAD[:-5] + b"wrong"],
                         ids=["complete", "oversize", "complete-but-corrupt"])
def test_part_at_or_above_the_expected_size_is_verified_not_resumed(server, tmp_path, part_bytes):
    """Issue 14.4: a `.part` of the full size (killed before the rename) or larger got HTTP 416 on every rerun."""
    (tmp_path / "x.h5.part").write_bytes(part_bytes)
    download(_entry(f"{server}/x.h5"), tmp_path / "x.h5", tmp_path, progress=False)
    assert (tmp_path / "x.h5").read_bytes() == PAYLOAD and not (tmp_path / "x.h5.part").exists()
    assert "bytes=" not in str(_Handler.requests)  # verified or refetched whole, never a Range past the end


def test_local_write_error_names_the_file_not_the_download(server, tmp_path):
    """Issue 14.4: a full disk (here: a file-size limit, the kernel's EFBIG) was reported as a download failure."""
    import resource
    import signal

    from vimpnn.errors import OutputError

    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, hard))
    try:
        with pytest.raises(OutputError) as exc:
            download(_entry(f"{server}/x.h5"), tmp_path / "x.h5", tmp_path, progress=False)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old)
    assert f"{tmp_path / 'x.h5.part'}: cannot write" in str(exc.value) and "download failed" not in str(exc.value)
    assert not isinstance(exc.value, DownloadError) and not (tmp_path / "x.h5").exists()
    download(_entry(f"{server}/x.h5"), tmp_path / "x.h5", tmp_path, progress=False)  # space again: it resumes
    assert (tmp_path / "x.h5").read_bytes() == PAYLOAD


def test_server_refusing_the_range_restarts_the_download(server, tmp_path):
    """A `.part` below the manifest size that the server still answers with 416 (its file is shorter) starts over."""
    short = _entry(f"{server}/x.h5")
    short["size"] = len(PAYLOAD) + 100  # the manifest expects more than the server has: the part is "short"
    (tmp_path / "x.h5.part").write_bytes(PAYLOAD + b"x" * 50)
    with pytest.raises(DownloadError, match="connection closed after 1048576 of 1048676 bytes"):
        download(short, tmp_path / "x.h5", tmp_path, progress=False)
    assert _Handler.requests == ["bytes=1048626-", None]


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


def test_local_copy_onto_a_full_disk_names_the_part_file(tmp_path):
    """Issue 15.1: a file:// or relative-path source onto a full disk said `file:///...: cannot read (...)`:
    shutil.copyfile names the source in its write errors too. Full disk: a file-size limit below the file's size."""
    import resource
    import signal

    from vimpnn.errors import OutputError

    (tmp_path / "release").mkdir()
    (tmp_path / "release" / "x.h5").write_bytes(PAYLOAD)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (len(PAYLOAD) // 2, hard))
    try:
        with pytest.raises(OutputError) as exc:
            download(_entry("release/x.h5"), tmp_path / "got" / "x.h5", tmp_path, progress=False)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old)
    assert str(exc.value) == f"{tmp_path / 'got' / 'x.h5.part'}: cannot write (File too large)"
    assert not any((tmp_path / "got").iterdir())
    with pytest.raises(DownloadError, match=r"missing\.h5: cannot read \(No such file or directory\)"):
        download(_entry("release/missing.h5"), tmp_path / "got" / "x.h5", tmp_path, progress=False)
