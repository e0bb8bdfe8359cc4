"""Every console script answers --version and --help, and every command explains itself."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from agent.cli import main as agent_main
from collector.cli import main as collector_main
from exchange_spec import __version__
from exchange_spec.cli import main as spec_main

MAINS = {"esup-spec": spec_main, "esup-agent": agent_main, "esup-collector": collector_main}


@pytest.mark.parametrize("prog", sorted(MAINS))
def test_version(prog: str) -> None:
    result = CliRunner().invoke(MAINS[prog], ["--version"])
    assert result.exit_code == 0
    assert prog in result.output and __version__ in result.output


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    yield prefix, group
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*prefix, name))
        else:
            yield (*prefix, name), cmd


@pytest.mark.parametrize("prog", sorted(MAINS))
def test_every_command_has_help(prog: str) -> None:
    for path, cmd in _commands(MAINS[prog]):
        assert (cmd.help or "").strip(), f"{prog} {' '.join(path)} has no help text"
        result = CliRunner().invoke(MAINS[prog], [*path, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage:" in result.output
