"""Print the pinned requirements of an image, read from pyproject.toml.

Used inside the Dockerfiles' builder stage::

    python requirements.py pyproject.toml services > requirements.txt

Prints ``[project].dependencies`` plus the named extras, one per line, and
exits with status 1 when any of them is not pinned with ``==``, so an image
can never pick up an unpinned dependency.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

__all__ = ["pinned_requirements"]

_PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?==[^=<>~!*,;\s]+$")


def pinned_requirements(pyproject: Path, extras: list[str]) -> list[str]:
    """Return the base dependencies plus ``extras``; raise ValueError on an unpinned one."""
    project = tomllib.loads(pyproject.read_text())["project"]
    optional = project.get("optional-dependencies", {})
    requirements = list(project.get("dependencies", []))
    for extra in extras:
        if extra not in optional:
            raise ValueError(f"unknown extra {extra!r}; known: {', '.join(sorted(optional))}")
        requirements.extend(optional[extra])
    unpinned = [r for r in requirements if not _PINNED.match(r.replace(" ", ""))]
    if unpinned:
        raise ValueError(f"not pinned with ==: {', '.join(unpinned)}")
    return requirements


def main(argv: list[str]) -> int:
    """Entry point: ``requirements.py PYPROJECT [EXTRA...]``."""
    if len(argv) < 2:
        print("usage: requirements.py PYPROJECT [EXTRA...]", file=sys.stderr)
        return 2
    try:
        lines = pinned_requirements(Path(argv[1]), argv[2:])
    except (ValueError, KeyError, OSError) as exc:
        print(f"requirements.py: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
