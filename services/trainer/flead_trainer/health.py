"""A tiny HTTP server for a trainer: /metrics, /healthz (loop alive) and /readyz (assigned, DB up)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

__all__ = ["Probes", "serve"]


class Probes:
    """Liveness: the loop ticked within `stall_seconds`. Readiness: assigned, no `why_not()`
    reason (e.g. the trainer's MongoDB writes are failing) and `ready_check()`."""

    def __init__(
        self,
        ready_check: Callable[[], bool],
        stall_seconds: float = 120.0,
        why_not: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.ready_check = ready_check
        self.why_not = why_not
        self.stall_seconds = stall_seconds
        self.last_tick = time.monotonic()
        self.assigned = False

    def tick(self) -> None:
        """Called by the loop after every batch or empty poll."""
        self.last_tick = time.monotonic()

    def alive(self) -> bool:
        """Whether the loop is making progress."""
        return time.monotonic() - self.last_tick < self.stall_seconds

    def ready(self) -> bool:
        """Whether the trainer is assigned and its database answers."""
        return self.not_ready_reason() is None

    def not_ready_reason(self) -> str | None:
        """Why the trainer is not ready, in one line; None when it is."""
        if not self.assigned:
            return "not assigned yet (starting)"
        reason = self.why_not()
        if reason is not None:
            return reason
        return None if self.ready_check() else "mongodb does not answer ping"


def serve(port: int, probes: Probes, addr: str = "0.0.0.0") -> ThreadingHTTPServer:
    """Start the server in a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/metrics":
                self._send(200, generate_latest(), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                ok = probes.alive()
                self._send(200 if ok else 503, b"ok\n" if ok else b"stalled\n")
            elif path == "/readyz":
                reason = probes.not_ready_reason()
                if reason is None:
                    self._send(200, b"ready\n")
                else:
                    self._send(503, f"not ready: {reason}\n".encode())
            else:
                self._send(404, b"not found\n")

        def _send(self, code: int, body: bytes, kind: str = "text/plain; charset=utf-8") -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            return

    server = ThreadingHTTPServer((addr, port), Handler)
    threading.Thread(target=server.serve_forever, name="probes", daemon=True).start()
    return server
