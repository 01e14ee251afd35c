"""Static checks of the Dockerfiles, the shared base, scripts/images.sh and the requirements they
install (no image is built here: `make images` builds and smoke-tests them)."""

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
BASE_DOCKERFILE = ROOT / "deploy" / "docker" / "base.Dockerfile"
IMAGES_SH = ROOT / "scripts" / "images.sh"
# The pyproject extra each component's base installs.
EXTRAS = {
    "operator": "operator",
    "trainer": "services",
    "aggregator": "services",
    "producer": "services",
}


# pip install options whose value is a path, not a requirement
VALUED_OPTIONS = {"--prefix", "--target", "--root"}


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


def resolved_froms(path: Path) -> list[str]:
    """The image of every FROM, with the ARG defaults substituted."""
    args = resolve_args(path)
    images, stages = [], set()
    for word, rest in instructions(path):
        if word != "FROM":
            continue
        image, *alias = rest.split()
        if image not in stages:
            images.append(
                re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), image)
            )
        if len(alias) == 2 and alias[0].upper() == "AS":
            stages.add(alias[1])
    return images


def image_steps(component: str) -> list[tuple[str, str]]:
    """The instructions that make a component's image: the base's final stage, then its own."""
    base = instructions(BASE_DOCKERFILE)
    last_from = max(i for i, (word, _) in enumerate(base) if word == "FROM")
    return base[last_from:] + instructions(DOCKERFILES[component])


def test_base_is_multi_stage_from_a_pinned_slim_python() -> None:
    """The shared base is multi-stage, every stage from a slim Python 3.11 pinned by tag."""
    froms = resolved_froms(BASE_DOCKERFILE)
    assert len(froms) >= 2, "the base is not multi-stage"
    for image in froms:
        name, _, tag = image.partition(":")
        assert name in {"python", "docker.io/library/python"}, image
        assert re.fullmatch(r"3\.11\.\d+-slim-[a-z]+", tag), (
            f"base not pinned to a slim tag: {image}"
        )


@pytest.mark.parametrize("component", sorted(DOCKERFILES))
def test_component_builds_on_the_shared_base(component: str) -> None:
    """One FROM: the base with the component's dependency set, as scripts/images.sh tags it."""
    assert resolved_froms(DOCKERFILES[component]) == [f"flead-base-{EXTRAS[component]}:dev"]
    script = IMAGES_SH.read_text()
    assert '--build-arg "BASE_IMAGE=flead-base-$extras:$IMAGE_TAG"' in script
    assert f"{component}) echo {EXTRAS[component]} ;;" in script or (
        EXTRAS[component] == "services" and "*) echo services ;;" in script
    )


def test_the_four_dockerfiles_share_nothing_but_the_base() -> None:
    """What all four need lives in the base: no pip, venv or shared ENV repeated per component."""
    steps = {c: set(instructions(path)) for c, path in DOCKERFILES.items()}
    common = set.intersection(*steps.values())
    assert common <= {("FROM", "${BASE_IMAGE}"), ("USER", "10001:10001")}, common
    for component, path in DOCKERFILES.items():
        text = path.read_text()
        assert "pip" not in text, f"{component} installs packages itself"
        assert len(instructions(path)) <= 12, f"{component}'s Dockerfile grew shared steps"


@pytest.mark.parametrize(
    "path", [BASE_DOCKERFILE, *DOCKERFILES.values()], ids=lambda p: p.parent.name
)
def test_no_frontend_image_is_pulled(path: Path) -> None:
    """No `# syntax=` line: BuildKit would pull docker/dockerfile from Docker Hub for it."""
    assert "syntax=" not in path.read_text().splitlines()[0]


@pytest.mark.parametrize("component", sorted(DOCKERFILES))
def test_runs_as_numeric_non_root_user(component: str) -> None:
    """The image ends as a numeric, non-zero UID:GID (works with runAsNonRoot)."""
    users = [rest for word, rest in image_steps(component) if word == "USER"]
    assert users, "no USER in the final stage"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit(), users[-1]
    assert int(uid) > 0, users[-1]
    assert gid == "" or (gid.isdigit() and int(gid) > 0), users[-1]


