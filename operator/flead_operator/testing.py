"""Run the operator as a subprocess (for cluster tests and the scale benchmark), like `make operator`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

__all__ = ["OperatorProcess", "free_port"]

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class OperatorProcess:
    """``kopf run --standalone`` of flead_operator.handlers with its own ports and log file."""

    def __init__(
        self,
        kubeconfig: str | Path,
        log_path: Path,
        namespaces: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.kubeconfig = str(kubeconfig)
        self.log_path = log_path
        self.namespaces = namespaces or []
        self.extra_env = env or {}
        self.liveness_port = free_port()
        self.metrics_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        """The kopf command line (the same as `make operator`, scoped to the namespaces)."""
        scope = [f"--namespace={ns}" for ns in self.namespaces] or ["--all-namespaces"]
        kopf = str(Path(sys.executable).with_name("kopf"))
        return [
            kopf,
            "run",
            "--standalone",
            f"--liveness=http://127.0.0.1:{self.liveness_port}/healthz",
            *scope,
            "-m",
            "flead_operator.handlers",
        ]

    def start(self, timeout: float = 60.0) -> OperatorProcess:
        """Start and wait until /healthz answers."""
        pythonpath = os.pathsep.join([str(REPO / "operator"), str(REPO / "src")])
        env = {
            **os.environ,
            "KUBECONFIG": self.kubeconfig,
            "PYTHONPATH": pythonpath,
            "FLEAD_OPERATOR_METRICS_PORT": str(self.metrics_port),
            **self.extra_env,
        }
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(self.command(), env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"operator exited with {self.proc.returncode}: {self.log_tail()}"
                )
            if self.healthz() == 200:
                return self
            time.sleep(0.2)
        raise TimeoutError(f"operator not healthy after {timeout}s: {self.log_tail()}")

    def _get(self, port: int, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
                return resp.status, resp.read().decode()
        except OSError as error:
            return getattr(error, "code", 0) or 0, ""

    def healthz(self) -> int:
        """HTTP status of the liveness endpoint (0 when nothing answers)."""
        return self._get(self.liveness_port, "/healthz")[0]

    def metrics(self) -> str:
        """The /metrics page."""
        return self._get(self.metrics_port, "/metrics")[1]

    def metric(self, name: str, labels: str = "") -> float:
        """Sum of the samples of ``name`` (optionally only those whose labels contain ``labels``)."""
        total = 0.0
        for line in self.metrics().splitlines():
            if line.startswith(name) and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                if key.split("{")[0] == name and labels in key:
                    total += float(value)
        return total

    def kill(self) -> None:
        """SIGKILL: the crash the restart tests simulate."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (graceful shutdown); returns the exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def log_tail(self, lines: int = 40) -> str:
        """The end of the operator's log."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
