"""Builders shared by the agent's tests: configs, an enrolled agent, valid SB records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.enrol import enrol
from agent.mapping import Mapping
from agent.signing import AgentKeys, Enrolment
from agent.sources import SourceSettings, TableSettings
from agent.transport import build_client
from installer.legacy_demo_db import SLXX_COLUMNS, demo_applications

from .fake_collector import FakeCollector

DEPARTMENT = "330102001"

#: A mapping of T_SQ_SLXX to SB records. SBSJ knows only two of the legacy system's three
#: time formats when ``broken`` (rows with "%Y%m%d%H%M%S", every third, are invalid).
SB_MAPPING = """
spec = "1.0"
timezone = "Asia/Shanghai"
placeholders = ["", "无", "/"]

[constants]
XZQHDM = "430702"
BMBM = "114307020000000001"

[[exclude]]
column = "MJ"
in = ["秘密", "机密", "绝密"]
reason = "secret-level item / 涉密事项"

[types.SB.fields]
SXBM = "SXBM"
SXMC = "SXMC"
YWLSH = { column = "SLBH" }
SBSJ = { column = "SQRQ", type = "time", formats = [FORMATS] }
SQRMC = "SQRMC"
SQRLX = { column = "SQRLB", codes = { "GR" = "1", "QY" = "2" } }
SQRZJLX = { column = "ZJLX", codes = { "01" = "111" } }
SQRZJHM = { column = "SQRZJHM", upper = true, mask = { keep_start = 6, keep_end = 4 } }
LXRXM = "LXR"
LXRSJ = { column = "LXDH", mask = { keep_start = 3, keep_end = 4 } }
TJFS = { constant = "1" }

[types.SB.fields.SBLSH]
template = "{XZQHDM}0301{YEAR}{LSH:06d}"
vars.YEAR = { column = "SQRQ", type = "time", formats = [FORMATS], format = "%Y" }
"""
GOOD_FORMATS = '"%Y/%m/%d %H:%M", "%Y%m%d%H%M%S"'
BROKEN_FORMATS = '"%Y/%m/%d %H:%M"'


def write_mapping(path: Path, *, broken: bool = False) -> Path:
    path.write_text(
        SB_MAPPING.replace("FORMATS", BROKEN_FORMATS if broken else GOOD_FORMATS), "utf-8"
    )
    return path


def sb_source(odbc: str, mapping: Path, fetch_size: int = 7) -> SourceSettings:
    """Source "xzsp": SB records from the demo's T_SQ_SLXX by change time, no delay."""
    table = TableSettings(
        record_type="SB",
        table="T_SQ_SLXX",
        mode="timestamp",
        timestamp_column="XGSJ",
        key_column="ID",
        delay_seconds=0,
        reread_seconds=0,
    )
    return SourceSettings(
        name="xzsp", connection=odbc, fetch_size=fetch_size, tables=(table,), mapping=str(mapping)
    )


def sb_records(n: int, start: int = 0) -> list[dict[str, Any]]:
    """``n`` valid SB records mapped from demo rows (skipping secret-level ones)."""
    mapping = Mapping.load(write_mapping(Path(_tmp_dir()) / "sb.toml"), hmac_key=b"k" * 32)
    out: list[dict[str, Any]] = []
    for app in demo_applications(start + 2 * n + 10).applications[start:]:
        result = mapping.map_row("SB", dict(zip(SLXX_COLUMNS, app, strict=True)))
        if result.status == "ok" and result.record is not None:
            out.append(result.record)
        if len(out) == n:
            return out
    raise AssertionError("not enough valid demo rows")


def _tmp_dir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="esup-sb-")


def config_text(
    state_dir: Path,
    url: str = "https://collector.test",
    *,
    outbox: str = "",
    sources: str = "",
    extra: str = "",
) -> str:
    return f"""
[agent]
department = "{DEPARTMENT}"
state_dir = "{state_dir}"
name = "test-agent"

[collector]
url = "{url}"
timeout_seconds = 5

[outbox]
{outbox}

[push]
backoff_first_seconds = 2
backoff_cap_seconds = 300

[metrics]
enabled = false
{extra}
{sources}
"""


def write_config(tmp_path: Path, url: str = "https://collector.test", **kw: Any) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(config_text(tmp_path / "state", url, **kw), "utf-8")
    return path


def sqlite_source(odbc: str, mapping: Path, *, poll: int = 30, fetch: int = 7) -> str:
    return f"""
[[sources]]
name = "xzsp"
connection = "{odbc}"
timezone = "Asia/Shanghai"
fetch_size = {fetch}
mapping = "{mapping}"
poll_seconds = {poll}

[[sources.tables]]
record_type = "SB"
table = "T_SQ_SLXX"
mode = "timestamp"
timestamp_column = "XGSJ"
key_column = "ID"
delay_seconds = 0
reread_seconds = 0
"""


def enrolled(state_dir: Path, fake: FakeCollector) -> tuple[AgentKeys, Enrolment]:
    from agent.config import CollectorSection

    keys = AgentKeys(state_dir)
    section = CollectorSection("https://collector.test", None, None, None, 5.0, "")
    with build_client(section, fake.transport()) as client:
        enrolment = enrol(client, keys, token="good-token", department=fake.department)
    fake.tokens.add("good-token")
    return keys, enrolment