@pytest.mark.parametrize(
    "path", [BASE_DOCKERFILE, *DOCKERFILES.values()], ids=lambda p: p.parent.name
)
def test_pip_installs_only_pinned_requirements(path: Path) -> None:
    """pip installs only requirements.txt (from pyproject pins), pinned pip, or the project itself."""
    for word, rest in instructions(path):
        if word != "RUN":
            continue
        for command in re.split(r"&&|;", rest):
            words = command.split()
            if "pip" not in " ".join(words[:2]) or "install" not in words:
                continue
            rest_words = words[words.index("install") + 1 :]
            targets = [
                w
                for i, w in enumerate(rest_words)
                if not w.startswith("-") and (i == 0 or rest_words[i - 1] not in VALUED_OPTIONS)
            ]
            for target in targets:
                assert target in {"requirements.txt", "."} or re.fullmatch(
                    r"[A-Za-z0-9_.-]+==[^=]+", target
                ), f"unpinned pip install target {target!r} in: {command.strip()}"
        assert "requirements.py" not in rest or "pyproject.toml" in rest


@pytest.mark.parametrize("component", sorted(DOCKERFILES))
def test_read_only_root_filesystem_ready(component: str) -> None:
    """No bytecode is written at run time, caches go to /tmp, the entry point is exec form."""
    steps = image_steps(component)
    env = " ".join(rest for word, rest in steps if word == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "MPLCONFIGDIR=/tmp" in env
    assert "HOME=/tmp" in env
    own = instructions(DOCKERFILES[component])
    entrypoints = [rest for word, rest in own if word == "ENTRYPOINT"]
    assert entrypoints, "no ENTRYPOINT"
    assert entrypoints[-1].startswith("["), "ENTRYPOINT must be exec form"
    assert any(word == "RUN" and "compileall" in rest for word, rest in own)
    assert any(word == "RUN" and "compileall" in rest for word, rest in steps[: -len(own)])


@pytest.mark.parametrize("component", sorted(DOCKERFILES))
def test_the_runtime_user_has_a_name_without_a_passwd_entry(component: str) -> None:
    """USER is set: getpass.getuser() (kopf's identity) then needs no passwd line for UID 10001."""
    env = " ".join(rest for word, rest in image_steps(component) if word == "ENV")
    assert re.search(r"(^|\s)USER=\w+", env), env


@pytest.mark.parametrize(
    "path", [BASE_DOCKERFILE, *DOCKERFILES.values()], ids=lambda p: p.parent.name
)
def test_copied_sources_exist_and_are_not_ignored(path: Path) -> None:
    """Every COPY source from the build context exists and is re-included by .dockerignore."""
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    included = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for word, rest in instructions(path):
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


def test_images_script_is_strict_and_knows_the_four_components() -> None:
    """scripts/images.sh: bash -n clean, set -euo pipefail, the same four components, the official
    base read from the base Dockerfile (one place to bump it)."""
    text = IMAGES_SH.read_text()
    assert "set -euo pipefail" in text
    subprocess.run(["bash", "-n", str(IMAGES_SH)], check=True)
    match = re.search(r"^COMPONENTS=\((.*)\)$", text, re.MULTILINE)
    assert match is not None
    assert sorted(match.group(1).split()) == sorted(DOCKERFILES)
    assert "sed -n 's/^ARG PYTHON_IMAGE=//p' \"$BASE_DOCKERFILE\"" in text
    assert "BASE_DOCKERFILE=deploy/docker/base.Dockerfile" in text
    # The Debian-built base must offer what the base Dockerfile uses: `python` on PATH (Debian's
    # python-is-python3), `python -m venv` (python3-venv), Python 3.11 (bookworm's python3).
    packages = re.search(r"^DEBIAN_PACKAGES=(\S+)$", text, re.MULTILINE)
    assert packages is not None
    assert {"python3", "python3-venv", "python-is-python3", "ca-certificates"} <= set(
        packages.group(1).split(",")
    )
    assert "DEBIAN_SUITE=bookworm" in text
    assert "3.11" in resolve_args(BASE_DOCKERFILE)["PYTHON_IMAGE"]
    usage = subprocess.run(
        ["bash", str(IMAGES_SH), "help"], capture_output=True, text=True, check=True
    )
    assert "load" in usage.stdout
    assert "CONTAINERD_ADDRESS" in usage.stdout


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
