"""Download the Intel Lab files with resume (HTTP Range into `.part`), size and checksum checks."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = [
    "BASE_URL",
    "MANIFEST",
    "Downloaded",
    "RemoteFile",
    "download_file",
    "make_client",
    "sha256_of",
]

BASE_URL = "http://db.csail.mit.edu/labdata/"
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 60.0


@dataclass(frozen=True)
class RemoteFile:
    """A file of the dataset; `size` / `sha256` None = unknown, checked only when known."""

    name: str
    size: int | None
    sha256: str | None
    about: str


MANIFEST: tuple[RemoteFile, ...] = (
    RemoteFile("data.txt.gz", None, None, "readings, ~34 MB gzip (150 MB, 2,313,682 lines)"),
    RemoteFile("mote_locs.txt", None, None, "mote id, x, y in metres (54 lines)"),
    RemoteFile("connectivity.txt", None, None, "sender, receiver, delivery probability"),
)


@dataclass(frozen=True)
class Downloaded:
    """What `download_file` did: final path, size, sha256, bytes resumed from a `.part`."""

    path: Path
    size: int
    sha256: str
    resumed_from: int
    skipped: bool


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify(path: Path, remote: RemoteFile, expected_size: int | None) -> str:
    """Check size and checksum of a finished download; the sha256 on success."""
    size = path.stat().st_size
    want = remote.size if remote.size is not None else expected_size
    if want is not None and size > want:
        path.unlink()
        raise OSError(f"{remote.name}: got {size} bytes, more than {want}; removed it, run again")
    if want is not None and size != want:
        raise OSError(f"{remote.name}: got {size} bytes, expected {want}; run again to resume")
    digest = sha256_of(path)
    if remote.sha256 is not None and digest != remote.sha256:
        path.unlink()
        raise ValueError(
            f"{remote.name}: sha256 {digest} does not match the expected {remote.sha256}; "
            "the partial file was removed, run again"
        )
    return digest


def _present(final: Path, remote: RemoteFile) -> bool:
    """A finished file is kept when it matches every known size and checksum."""
    if not final.exists() or (remote.size is not None and final.stat().st_size != remote.size):
        return False
    return remote.sha256 is None or sha256_of(final) == remote.sha256


def _total_size(response: httpx.Response, offset: int) -> int | None:
    """The full size of the remote file from Content-Range or Content-Length."""
    content_range = response.headers.get("content-range", "")
    if response.status_code == 416 and "/" not in content_range:
        return None
    if "/" in content_range and not content_range.endswith("/*"):
        return int(content_range.rsplit("/", 1)[1])
    length = response.headers.get("content-length")
    return offset + int(length) if length is not None else None


def download_file(
    client: httpx.Client,
    base_url: str,
    remote: RemoteFile,
    dest_dir: Path,
    progress: Callable[[int, int | None], None] | None = None,
) -> Downloaded:
    """Fetch `remote` into `dest_dir`, resuming `<name>.part`; `progress(done, total)` as bytes arrive.

    A file already present is verified and kept when its size/checksum match what is known.
    Network failures raise OSError with one line that names the URL.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / remote.name
    if _present(final, remote):
        return Downloaded(final, final.stat().st_size, sha256_of(final), 0, True)
    part = dest_dir / f"{remote.name}.part"
    offset = part.stat().st_size if part.exists() else 0
    url = base_url.rstrip("/") + "/" + remote.name
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        with client.stream("GET", url, headers=headers) as response:
            if response.status_code == 416 and offset:  # the .part is already complete
                total: int | None = _total_size(response, 0) or offset
            else:
                if response.status_code not in (200, 206):
                    raise OSError(f"{url}: HTTP {response.status_code} {response.reason_phrase}")
                if response.status_code == 200:
                    offset = 0  # the server ignored Range: start again
                total = _total_size(response, offset)
                with part.open("ab" if offset else "wb") as sink:
                    done = offset
                    for chunk in response.iter_raw(1 << 16):  # bytes as stored, never decoded
                        sink.write(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, total)
    except httpx.TimeoutException as exc:
        raise OSError(f"cannot download {url}: timed out ({type(exc).__name__}); offline?") from exc
    except httpx.HTTPError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise OSError(f"cannot download {url}: {reason}; offline?") from exc
    digest = _verify(part, remote, total)
    part.replace(final)
    return Downloaded(final, final.stat().st_size, digest, offset, False)


def make_client(connect_timeout: float = CONNECT_TIMEOUT) -> httpx.Client:
    """An HTTP client that gives up connecting after `connect_timeout` seconds."""
    timeout = httpx.Timeout(READ_TIMEOUT, connect=connect_timeout)
    return httpx.Client(timeout=timeout, follow_redirects=True)
