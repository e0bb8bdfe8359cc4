"""The contacts and notify commands, on a SQLite store, with a notifications file that points
the SMS provider at a local server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import Engine

from collector.cli import main
from collector.store.engine import make_engine
from collector.store.migrate import upgrade
from collector.store.tables import departments, verdicts

from .conftest import Handler, LocalApi
from .test_aliyun_sms import KEY_ID, SECRET, FakeDysms

DEPT = "11430700MB1234567X"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_contacts_then_run_once_sends_a_stored_verdict(
    tmp_path: Path, local_api: Callable[[Handler], LocalApi]
) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    engine: Engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(departments.insert().values(code=DEPT, name="市市场监督管理局"))
        conn.execute(
            verdicts.insert().values(
                sblsh="SB-9",
                department=DEPT,
                kind="red",
                code="",
                rule="red.legal",
                level="red",
                dedup_key="SB-9|red.legal|red",
                issued_at=datetime(2026, 12, 1, 0, 30, tzinfo=UTC),
                due={"legal_deadline": "2026-11-30"},
                calendar_version=1,
                rule_version="r",
                details={},
            )
        )
    engine.dispose()

    code, out = run(
        "contacts",
        "add",
        "--store",
        url,
        "--department",
        DEPT,
        "--role",
        "department_leader",
        "--name",
        "赵局长",
        "--phone",
        "+8613800000003",
    )
    assert code == 0, out
    code, out = run(
        "contacts",
        "add",
        "--store",
        url,
        "--department",
        DEPT,
        "--role",
        "department_leader",
        "--name",
        "错号",
        "--phone",
        "13800000003",
    )
    assert code == 1 and "E.164" in out
    code, out = run("contacts", "list", "--store", url)
    assert code == 0 and "赵局长" in out and "+8613800000003" in out

    dysms = FakeDysms()
    api = local_api(dysms)
    notify_file = tmp_path / "notify.toml"
    notify_file.write_text(
        f"""
[[routing.red]]
roles = ["department_leader"]
channels = ["sms"]

[sms]
provider = "aliyun"

[sms.aliyun]
access_key_id = "{KEY_ID}"
access_key_secret = "{SECRET}"
sign_name = "某市电子监察"
endpoint = "{api.url}"

[sms.aliyun.template_codes]
red = "SMS_460003"
""",
        encoding="utf-8",
    )
    code, out = run("notify", "check", "--store", url, "--notify-config", str(notify_file))
    assert code == 0 and "sms:   aliyun_sms" in out, out
    # Sunday evening: deferred, nothing sent
    code, out = run(
        "notify",
        "run-once",
        "--store",
        url,
        "--notify-config",
        str(notify_file),
        "--at",
        "2026-12-06T20:00+08:00",
    )
    assert code == 0, out
    assert "queued 1, sent 0, deferred 1" in out
    code, out = run("notify", "list", "--store", url)
    assert "deferred (outside_hours) sms" in out and "2026-12-07T00:30Z" in out
    code, out = run(
        "notify",
        "run-once",
        "--store",
        url,
        "--notify-config",
        str(notify_file),
        "--at",
        "2026-12-07T08:31+08:00",
    )
    assert "queued 0, sent 1" in out and "receipts 1" in out, out
    assert [s["PhoneNumbers"] for s in dysms.sent] == ["13800000003"]
    code, out = run("notify", "list", "--store", url, "--state", "sent")
    assert "receipt=delivered" in out
