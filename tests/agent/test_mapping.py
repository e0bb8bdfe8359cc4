"""Mapping rows to spec records: every feature of the mapping file, on plain dict rows."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agent.errors import ConfigError
from agent.mapping import Mapping, MapResult

KEY = b"local-secret-of-this-agent"


def sl_mapping(**extra_fields: Any) -> dict[str, Any]:
    """A small SL mapping; tests add or replace fields."""
    fields: dict[str, Any] = {
        "SBLSH": "SLBH",
        "SXBM": "SXBM",
        "SLSJ": {"column": "SLRQ"},
        "SLZTDM": {"column": "ZT", "codes": {"01": "1", "02": "2", "03": "3", "04": "4"}},
        "BSLYY": "BSLYY",
    }
    fields.update(extra_fields)
    return {
        "constants": {"XZQHDM": "430702", "BMBM": "114307020000000001"},
        "types": {"SL": {"fields": fields}},
    }


def row(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "SLBH": "43070203012026000123",
        "SXBM": "430702-SCJG-001",
        "SLRQ": "2026/09/24 10:00",
        "ZT": "01",
        "BSLYY": "无",
    }
    base.update(changes)
    return base


def map_sl(data: dict[str, Any], values: dict[str, Any], key: bytes = KEY) -> MapResult:
    return Mapping.from_dict(data, hmac_key=key).map_row("SL", values)


def test_a_row_becomes_a_valid_spec_record() -> None:
    result = map_sl(sl_mapping(), row())
    assert result.status == "ok", result.problems
    assert result.record == {
        "spec": "1.0",
        "type": "SL",
        "XZQHDM": "430702",
        "BMBM": "114307020000000001",
        "SJBBH": 1,
        "SBLSH": "43070203012026000123",
        "SXBM": "430702-SCJG-001",
        "SLSJ": "2026-09-24T10:00:00+08:00",
        "SLZTDM": "1",
    }
    assert result.problems == [] and result.reason == ""


def test_legacy_codes_are_translated() -> None:
    result = map_sl(sl_mapping(), row(ZT="02", BSLYY="材料不全"))
    assert result.status == "ok", result.problems
    assert result.record is not None and result.record["SLZTDM"] == "2"
    # A legacy integer column, and a spec code written as a TOML number, both work as text.
    numeric = sl_mapping(SLZTDM={"column": "ZT", "codes": {"1": 1, "2": 2}})
    assert map_sl(numeric, row(ZT=1)).record["SLZTDM"] == "1"  # type: ignore[index]


def test_an_unknown_legacy_code_makes_the_row_invalid_and_names_the_key_to_add() -> None:
    result = map_sl(sl_mapping(), row(ZT="07"))
    assert result.status == "invalid"
    [problem] = result.problems
    assert problem["code"] == "mapping.unknown_code" and problem["path"] == "SLZTDM"
    assert (
        "'07'" in problem["message_en"] and "types.SL.fields.SLZTDM.codes" in problem["message_en"]
    )
    assert "'07'" in problem["message_zh"]
    assert result.record is not None and "SLZTDM" not in result.record  # shown, partially


@pytest.mark.parametrize(
    ("legacy", "expected"),
    [
        ("2026/09/24 10:00", "2026-09-24T10:00:00+08:00"),
        ("20260924100000", "2026-09-24T10:00:00+08:00"),
        (" 2026-09-24 10:00:05 ", "2026-09-24T10:00:05+08:00"),
        ("2026-09-24 10:00:05.250", "2026-09-24T10:00:05+08:00"),
        ("2026年09月24日 10:00", "2026-09-24T10:00:00+08:00"),
        ("2026-09-24", "2026-09-24T00:00:00+08:00"),
        (20260924100000, "2026-09-24T10:00:00+08:00"),
        (datetime(2026, 9, 24, 10, 0), "2026-09-24T10:00:00+08:00"),
        (date(2026, 9, 24), "2026-09-24T00:00:00+08:00"),
        (datetime(2026, 9, 24, 2, 0, tzinfo=ZoneInfo("UTC")), "2026-09-24T10:00:00+08:00"),
    ],
)
def test_legacy_times_become_iso_8601_in_the_source_zone(legacy: Any, expected: str) -> None:
    result = map_sl(sl_mapping(), row(SLRQ=legacy))
    assert result.status == "ok", result.problems
    assert result.record is not None and result.record["SLSJ"] == expected


def test_the_zone_comes_from_the_file_or_the_source() -> None:
    data = {**sl_mapping(), "timezone": "Asia/Urumqi"}
    assert map_sl(data, row()).record["SLSJ"] == "2026-09-24T10:00:00+06:00"  # type: ignore[index]
    mapping = Mapping.from_dict(data, hmac_key=KEY, timezone="Asia/Shanghai")
    assert mapping.map_row("SL", row()).record["SLSJ"] == "2026-09-24T10:00:00+08:00"  # type: ignore[index]


def test_listed_time_formats_are_the_only_ones_tried() -> None:
    data = sl_mapping(SLSJ={"column": "SLRQ", "formats": ["%d.%m.%Y %H:%M"]})
    assert map_sl(data, row(SLRQ="24.09.2026 10:00")).record["SLSJ"] == (  # type: ignore[index]
        "2026-09-24T10:00:00+08:00"
    )
    result = map_sl(data, row(SLRQ="2026/09/24 10:00"))
    assert result.status == "invalid"
    assert result.problems[0]["code"] == "mapping.bad_time"
    assert "formats" in result.problems[0]["message_en"]


def test_an_unreadable_time_is_invalid_not_an_exception() -> None:
    result = map_sl(sl_mapping(), row(SLRQ="下午三点"))
    assert result.status == "invalid"
    assert [p["code"] for p in result.problems] == ["mapping.bad_time"]


def test_constants_per_file_and_per_type_and_a_version_override() -> None:
    data = sl_mapping()
    data["types"]["SL"]["constants"] = {"BMMC": "区市场监督管理局", "SJBBH": 2}
    record = map_sl(data, row()).record
    assert record is not None
    assert record["BMMC"] == "区市场监督管理局" and record["XZQHDM"] == "430702"
    assert record["SJBBH"] == 2


def test_file_wide_constants_go_only_to_types_that_have_the_field() -> None:
    data = sl_mapping()
    data["constants"]["BMMC"] = "区市场监督管理局"  # SL records have BMMC, SF records do not
    data["types"]["SF"] = {
        "fields": {"SXBM": "SXBM", "SFXMBM": "SFBM", "SFXMMC": "SFMC", "SFBZ": "SFBZ"}
    }
    mapping = Mapping.from_dict(data, hmac_key=KEY)
    sl = mapping.map_row("SL", row())
    assert sl.record is not None and sl.record["BMMC"] == "区市场监督管理局"
    sf = mapping.map_row(
        "SF", {"SXBM": "430702-SCJG-001", "SFBM": "F01", "SFMC": "工本费", "SFBZ": "10元/件"}
    )
    assert sf.status == "ok", sf.problems
    assert sf.record is not None and "BMMC" not in sf.record
    assert sf.record["SJBBH"] == 1  # SF records carry a version too
    assert sf.record["XZQHDM"] == "430702"


def test_the_case_number_is_composed_from_columns_constants_and_vars() -> None:
    data = sl_mapping(
        SBLSH={
            "template": "{XZQHDM}{BMBM_SHORT}{YEAR}{SERIAL:06d}",
            "vars": {
                "BMBM_SHORT": {"constant": "0301"},
                "YEAR": {"column": "SLRQ", "type": "time", "format": "%Y"},
                "SERIAL": {"column": "LSH"},
            },
        }
    )
    result = map_sl(data, row(LSH=" 123 "))
    assert result.record is not None and result.record["SBLSH"] == "43070203012026000123"
    folded = {k.lower(): v for k, v in row(LSH=7).items()}  # PostgreSQL folds names
    assert map_sl(data, folded).record["SBLSH"] == "43070203012026000007"  # type: ignore[index]
    direct = sl_mapping(SBLSH={"template": "{XZQHDM}0301{LSH:06d}"})  # a column by name
    assert map_sl(direct, folded).record["SBLSH"] == "4307020301000007"  # type: ignore[index]
    assert map_sl(data, row(LSH=45)).record["SBLSH"] == "43070203012026000045"  # type: ignore[index]
    missing = map_sl(data, row(LSH="无"))
    assert missing.status == "invalid"
    assert missing.problems[0]["code"] == "mapping.template_empty"
    assert "SERIAL" in missing.problems[0]["message_en"]


def test_a_template_naming_nothing_known_is_invalid_with_the_name() -> None:
    result = map_sl(sl_mapping(SBLSH={"template": "{XZQHDM}{NOPE}"}), row())
    assert result.status == "invalid"
    assert result.problems[0]["code"] == "mapping.template_unknown"
    assert "{NOPE}" in result.problems[0]["message_en"]


@pytest.mark.parametrize("level", ["秘密", "机密", " 绝密 "])
def test_secret_level_rows_are_excluded_with_the_reason(level: str) -> None:
    data = {
        **sl_mapping(),
        "exclude": [
            {"column": "MJ", "in": ["秘密", "机密", "绝密"], "reason": "secret-level item"}
        ],
    }
    result = map_sl(data, row(MJ=level, ZT="99"))  # excluded even though otherwise invalid
    assert result.status == "excluded"
    assert result.record is None and result.problems == []
    assert result.reason == f"secret-level item (MJ={level.strip()})"
    assert map_sl(data, row(MJ="")).status == "ok"
    assert map_sl(data, row(mj="秘密")).status == "excluded"  # names folded by the driver


def test_a_row_without_the_exclusion_column_is_quarantined_never_sent() -> None:
    # A steps query that forgot the secrecy column: the rule cannot tell, so nothing goes.
    data = {**sl_mapping(), "exclude": [{"column": "MJ", "in": ["秘密"], "reason": "secret"}]}
    result = map_sl(data, row())
    assert result.status == "invalid" and result.record is None
    [problem] = result.problems
    assert problem["code"] == "mapping.exclusion_column_missing"
    assert problem["path"] == "mapping.exclude[0]"
    assert "'MJ'" in problem["message_en"] and "add MJ to the query" in problem["message_en"]
    assert "涉密" in problem["message_zh"]


@pytest.mark.parametrize("value", [b"\xc3\xd8\xc3\xdc", "\ufffd\ufffd", "秘\ufffd"])
def test_an_exclusion_column_not_decoded_strictly_is_quarantined(value: object) -> None:
    # GBK bytes the driver could not decode, or text a lossy decoder replaced: 秘密 is not
    # recognisable any more, so the row must not be sent as if it were not secret.
    data = {**sl_mapping(), "exclude": [{"column": "MJ", "in": ["秘密"]}]}
    result = map_sl(data, row(MJ=value))
    assert result.status == "invalid" and result.record is None
    assert result.problems[0]["code"] == "mapping.exclusion_undecodable"
    assert "encoding" in result.problems[0]["message_en"]


def test_an_exclusion_rule_on_a_field_the_type_never_gets_is_refused_at_load() -> None:
    data = sl_mapping()
    data["exclude"] = [{"field": "SQRMC", "in": ["x"]}]  # SL records of this file have none
    with pytest.raises(ConfigError) as caught:
        Mapping.from_dict(data, hmac_key=KEY)
    message = str(caught.value)
    assert "mapping.exclude[0]" in message and "'SQRMC'" in message
    assert "[types.SL.fields]" in message


def test_a_table_without_the_exclusion_column_is_named_before_any_row_is_read() -> None:
    data = {**sl_mapping(), "exclude": [{"column": "MJ", "in": ["秘密"]}]}
    data["types"]["SL"]["exclude"] = [{"column": "SXBM", "matches": "GJMM"}]
    mapping = Mapping.from_dict(data, hmac_key=KEY)
    assert mapping.missing_exclusion_columns("SL", ["SLBH", "sxbm", "mj"], "T_SQ_SLXX") == []
    [message] = mapping.missing_exclusion_columns("SL", ["SLBH", "SXBM"], "(query)")
    assert "mapping.exclude[0]" in message and "'MJ'" in message and "(query)" in message
    assert "SL records" in message and "Fix:" in message


def test_items_can_be_excluded_by_spec_field_per_type() -> None:
    data = sl_mapping()
    data["types"]["SL"]["exclude"] = [{"field": "SXBM", "in": ["430702-GJMM-001"]}]
    result = map_sl(data, row(SXBM="430702-GJMM-001"))
    assert result.status == "excluded"
    assert "SXBM=430702-GJMM-001" in result.reason
    pattern = sl_mapping()
    pattern["types"]["SL"]["exclude"] = [{"column": "SXBM", "matches": "GJMM"}]
    assert map_sl(pattern, row(SXBM="430702-GJMM-002")).status == "excluded"
    kept = sl_mapping()
    kept["types"]["SL"]["exclude"] = [{"field": "SXBM", "not_in": ["430702-SCJG-001"]}]
    assert map_sl(kept, row()).status == "ok"
    assert map_sl(kept, row(SXBM="430702-SCJG-002")).status == "excluded"


def sb_mapping(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "SBLSH": "SLBH",
        "SXBM": "SXBM",
        "SBSJ": "SQRQ",
        "SQRMC": "SQRMC",
        "SQRLX": {"constant": "1"},
    }
    base.update(fields)
    return {
        "constants": {"XZQHDM": "430702", "BMBM": "114307020000000001"},
        "types": {"SB": {"fields": base}},
    }


def sb_row(**changes: Any) -> dict[str, Any]:
    base = {
        "SLBH": "43070203012026000123",
        "SXBM": "430702-SCJG-001",
        "SQRQ": "20260924093000",
        "SQRMC": "张三",
        "SFZH": "430702199001011234",
        "SJHM": "13812345678",
    }
    base.update(changes)
    return base


def test_id_numbers_and_phones_are_masked_before_the_record_exists() -> None:
    data = sb_mapping(
        SQRZJHM={"column": "SFZH", "mask": {"keep_start": 6, "keep_end": 4}},
        LXRSJ={"column": "SJHM", "mask": {"keep_start": 3, "keep_end": 4}},
    )
    result = Mapping.from_dict(data, hmac_key=KEY).map_row("SB", sb_row())
    assert result.status == "ok", result.problems
    assert result.record is not None
    assert result.record["SQRZJHM"] == "430702********1234"
    assert result.record["LXRSJ"] == "138****5678"
    short = Mapping.from_dict(data, hmac_key=KEY).map_row("SB", sb_row(SJHM="1234567"))
    assert short.record is not None and short.record["LXRSJ"] == "*******"  # nothing shown


def test_keyed_hashing_keeps_equal_values_comparable_and_the_raw_value_out() -> None:
    data = sb_mapping(
        SQRZJHM={"column": "SFZH", "hash": True, "upper": True},
        LXRXM={"column": "SJHM", "hash": True},  # any text field long enough for a digest
    )
    mapping = Mapping.from_dict(data, hmac_key=KEY)
    first = mapping.map_row("SB", sb_row(SFZH="43070219900101123x"))
    again = mapping.map_row("SB", sb_row(SFZH=" 43070219900101123X "))
    other_key = Mapping.from_dict(data, hmac_key=b"another agent").map_row(
        "SB", sb_row(SFZH="43070219900101123X")
    )
    assert first.status == "ok", first.problems
    assert first.record is not None and again.record is not None and other_key.record is not None
    digest = first.record["SQRZJHM"]
    assert digest.startswith("hmac:") and len(digest) == len("hmac:") + 64
    assert digest == again.record["SQRZJHM"]
    assert digest != other_key.record["SQRZJHM"]
    text = json.dumps(first.record, ensure_ascii=False)
    for raw in ("43070219900101123", "13812345678", "12345678"):
        assert raw not in text


def test_placeholders_count_as_empty_and_defaults_fill_them() -> None:
    data = sl_mapping(BZ={"column": "BZ", "default": "（无备注）"})
    for empty in ("无", "/", "null", "", "  ", None):
        result = map_sl(data, row(BSLYY=empty, BZ=empty))
        assert result.status == "ok", (empty, result.problems)
        assert result.record is not None
        assert "BSLYY" not in result.record
        assert result.record["BZ"] == "（无备注）"
    custom = {**sl_mapping(), "placeholders": ["暂无"]}
    kept = map_sl(custom, row(BSLYY="/"))
    assert kept.record is not None and kept.record["BSLYY"] == "/"
    assert "BSLYY" not in map_sl(custom, row(BSLYY="暂无")).record  # type: ignore[operator]


def test_text_is_trimmed_unless_told_otherwise() -> None:
    result = map_sl(sl_mapping(BZ="BZ"), row(SXBM="  430702-SCJG-001\t", BZ=" 备注 "))
    assert result.record is not None
    assert result.record["SXBM"] == "430702-SCJG-001" and result.record["BZ"] == "备注"
    untrimmed = map_sl(sl_mapping(BZ={"column": "BZ", "trim": False}), row(BZ=" 备注 "))
    assert untrimmed.record is not None and untrimmed.record["BZ"] == " 备注 "


def test_numbers_are_converted_and_bad_numbers_are_invalid() -> None:
    data = sl_mapping(GDBLSX="SX", GDBLSXDW={"constant": "G"}, GDSF={"column": "SF", "places": 2})
    result = map_sl(data, row(SX=" 20 ", SF="1,200.505"))
    assert result.status == "ok", result.problems
    assert result.record is not None
    assert result.record["GDBLSX"] == 20 and result.record["GDSF"] == 1200.5
    assert map_sl(data, row(SX=Decimal("5"), SF=Decimal("80"))).record["GDSF"] == 80  # type: ignore[index]
    bad = map_sl(data, row(SX="二十", SF="1.5"))
    assert bad.status == "invalid"
    assert [(p["code"], p["path"]) for p in bad.problems] == [("mapping.bad_number", "GDBLSX")]
    fraction = map_sl(data, row(SX="2.5"))
    assert fraction.problems[0]["code"] == "mapping.bad_number"


def test_records_failing_the_spec_carry_the_spec_problems() -> None:
    data = sl_mapping()
    result = map_sl(data, row(SLBH="/", ZT="02"))  # no case number; refusal without reason
    assert result.status == "invalid"
    assert result.record is not None and "SBLSH" not in result.record
    paths = {p["path"] for p in result.problems}
    assert "SBLSH" in paths
    for problem in result.problems:
        assert set(problem) >= {"code", "path", "message_zh", "message_en"}
        assert problem["message_zh"] and problem["message_en"]


def test_a_missing_column_is_invalid_naming_the_column() -> None:
    result = map_sl(sl_mapping(), {k: v for k, v in row().items() if k != "ZT"})
    assert result.status == "invalid"
    assert result.problems[0]["code"] == "mapping.missing_column"
    assert "'ZT'" in result.problems[0]["message_en"]


def test_column_names_match_whatever_case_the_driver_folds_to() -> None:
    lowered = {k.lower(): v for k, v in row().items()}
    assert map_sl(sl_mapping(), lowered).status == "ok"


def test_an_unmapped_record_type_is_invalid_not_an_exception() -> None:
    result = Mapping.from_dict(sl_mapping(), hmac_key=KEY).map_row("BJ", row())
    assert result.status == "invalid" and result.problems[0]["code"] == "mapping.unknown_type"


def test_bytes_in_a_text_column_point_at_the_encoding() -> None:
    result = map_sl(sl_mapping(), row(SXBM="张三".encode("gbk")))
    assert result.status == "invalid"
    assert "encoding" in result.problems[0]["message_en"]


def test_record_types_lists_the_mapped_types() -> None:
    data = sl_mapping()
    data["types"]["BJ"] = {"fields": {"SBLSH": "SLBH"}}
    assert Mapping.from_dict(data, hmac_key=KEY).record_types() == ["SL", "BJ"]


def test_mapping_is_pure_the_same_row_gives_the_same_record() -> None:
    mapping = Mapping.from_dict(sl_mapping(), hmac_key=KEY)
    values = row()
    snapshot = dict(values)
    assert mapping.map_row("SL", values) == mapping.map_row("SL", values)
    assert values == snapshot  # the row is not changed
