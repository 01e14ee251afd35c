"""The `flead` command: wires sub-commands together and turns usage errors into one line, exit 2."""

from __future__ import annotations

import sys

import click
import typer

from flead.cli import data, simulate, status

app = typer.Typer(
    name="flead",
    help="FLEAD: federated learning for anomaly detection on streaming IoT data.\n\n"
    "Start with `flead simulate --out reports/demo` to see the whole engine work in one process.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(data.app, name="data")
app.command("simulate")(simulate.simulate)
app.command("status")(status.status)


class CliError(Exception):
    """A user-facing error: printed as one line on stderr, exit code 2."""


def run(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    try:
        app(args=argv, standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.UsageError as exc:
        print(f"flead: error: {exc.format_message()}", file=sys.stderr)
        sys.exit(2)
    except (CliError, click.ClickException, OSError, ValueError) as exc:
        message = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
        print(
            f"flead: error: {message.splitlines()[0] if message else type(exc).__name__}",
            file=sys.stderr,
        )
        sys.exit(2)
