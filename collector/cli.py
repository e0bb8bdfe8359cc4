"""Command line of the collector (esup-collector)."""

from __future__ import annotations

import click

from . import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="esup-collector")
def main() -> None:
    """Run the supervision bureau's esupervision collector.

    \b
    Examples:
      esup-collector serve --store sqlite:///var/collector.db
      esup-collector agents token --department 11430700MB1234567X
    """
