"""The downloader resumes with HTTP Range, checks size and checksum, and fails fast offline."""

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from flead.data.download import RemoteFile, download_file, make_client

pytestmark = pytest.mark.unit

PAYLOAD = bytes(range(256)) * 1000  # 256 kB


class _Handler(BaseHTTPRequestHandler):
    """Serves FILES with optional Range support and records the Range headers it saw."""

    files: ClassVar[dict[str, bytes]] = {}
    ranges: ClassVar[list[str | None]] = []
    honour_range = True

    def do_GET(self) -> None:
        body = self.files.get(self.path.lstrip("/"))
        if body is None:
            self.send_error(404)
            return
        wanted = self.headers.get("Range")
        self.ranges.append(wanted)
        start = int(wanted.split("=")[1].rstrip("-")) if wanted and self.honour_range else 0
        if start >= len(body) and start:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(body)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        self.wfile.write(body[start:])

    def log_message(self, *args: object) -> None:
        """Keep test output quiet."""


@pytest.fixture
def server() -> Iterator[str]:
    """A local HTTP server in a thread; yields its base URL."""
    _Handler.files = {"data.txt.gz": PAYLOAD}
    _Handler.ranges = []
    _Handler.honour_range = True
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def _remote(size: int | None = None, sha: str | None = None) -> RemoteFile:
    return RemoteFile("data.txt.gz", size, sha, "test")


def test_full_download_verifies_size_and_checksum(server: str, tmp_path: Path) -> None:
    """A fresh download lands complete, reports its sha256, and leaves no .part behind."""
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    seen: list[int] = []
    with make_client() as client:
        result = download_file(client, server, _remote(len(PAYLOAD), sha), tmp_path,
                               progress=lambda done, total: seen.append(done))  # fmt: skip
    assert result.path.read_bytes() == PAYLOAD
    assert result.sha256 == sha
    assert seen[-1] == len(PAYLOAD)
    assert not (tmp_path / "data.txt.gz.part").exists()
    with make_client() as client:
        again = download_file(client, server, _remote(len(PAYLOAD), sha), tmp_path)
    assert again.skipped
    assert _Handler.ranges == [None]  # the second call did not hit the server


def test_resume_from_part_uses_range(server: str, tmp_path: Path) -> None:
    """An existing .part is continued from its size with a Range request."""
    (tmp_path / "data.txt.gz.part").write_bytes(PAYLOAD[:100_000])
    with make_client() as client:
        result = download_file(client, server, _remote(), tmp_path)
    assert _Handler.ranges == ["bytes=100000-"]
    assert result.resumed_from == 100_000
    assert result.path.read_bytes() == PAYLOAD


def test_server_ignoring_range_restarts(server: str, tmp_path: Path) -> None:
    """A 200 answer to a Range request overwrites the .part instead of appending to it."""
    _Handler.honour_range = False
    (tmp_path / "data.txt.gz.part").write_bytes(b"garbage")
    with make_client() as client:
        result = download_file(client, server, _remote(), tmp_path)
    assert result.path.read_bytes() == PAYLOAD


def test_complete_part_answered_416_is_finished(server: str, tmp_path: Path) -> None:
    """When the .part already holds everything the server's 416 completes the download."""
    (tmp_path / "data.txt.gz.part").write_bytes(PAYLOAD)
    with make_client() as client:
        result = download_file(client, server, _remote(len(PAYLOAD)), tmp_path)
    assert result.path.read_bytes() == PAYLOAD


def test_checksum_mismatch_removes_part(server: str, tmp_path: Path) -> None:
    """A wrong sha256 is an error naming both digests; the bad .part is removed."""
    with make_client() as client, pytest.raises(ValueError, match="does not match"):
        download_file(client, server, _remote(None, "0" * 64), tmp_path)
    assert not (tmp_path / "data.txt.gz.part").exists()
    assert not (tmp_path / "data.txt.gz").exists()


def test_size_mismatch_keeps_part_for_resume(server: str, tmp_path: Path) -> None:
    """A short file (known size larger) is an error that keeps the .part to resume later."""
    with make_client() as client, pytest.raises(OSError, match="run again to resume"):
        download_file(client, server, _remote(len(PAYLOAD) + 10), tmp_path)
    assert (tmp_path / "data.txt.gz.part").stat().st_size == len(PAYLOAD)


def test_http_error_is_one_line(server: str, tmp_path: Path) -> None:
    """A 404 becomes an OSError naming the URL and status."""
    with make_client() as client, pytest.raises(OSError, match="HTTP 404"):
        download_file(client, server, RemoteFile("nope.txt", None, None, ""), tmp_path)


def test_offline_fails_fast(tmp_path: Path) -> None:
    """A closed port fails within seconds with one line that names the URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    with (
        make_client(connect_timeout=2.0) as client,
        pytest.raises(OSError, match="cannot download") as info,
    ):
        download_file(client, f"http://127.0.0.1:{port}/", _remote(), tmp_path)
    assert time.monotonic() - started < 5.0
    assert f"http://127.0.0.1:{port}/data.txt.gz" in str(info.value)
    assert "\n" not in str(info.value)
