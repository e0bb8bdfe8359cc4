"""Command line of the agent (esup-agent)."""

from __future__ import annotations

import click

from . import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="esup-agent")
def main() -> None:
    """Run the esupervision agent on a department's front-end machine.

    \b
    Examples:
      esup-agent init agent.toml
      esup-agent check -c agent.toml
      esup-agent run -c agent.toml
    """
