"""Command line of the spec (esup-spec)."""

from __future__ import annotations

import click

from .__version__ import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="esup-spec")
def main() -> None:
    """Validate records against the city data-exchange spec and write its documentation.

    \b
    Examples:
      esup-spec validate cases.jsonl
      esup-spec docs
    """
