"""A wrong mapping file is refused at load with the key path and a hint; a good one loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.errors import ConfigError
from agent.mapping import Mapping

KEY = b"k"


def base() -> dict[str, Any]:
    return {
        "constants": {"XZQHDM": "430702", "BMBM": "114307020000000001"},
        "types": {
            "SL": {
                "fields": {
                    "SBLSH": "SLBH",
                    "SLZTDM": {"column": "ZT", "codes": {"01": "1"}},
                }
            }
        },
    }


def fields(**changes: Any) -> dict[str, Any]:
    data = base()
    data["types"]["SL"]["fields"].update(changes)
    return data


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({**base(), "constant": {}}, r"mapping\.constant: unknown key.*did you mean 'constants'"),
        ({**base(), "spec": "2.0"}, r"mapping\.spec: this agent speaks spec 1\.0"),
        ({**base(), "timezone": "Beijing"}, r"mapping\.timezone: unknown time zone"),
        ({"constants": {}}, r"mapping\.types: no record types are mapped"),
        ({"types": {"SLL": {"fields": {}}}}, r"mapping\.types\.SLL: unknown record type.*'SL'"),
        ({"types": {"SL": {"field": {}}}}, r"mapping\.types\.SL\.field: unknown key.*'fields'"),
        (fields(SLZTDN={"column": "ZT"}),
         r"mapping\.types\.SL\.fields\.SLZTDN: the spec has no field 'SLZTDN'.*'SLZTDM'"),
        (fields(SLZTDM={"colum": "ZT"}),
         r"mapping\.types\.SL\.fields\.SLZTDM\.colum: unknown key.*did you mean 'column'"),
        (fields(SLZTDM={"column": "ZT", "codes": {"01": "1", "07": "9"}}),
         r"mapping\.types\.SL\.fields\.SLZTDM\.codes\.07: '9' is not a code of the spec; "
         r"allowed: 1, 2, 3, 4"),
        (fields(SLZTDM={"column": "ZT", "constant": "1"}), r"exactly one of 'column', 'constant'"),
        (fields(SLZTDM={}), r"SLZTDM: give exactly one of 'column'.*found none"),
        (fields(SLSJ={"column": "SLRQ", "type": "datetime"}),
         r"fields\.SLSJ\.type: unknown type 'datetime'"),
        (fields(BZ={"column": "BZ", "formats": ["%Y"]}),
         r"fields\.BZ\.formats: only used with type"),
        (fields(BZ={"template": "{A"}), r"fields\.BZ\.template: .*模板格式错误"),
        (fields(BZ={"column": "BZ", "vars": {}}), r"fields\.BZ\.vars: only used with 'template'"),
        (fields(BZ={"column": "BZ", "mask": {"keep_first": 3}}),
         r"fields\.BZ\.mask\.keep_first: unknown key.*'keep_start'"),
        (fields(BZ={"column": "BZ", "mask": {"keep_start": -1}}),
         r"fields\.BZ\.mask\.keep_start: must be 0 or more"),
        (fields(BZ={"column": "BZ", "mask": {}, "hash": True}), r"fields\.BZ: use either"),
        (fields(BZ={"column": "BZ", "hash": "yes"}), r"fields\.BZ\.hash: expected bool"),
        (fields(BZ={"column": 3}), r"fields\.BZ\.column: expected str"),
        ({**base(), "constants": {"BMBN": "1"}},
         r"mapping\.constants\.BMBN: the spec has no field 'BMBN' in SL records.*'BMBM'"),
        ({**base(), "types": {"SL": {"constants": {"SLZT": "1"}}}},
         r"mapping\.types\.SL\.constants\.SLZT: the spec has no field 'SLZT'"),
        ({**base(), "exclude": {"column": "MJ"}}, r"mapping\.exclude: write exclusion rules"),
        ({**base(), "exclude": [{"column": "MJ", "in": ["秘密"], "field": "SXBM"}]},
         r"mapping\.exclude\[0\]: give exactly one of 'column'"),
        ({**base(), "exclude": [{"column": "MJ"}]},
         r"mapping\.exclude\[0\]: give exactly one of 'in', 'not_in' or 'matches'"),
        ({**base(), "exclude": [{"column": "MJ", "inn": ["秘密"]}]},
         r"mapping\.exclude\[0\]\.inn: unknown key.*did you mean 'in'"),
        ({**base(), "exclude": [{"column": "MJ", "matches": "("}]},
         r"mapping\.exclude\[0\]\.matches: not a valid pattern"),
    ],
)  # fmt: skip
def test_mistakes_name_the_key_and_how_to_fix_it(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        Mapping.from_dict(data, hmac_key=KEY)


def test_the_file_path_is_the_start_of_every_key_path(tmp_path: Path) -> None:
    path = tmp_path / "mapping.toml"
    path.write_text('[types.SL.fields]\nSLZTDM = { column = "ZT", codez = {} }\n', "utf-8")
    with pytest.raises(ConfigError, match=rf"{path}\.types\.SL\.fields\.SLZTDM\.codez"):
        Mapping.load(path, hmac_key=KEY)


def test_unreadable_files_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the mapping file"):
        Mapping.load(tmp_path / "absent.toml", hmac_key=KEY)
    broken = tmp_path / "broken.toml"
    broken.write_text("[types.SL\n", "utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Mapping.load(broken, hmac_key=KEY)
    gbk = tmp_path / "gbk.toml"
    gbk.write_bytes('[constants]\nBMMC = "市场监督管理局"\n'.encode("gbk"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        Mapping.load(gbk, hmac_key=KEY)


def test_the_shipped_demo_mapping_loads() -> None:
    path = Path(__file__).parents[2] / "agent" / "mapping" / "examples" / "legacy_demo.toml"
    mapping = Mapping.load(path, hmac_key=KEY)
    assert mapping.record_types() == ["SB", "SL", "BJ"]
