"""Shared helpers of the CLI tests."""

from collections.abc import Callable

import pytest

from flead.cli.main import run

CliFailure = Callable[[list[str]], str]


@pytest.fixture
def cli_fails(capsys: pytest.CaptureFixture[str]) -> CliFailure:
    """Run `flead ARGV`, expect exit code 2 and return the single line it printed on stderr."""

    def fail(argv: list[str]) -> str:
        with pytest.raises(SystemExit) as info:
            run(argv)
        assert info.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
        return err[0]

    return fail
