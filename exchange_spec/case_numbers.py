"""The structure of a case number (申办流水号 SBLSH): region + department + serial.

The city builds every case number the same way::

    430702     0301           2026 000001
    region     department     serial (here: year of application + 6-digit number)
    (XZQHDM)   (department part, assigned by the bureau)

Region and department part together are the department's *case-number prefix*
(``4307020301``): every case number the department issues starts with it, so the prefix says
whose case a number is before the case exists. The bureau registers each department's
prefixes with the collector, which refuses a record for a case number that starts with
another department's prefix (``foreign_case``). A department whose numbers follow no fixed
structure has no prefix; its cases are then told apart by the catalogue (the item's BMBM)
and, where neither says, by the department that delivered the case first.

Two departments' prefixes may not overlap (one the start of the other): a case number must
never match two departments.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

#: Length of the region part (XZQHDM, GB/T 2260).
REGION_DIGITS = 6
#: A prefix: the 6-digit region and a department part of 1 to 34 letters or digits.
PREFIX_RE = re.compile(r"^[0-9]{6}[0-9A-Za-z]{1,34}$")


def case_number_prefix(region: str, department_part: str) -> str:
    """The prefix of a department's case numbers: its region code and its department part."""
    prefix = f"{region}{department_part}"
    if len(region) != REGION_DIGITS or not PREFIX_RE.fullmatch(prefix):
        raise ValueError(_malformed(prefix)[1])
    return prefix


def prefix_problem(prefix: str) -> tuple[str, str] | None:
    """Why ``prefix`` cannot be a case-number prefix, as (Chinese, English); None when it can."""
    return None if PREFIX_RE.fullmatch(prefix) else _malformed(prefix)


def _malformed(prefix: str) -> tuple[str, str]:
    return (
        f"办件编号前缀 {prefix!r} 格式不对：应为 6 位行政区划代码加 1 至 34 位部门代码"
        "（字母或数字），例如 4307020301",
        f"case-number prefix {prefix!r} is malformed: it is the 6-digit region code followed "
        "by the department part (1 to 34 letters or digits), e.g. 4307020301",
    )


def owner_by_prefix(sblsh: str, prefixes: Mapping[str, str]) -> str | None:
    """The department whose registered prefix ``sblsh`` starts with; None when none does.

    ``prefixes`` maps prefix -> department. Registered prefixes never overlap, so at most one
    matches; the longest is taken all the same, so an overlap slipped in by hand still gives
    one answer."""
    best: str | None = None
    for prefix in prefixes:
        if sblsh.startswith(prefix) and len(sblsh) > len(prefix):
            if best is None or len(prefix) > len(best):
                best = prefix
    return prefixes[best] if best is not None else None


def overlapping(prefix: str, others: Iterable[str]) -> list[str]:
    """The prefixes of ``others`` that ``prefix`` overlaps (one starts with the other)."""
    return sorted(o for o in others if o.startswith(prefix) or prefix.startswith(o))
