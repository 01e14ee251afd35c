"""Static checks of the four Dockerfiles and of the requirements they install (no Docker here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from deploy.docker.requirements import pinned_requirements

from .support import ROOT

pytestmark = pytest.mark.unit

DOCKERFILES = {
    "operator": ROOT / "operator" / "Dockerfile",
    "trainer": ROOT / "services" / "trainer" / "Dockerfile",
    "aggregator": ROOT / "services" / "aggregator" / "Dockerfile",
    "producer": ROOT / "services" / "producer" / "Dockerfile",
}


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        current += " " + stripped.rstrip("\\").strip() if current else stripped.rstrip("\\")
        if not stripped.endswith("\\"):
            logical.append(current.strip())
            current = ""
    out = []
    for item in logical:
        word, _, rest = item.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def resolve_args(path: Path) -> dict[str, str]:
    """Default values of the ARGs declared before the first FROM."""
    args = {}
    for word, rest in instructions(path):
        if word == "FROM":
            break
        if word == "ARG" and "=" in rest:
            key, _, value = rest.partition("=")
            args[key] = value
    return args


@pytest.mark.parametrize("component", sorted(DOCKERFILES))
def test_multi_stage_with_pinned_slim_base(component: str) -> None:
    """Each image is multi-stage and every stage starts from a slim Python base pinned by tag."""
    path = DOCKERFILES[component]
    args = resolve_args(path)
    froms = [rest for word, rest in instructions(path) if word == "FROM"]
    assert len(froms) >= 2, f"{path} is not multi-stage"
    for stage in froms:
        image = stage.split()[0]
        image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), image)
        name, _, tag = image.partition(":")
        assert name in {"python", "docker.io/library/python"}, image
        assert re.fullmatch(r"3\.11\.\d+-slim-[a-z]+", tag), (
            f"base not pinned to a slim tag: {image}"
        )


@pytest.mark.parametrize("component", sorted(DOCKERFILES))
def test_runs_as_numeric_non_root_user(component: str) -> None:
    """The final stage switches to a numeric, non-zero UID:GID (works with runAsNonRoot)."""
    steps = instructions(DOCKERFILES[component])
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    users = [rest for word, rest in steps[last_from:] if word == "USER"]
    assert users, "no USER in the final stage"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit(), users[-1]
    assert int(uid) > 0, users[-1]
    assert gid == "" or (gid.isdigit() and int(gid) > 0), users[-1]


@pytest.mark.parametrize("component", sorted(DOCKERFILES))
def test_pip_installs_only_pinned_requirements(component: str) -> None:
    """pip installs only requirements.txt (from pyproject pins), pinned pip, or the project itself."""
    for word, rest in instructions(DOCKERFILES[component]):
        if word != "RUN":
            continue
        for command in re.split(r"&&|;", rest):
            words = command.split()
            if "pip" not in " ".join(words[:2]) or "install" not in words:
                continue
            targets = [w for w in words[words.index("install") + 1 :] if not w.startswith("-")]
            for target in targets:
                assert target in {"requirements.txt", "."} or re.fullmatch(
                    r"[A-Za-z0-9_.-]+==[^=]+", target
                ), f"unpinned pip install target {target!r} in: {command.strip()}"
        assert "requirements.py" not in rest or "pyproject.toml" in rest


@pytest.mark.parametrize("component", sorted(DOCKERFILES))
def test_read_only_root_filesystem_ready(component: str) -> None:
    """No bytecode is written at run time, caches go to /tmp, the entry point is exec form."""
    steps = instructions(DOCKERFILES[component])
    env = " ".join(rest for word, rest in steps if word == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "MPLCONFIGDIR=/tmp" in env
    assert "HOME=/tmp" in env
    entrypoints = [rest for word, rest in steps if word == "ENTRYPOINT"]
    assert entrypoints, "no ENTRYPOINT"
    assert entrypoints[-1].startswith("["), "ENTRYPOINT must be exec form"
    assert any(word == "RUN" and "compileall" in rest for word, rest in steps)


@pytest.mark.parametrize("component", sorted(DOCKERFILES))
def test_copied_sources_exist_and_are_not_ignored(component: str) -> None:
    """Every COPY source from the build context exists and is re-included by .dockerignore."""
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    included = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for word, rest in instructions(DOCKERFILES[component]):
        if word != "COPY" or "--from=" in rest:
            continue
        sources = [w for w in rest.split() if not w.startswith("--")][:-1]
        for source in sources:
            assert (ROOT / source).exists(), f"COPY source missing: {source}"
            top = source.rstrip("/")
            assert any(top == inc or top.startswith(inc + "/") for inc in included), (
                f"{source} is excluded by .dockerignore"
            )


def test_entry_points_match_the_documented_ones() -> None:
    """Services run `python -m flead_<name>`; the operator runs kopf with liveness on 8085."""
    for name in ("trainer", "aggregator", "producer"):
        entry = [r for w, r in instructions(DOCKERFILES[name]) if w == "ENTRYPOINT"][-1]
        assert entry == f'["python", "-m", "flead_{name}"]'
    entry = [r for w, r in instructions(DOCKERFILES["operator"]) if w == "ENTRYPOINT"][-1]
    assert '"--standalone"' in entry
    assert "0.0.0.0:8085/healthz" in entry
    assert '"flead_operator.handlers"' in entry


def test_requirements_come_from_pyproject_pins(tmp_path: Path) -> None:
    """requirements.py prints pyproject's pins plus the extra, and refuses an unpinned one."""
    services = pinned_requirements(ROOT / "pyproject.toml", ["services"])
    assert any(r.startswith("confluent-kafka==") for r in services)
    assert all("==" in r for r in services)
    bad = tmp_path / "pyproject.toml"
    bad.write_text('[project]\ndependencies = ["numpy>=2"]\n')
    with pytest.raises(ValueError, match="not pinned"):
        pinned_requirements(bad, [])
    script = ROOT / "deploy" / "docker" / "requirements.py"
    result = subprocess.run(
        [sys.executable, str(script), str(bad)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "numpy>=2" in result.stderr
