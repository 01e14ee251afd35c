"""Command-line entry points of `flead`."""
