"""`calendar add-workdays` answers on a machine with no collector store yet."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from collector.cli import main


def test_add_workdays_uses_the_built_in_calendar_before_any_store_exists(tmp_path: Path) -> None:
    data = tmp_path / "nothing-here"
    result = CliRunner().invoke(
        main, ["calendar", "add-workdays", "--data-dir", str(data), "2026-09-24", "5"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "2026-10-09\n"
    assert "built-in calendar" in result.stderr
    assert not data.exists()  # asking a date creates no store


def test_a_date_in_a_year_without_calendar_data_is_marked_provisional(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["calendar", "add-workdays", "--data-dir", str(tmp_path / "x"), "2026-12-30", "3"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "2027-01-04\n"
    assert "(provisional)" in result.stderr
