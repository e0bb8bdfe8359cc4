"""Checking whole record files: every record's problems plus the record-set rules per file.

This is the library side of ``esup-spec validate``: it streams a file, validates each record,
groups the few facts the record-set rules need by SBLSH (never whole records) and yields one
:class:`Finding` per problem, so the caller decides how to print them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .date_bounds import DEFAULT_DATE_BOUNDS, DateBounds
from .problem import Problem
from .record_files import is_json_array_file, read_entries
from .rules import RecordSetChecker
from .validate import validate_record


@dataclass(frozen=True)
class Finding:
    """One problem of one record of a file, with where it is."""

    file: str
    line: int  # line of a JSON Lines file, or position of the item in a JSON array
    in_array: bool
    record_type: str
    sblsh: str
    problem: Problem

    @property
    def where(self) -> str:
        return f"{self.file}[{self.line}]" if self.in_array else f"{self.file}:{self.line}"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": "problem", "file": self.file}
        out["item" if self.in_array else "line"] = self.line
        out.update(record_type=self.record_type, SBLSH=self.sblsh)
        out.update(self.problem.as_dict())
        out["record_type"] = self.record_type or self.problem.record_type
        return out


@dataclass
class FileStats:
    """Counts of one checked file."""

    records: int = 0
    invalid: int = 0
    invalid_lines: set[int] = field(default_factory=set)


def not_json_problem(line: int, error: str) -> Problem:
    return Problem(
        "input.not_json",
        "",
        f"第 {line} 行不是合法的 JSON({error});每行必须是一条完整的 JSON 对象记录:"
        "检查引号、逗号和括号是否配对,以及一条记录是否被换行拆成了多行",
        f"line {line} is not valid JSON ({error}); each line must hold one complete JSON "
        "object: check quotes, commas and brackets, and that no record is split over lines",
    )


def check_file(
    path: Path,
    stats: FileStats,
    progress: Callable[[int], None] | None = None,
    bounds: DateBounds = DEFAULT_DATE_BOUNDS,
) -> Iterator[Finding]:
    """Yield every finding of one file; fills ``stats``. Raises UnreadableInput."""
    name = str(path)
    in_array = is_json_array_file(path)
    checker: RecordSetChecker[int] = RecordSetChecker()
    for entry in read_entries(path):
        stats.records += 1
        if progress is not None:
            progress(entry.size)
        value = entry.value
        if entry.error is not None:
            problems = [not_json_problem(entry.line, entry.error)]
            rtype = sblsh = ""
        else:
            problems = validate_record(value, bounds)
            is_object = isinstance(value, dict)  # what json.loads makes of an object
            rtype = str(value.get("type", "")) if is_object else ""
            sblsh = str(value.get("SBLSH", "")) if is_object else ""
            if is_object:
                checker.add(value, entry.line)
        if problems:
            stats.invalid += 1
            stats.invalid_lines.add(entry.line)
            for problem in problems:
                yield Finding(name, entry.line, in_array, rtype, sblsh, problem)
    for sblsh, line, problem in checker.problems_by_case():
        if line not in stats.invalid_lines:
            stats.invalid += 1
            stats.invalid_lines.add(line)
        yield Finding(name, line, in_array, problem.record_type, sblsh, problem)
