"""FLEAD's Grafana dashboards as code (grafana-foundation-sdk, Grafana 11.6 schema).

``python -m deploy.dashboards`` writes them to ``charts/flead/dashboards/*.json``;
``--check`` fails when the committed JSON differs from what the code generates.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from grafana_foundation_sdk.builders.dashboard import Dashboard
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from . import device, operator, overview

__all__ = ["DASHBOARDS", "render", "render_all"]

# file stem (charts/flead/dashboards/<stem>.json) -> builder
DASHBOARDS: dict[str, Callable[[], Dashboard]] = {
    "overview": overview.build,
    "device": device.build,
    "operator": operator.build,
}


def render(build: Callable[[], Dashboard]) -> str:
    """The dashboard's JSON, stable across runs (sorted keys, two-space indent, final newline)."""
    model = build().build()
    for number, panel in enumerate(model.panels or [], start=1):
        panel.id_val = number  # unique panel ids, in layout order
    return json.dumps(model, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def render_all() -> dict[str, str]:
    """Every dashboard's JSON by file stem."""
    return {stem: render(build) for stem, build in DASHBOARDS.items()}
