"""kube-score on the rendered chart, failing on any CRITICAL not in IGNORED: ``python -m deploy.kube_score``.

kube-score (``github.com/zegl/kube-score``, MIT) is built from its Go module at KUBE_SCORE_VERSION
into ``~/.cache/flead/tools`` on first use (``--install`` only builds). The chart is rendered
with its defaults and with ``charts/flead/ci/production-values.yaml``; every CRITICAL finding must
match an entry of IGNORED, each of which says why it stands. Exit 1 otherwise, 2 when kube-score,
Go or helm is missing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from deploy.manifests import CHART, KUBE_VERSION, find_helm

__all__ = ["IGNORED", "KUBE_SCORE_VERSION", "Finding", "find_kube_score", "parse", "unexplained"]

KUBE_SCORE_VERSION = "1.20.0"
MODULE = "github.com/zegl/kube-score/cmd/kube-score"
TOOLS = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "flead" / "tools"
VALUES = (None, CHART / "ci" / "production-values.yaml")

# (object pattern "<Kind>/<name>", message pattern, why it stands). Keep it short.
IGNORED: tuple[tuple[str, str, str], ...] = (
    (
        r".*",
        r"ImagePullPolicy is not set to Always",
        "images are pinned by tag or digest (image.tag / <component>.image.tag: sha256:...) and "
        "are often loaded into the nodes without a registry (pullPolicy Never)",
    ),
    (
        r"NetworkPolicy/.*-trainers",
        r"selector doesn't match any pods",
        "the trainers are created by the operator, not by the chart",
    ),
    (
        r".*",
        r"Ephemeral Storage (limit|request) is not set",
        "no default size fits every cluster (logs, /tmp): set <component>.resources.*."
        "ephemeral-storage; a default request would also leave every pod Pending on nodes that "
        "report no ephemeral-storage (the test bed's KWOK nodes)",
    ),
    (
        r"StatefulSet/.*-(kafka|mongodb)",
        r"same readiness and liveness probe",
        "development-only single-node servers: accepting connections is both alive and ready",
    ),
    (
        r"StatefulSet/.*-(kafka|mongodb)",
        r"low (user|group) ID",
        "development-only Kafka and MongoDB run their upstream images' own users (1000 / 999), "
        "whose data directories belong to them",
    ),
)
LINE = re.compile(
    r"^\[(?P<level>[A-Z]+)\] (?P<name>[^/ ]+)/(?P<ns>\S*) (?P<api>[^: ]+):? ?(?P<text>.*)$"
)


@dataclass(frozen=True)
class Finding:
    """One line of `kube-score score --output-format ci`."""

    level: str
    kind: str
    name: str
    message: str

    @property
    def target(self) -> str:
        """<Kind>/<name>, what the ignore patterns match."""
        return f"{self.kind}/{self.name}"


def parse(output: str) -> list[Finding]:
    """The findings of kube-score's ci output (lines it does not recognise are skipped)."""
    out = []
    for line in output.splitlines():
        m = LINE.match(line.strip())
        if m:
            kind = m["api"].rsplit("/", 1)[-1]
            out.append(Finding(m["level"], kind, m["name"], m["text"]))
    return out


def unexplained(findings: Iterable[Finding]) -> list[Finding]:
    """The CRITICAL findings no IGNORED entry explains."""
    return [
        f
        for f in findings
        if f.level == "CRITICAL"
        and not any(
            re.fullmatch(target, f.target) and re.search(message, f.message)
            for target, message, _ in IGNORED
        )
    ]


def find_kube_score() -> str | None:
    """$KUBE_SCORE, PATH, or the build in ~/.cache/flead/tools."""
    built = TOOLS / f"kube-score-v{KUBE_SCORE_VERSION}" / "bin" / "kube-score"
    candidates = [os.environ.get("KUBE_SCORE", ""), shutil.which("kube-score") or "", str(built)]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def install() -> str:
    """Build kube-score from its Go module (once) and return its path."""
    go = shutil.which("go") or (
        "/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else ""
    )
    if not go:
        raise SystemExit("kube-score: Go is needed to build it (or set KUBE_SCORE)")
    gobin = TOOLS / f"kube-score-v{KUBE_SCORE_VERSION}" / "bin"
    gobin.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOBIN": str(gobin), "CGO_ENABLED": "0"}
    subprocess.run(
        [go, "install", "-trimpath", "-ldflags", "-s -w", f"{MODULE}@v{KUBE_SCORE_VERSION}"],
        env=env,
        check=True,
    )
    return str(gobin / "kube-score")


def render(helm: str, values: Path | None) -> str:
    """The chart as `helm template` renders it (release flead, namespace flead)."""
    args = [helm, "template", "flead", str(CHART), "-n", "flead", "--kube-version", KUBE_VERSION]
    args += ["-f", str(values)] if values else []
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def score(kube_score: str, manifest: str) -> list[Finding]:
    """kube-score's findings for one rendered manifest."""
    proc = subprocess.run(
        [kube_score, "score", "--output-format", "ci", "-"],
        input=manifest,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode not in (0, 1):  # 1 = it found something
        raise SystemExit(f"kube-score failed ({proc.returncode}): {proc.stderr.strip()}")
    return parse(proc.stdout)


def main(argv: list[str] | None = None) -> int:
    """Score the chart with default and production values; print what is not explained."""
    parser = argparse.ArgumentParser(prog="python -m deploy.kube_score", description=__doc__)
    parser.add_argument("--install", action="store_true", help="only build kube-score")
    args = parser.parse_args(argv)
    binary = find_kube_score() or install()
    if args.install:
        print(binary)
        return 0
    helm = find_helm()
    if helm is None:
        print("kube-score: helm not found (. .testbed/env, or set HELM)", file=sys.stderr)
        return 2
    bad = 0
    for values in VALUES:
        findings = score(binary, render(helm, values))
        label = values.name if values else "default values"
        left = unexplained(findings)
        ok = sum(f.level == "OK" for f in findings)
        critical = sum(f.level == "CRITICAL" for f in findings)
        print(f"{label}: {ok} OK, {critical} CRITICAL ({critical - len(left)} explained)")
        for f in left:
            print(f"  CRITICAL {f.target}: {f.message}")
        bad += len(left)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
