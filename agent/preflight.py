"""Checks made before any row moves: that every exclusion rule can see the column it tests.

A rule on a column a table or query does not have would exclude nothing there (a steps
query without the secrecy column would send the secret steps), so ``esup-agent check``
fails on it and ``esup-agent run`` refuses to start. Rows read while such a gap exists are
quarantined by the mapping, never sent: this check only says so before they are read.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from .errors import ConfigError, SourceError
from .sources import OdbcSource, SourceSettings


@runtime_checkable
class ChecksColumns(Protocol):
    """What of a mapping this needs (agent.mapping.Mapping has it)."""

    def missing_exclusion_columns(
        self, record_type: str, columns: Iterable[str], table: str
    ) -> list[str]: ...


def exclusion_gaps(
    source: OdbcSource, settings: SourceSettings, mapping: ChecksColumns
) -> list[str]:
    """A message for every exclusion rule testing a column a table of the source lacks."""
    gaps = []
    for table in settings.tables:
        columns = source.columns(table)
        where = f"source {settings.name!r}, table {table.label}"
        gaps += mapping.missing_exclusion_columns(table.record_type, columns, where)
    return gaps


def refuse_exclusion_gaps(sources: Iterable[tuple[SourceSettings, object]]) -> list[str]:
    """Check every reachable source; raise ConfigError naming each gap. Returns the sources
    that could not be reached now (their rows are quarantined until the gap is fixed)."""
    gaps: list[str] = []
    unreachable: list[str] = []
    for settings, mapping in sources:
        if not isinstance(mapping, ChecksColumns):
            continue  # a mapper without exclusion rules (tests' stand-ins)
        try:
            with OdbcSource(settings) as source:
                gaps += exclusion_gaps(source, settings, mapping)
        except SourceError as exc:
            unreachable.append(str(exc))  # names the source
    if gaps:
        raise ConfigError("\n".join(gaps))
    return unreachable
