"""`flead data ...`: inspect, download and synthesise sensor data (owner: data)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Inspect, download and synthesise sensor data.", no_args_is_help=True)
