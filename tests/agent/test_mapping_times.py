"""The fast reading of legacy times gives exactly what strptime and parse_time give.

The mapping reads fixed-width time texts by hand (agent/mapping/legacy_times.py) and caches
the zone's offset text per day; both are checked here against the slow originals on
generated texts, valid and invalid, and on times around offset changes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agent.mapping import Mapping
from agent.mapping.legacy_times import SURE_FAIL, UNSURE, FixedFormat, TimeReader
from agent.mapping.values import AUTO_TIME_FORMATS, ValueProblem, parse_time

#: The formats the task names first, then every automatic one the fast reader takes.
FAST_FORMATS = [
    "%Y%m%d%H%M%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d",
    *(f for f in AUTO_TIME_FORMATS if FixedFormat.for_format(f) is not None),
]
ZONES = ["Asia/Shanghai", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]


def strptime_iso(text: str, fmt: str) -> str | None:
    try:
        return datetime.strptime(text, fmt).isoformat()
    except ValueError:
        return None


def test_the_fast_formats_include_the_common_legacy_ones() -> None:
    for fmt in ("%Y%m%d%H%M%S", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d"):
        assert FixedFormat.for_format(fmt) is not None
    # Fractions, other directives and repeated fields stay with strptime.
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%d %b %Y", "%Y%Y", "%Y\t%m", "plain"):
        assert FixedFormat.for_format(fmt) is None


moments = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59))
# Texts near the shapes: digits (ASCII and others), separators, spaces, letters, CJK.
near_text = st.text(alphabet="0123456789" + "0123456789" + "-/: .T年月日t\t٣２", max_size=22)


@st.composite
def time_texts(draw: st.DrawFn) -> str:
    """A time written in some format, then maybe damaged."""
    fmt = draw(st.sampled_from(FAST_FORMATS))
    text = draw(moments).strftime(fmt)
    edits = draw(st.lists(st.tuples(st.integers(0, 25), near_text), max_size=2))
    for at, piece in edits:
        at = min(at, len(text))
        text = text[:at] + piece + text[at + len(piece) % 3 :]
    return text


@settings(max_examples=1500, deadline=None)
@given(fmt=st.sampled_from(FAST_FORMATS), text=st.one_of(time_texts(), near_text))
@example(fmt="%Y-%m-%d", text="2026-02-30")
@example(fmt="%Y-%m-%d", text="2024-02-29")
@example(fmt="%Y-%m-%d", text="2026-2-3")
@example(fmt="%Y%m%d%H%M%S", text="20260924100060")
@example(fmt="%Y%m%d%H%M%S", text="00000101000000")
@example(fmt="%Y%m%d%H%M%S", text="2026092410000")
@example(fmt="%Y%m%d%H%M%S", text="２０２６0924100000")
@example(fmt="%Y-%m-%d %H:%M:%S", text="2026-09-24  10:00:00")
@example(fmt="%Y-%m-%dT%H:%M:%S", text="2026-09-24t10:00:00")
@example(fmt="%Y/%m/%d %H:%M", text="2026/09/24 10:00")
def test_the_fast_reader_agrees_with_strptime(fmt: str, text: str) -> None:
    found = FixedFormat(fmt).read(text)
    expected = strptime_iso(text, fmt)
    if found is SURE_FAIL:
        assert expected is None
    elif found is not UNSURE:
        assert found == expected


@settings(max_examples=600, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    formats=st.sampled_from(
        [
            ("%Y/%m/%d %H:%M", "%Y%m%d%H%M%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"),
            ("%Y%m%d%H%M%S", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M:%S"),
            AUTO_TIME_FORMATS,
            ("%Y-%m-%d %H:%M:%S.%f", "%d/%m/%Y"),
        ]
    ),
    value=st.one_of(time_texts(), near_text, moments.map(str), st.integers(0, 10**14)),
)
@example(zone="Asia/Shanghai", formats=AUTO_TIME_FORMATS, value="2026-09-24T10:00:00+02:00")
@example(zone="Asia/Shanghai", formats=AUTO_TIME_FORMATS, value=20260924100000)
@example(zone="Asia/Shanghai", formats=AUTO_TIME_FORMATS, value=" 1900-12-31 23:57:00 ")
def test_the_time_reader_agrees_with_parse_time(
    zone: str, formats: tuple[str, ...], value: Any
) -> None:
    tz = ZoneInfo(zone)
    reader = TimeReader(tz, formats)
    try:
        expected = parse_time(value, tz, formats)
    except ValueProblem as problem:
        for read in (reader.iso, reader.date_iso, reader.moment):
            with pytest.raises(ValueProblem) as caught:
                read(value)
            assert (caught.value.code, caught.value.message_en) == (
                problem.code,
                problem.message_en,
            )
        return
    assert reader.iso(value) == expected.isoformat(timespec="seconds")
    assert reader.date_iso(value) == expected.date().isoformat()
    assert reader.moment(value) == expected
    assert reader.moment(value).tzinfo is expected.tzinfo


@pytest.mark.parametrize("zone", [*ZONES, "Asia/Kolkata", "America/St_Johns"])
def test_offsets_are_right_around_every_change_of_the_zone(zone: str) -> None:
    """Every 37 minutes through years with offset changes (DST, China's of 1986-1991,
    local mean time before 1901), read one after another as a table is."""
    tz = ZoneInfo(zone)
    reader = TimeReader(tz, ("%Y-%m-%d %H:%M:%S",))
    checked = 0
    for first, last in ((datetime(1900, 12, 1), datetime(1901, 2, 1)),
                        (datetime(1986, 3, 1), datetime(1986, 11, 30)),
                        (datetime(1991, 3, 1), datetime(1991, 11, 30)),
                        (datetime(2026, 3, 1), datetime(2026, 11, 30))):  # fmt: skip
        naive = first
        while naive < last:
            text = naive.strftime("%Y-%m-%d %H:%M:%S")
            assert reader.iso(text) == naive.replace(tzinfo=tz).isoformat(timespec="seconds")
            naive += timedelta(minutes=37)
            checked += 1
    assert checked > 30_000


def test_a_day_with_an_offset_change_is_not_cached_as_one_offset() -> None:
    reader = TimeReader(ZoneInfo("Europe/Berlin"), ("%Y-%m-%d %H:%M:%S",))
    assert reader.iso("2026-03-29 01:30:00") == "2026-03-29T01:30:00+01:00"
    assert reader.iso("2026-03-29 03:30:00") == "2026-03-29T03:30:00+02:00"
    assert reader.iso("2026-03-28 12:00:00") == "2026-03-28T12:00:00+01:00"


def sl(fields: dict[str, Any]) -> Mapping:
    return Mapping.from_dict(
        {
            "constants": {"XZQHDM": "430702", "BMBM": "114307020000000001"},
            "types": {"SL": {"fields": {"SXBM": "SXBM", **fields}}},
        },
        hmac_key=b"key",
    )


def test_templates_beyond_plain_names_keep_str_format_rules() -> None:
    """Conversions, attributes and nested specs go through str.format as before."""
    mapping = sl(
        {
            "SBLSH": {"template": "{XZQHDM}{N!s}{N.real}{A:>{W}}", "vars": {"W": {"constant": 3}}},
            "SLHZH": {"template": "{{{XZQHDM}}}-{Y:%m}", "vars": {"Y": {"column": "T"}}},
        }
    )
    row = {"SXBM": "430702-SCJG-001", "N": 7, "A": "x", "T": "2026-09-24 10:00:00"}
    record = mapping.map_row("SL", row).record
    assert record is not None
    assert record["SBLSH"] == "43070277  x"
    # A var of text type formatted with a time spec: text has no %m, so it is a problem.
    problems = mapping.map_row("SL", row).problems
    assert [p["path"] for p in problems if p["code"] == "mapping.bad_format"] == ["SLHZH"]


def test_a_time_var_formats_by_its_parts_and_early_years_take_the_long_way() -> None:
    mapping = sl(
        {
            "SLHZH": {
                "template": "{Y}",
                "vars": {"Y": {"column": "T", "type": "time", "format": "%Y/%m/%d-%H%M%S"}},
            }
        }
    )
    for text in ("2026-09-24 10:11:12", "0999-01-02 03:04:05"):
        moment = datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Asia/Shanghai"))
        iso = datetime.fromisoformat(moment.isoformat(timespec="seconds"))
        record = mapping.map_row("SL", {"SXBM": "430702-SCJG-001", "T": text}).record
        assert record is not None
        assert record["SLHZH"] == format(iso, "%Y/%m/%d-%H%M%S")


def test_a_constant_named_in_a_template_is_found_whatever_the_rows_keys() -> None:
    """The column search for a name the rows lack is remembered per set of keys."""
    mapping = sl({"SBLSH": {"template": "{XZQHDM}{LSH:06d}"}})
    upper = {"SXBM": "430702-SCJG-001", "LSH": "12"}
    lower = {"sxbm": "430702-SCJG-001", "lsh": "13", "xzqhdm": "999999"}
    for row, expected in ((upper, "430702000012"), (lower, "999999000013"), (upper, None)):
        record = mapping.map_row("SL", row).record
        assert record is not None
        assert record["SBLSH"] == (expected or "430702000012")
