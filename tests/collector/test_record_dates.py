"""The collector refuses records dated outside its record_dates_from .. record_dates_to
(default 2000-01-01 .. 2100-12-31), over HTTP and on import, on SQLite and PostgreSQL: a
spec-valid SL with SLSJ 9999-12-31 used to be stored and stopped every sweep."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from collector.app import create_app
from collector.errors import SettingsError
from collector.importer import import_file
from collector.settings import CollectorSettings, load_settings
from collector.store.tables import records_current

from .conftest import AgentSide, new_token, sb


def _stored(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(select(records_current.c.business_key))}


def test_a_batch_record_dated_9999_is_refused_with_its_reason(
    agent: AgentSide, engine: Engine
) -> None:
    receipt = agent.verified_receipt(
        agent.send([(1, sb("C1")), (2, sb("C2", SBSJ="9999-12-31T09:00:00+08:00"))])
    )
    assert [(r["seq"], r["code"], r["path"]) for r in receipt["rejected"]] == [
        (2, "rule.date_out_of_range", "SBSJ")
    ]
    assert "2100-12-31" in receipt["rejected"][0]["message_zh"]
    assert _stored(engine) == {"SB|C1"}


def test_the_settings_widen_the_dates_the_collector_takes(
    tmp_path: Path, store_url: str, engine: Engine
) -> None:
    settings = CollectorSettings(
        data_dir=tmp_path / "data", store_url=store_url, record_dates_from="1990-01-01"
    )
    with TestClient(create_app(settings)) as client:
        side = AgentSide(client)
        assert side.enrol(new_token(engine)).status_code == 200
        receipt = side.verified_receipt(
            side.send([(1, sb("OLD", SBSJ="1995-06-01T09:00:00+08:00"))])
        )
    assert receipt["rejected"] == []
    assert _stored(engine) == {"SB|OLD"}


def test_an_import_applies_the_bounds_it_is_given(tmp_path: Path, engine: Engine) -> None:
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps(sb("OLD", SBSJ="1995-06-01T09:00:00+08:00")) + "\n")
    refused = import_file(engine, path, "D1")
    assert [p["code"] for _, problems in refused.invalid for p in problems] == [
        "rule.date_out_of_range"
    ]
    widened = load_settings({"record_dates_from": "1990-01-01"}, env={})
    assert import_file(engine, path, "D1", date_bounds=widened.date_bounds).accepted == 1


def test_settings_take_dates_from_toml_and_environment(tmp_path: Path) -> None:
    config = tmp_path / "collector.toml"
    config.write_text("[collector]\nrecord_dates_from = 1995-01-01\n", encoding="utf-8")
    settings = load_settings(
        env={"ESUP_COLLECTOR_RECORD_DATES_TO": "2060-12-31"}, config_file=config
    )
    assert (settings.date_bounds.earliest.isoformat(), settings.date_bounds.latest.isoformat()) == (
        "1995-01-01",
        "2060-12-31",
    )
    assert load_settings(env={}).date_bounds.latest.isoformat() == "2100-12-31"


@pytest.mark.parametrize(
    "values",
    [
        {"record_dates_to": "9999-12-31"},
        {"record_dates_from": "1800-01-01"},
        {"record_dates_from": "2050-01-01", "record_dates_to": "2040-12-31"},
        {"record_dates_to": "end of time"},
    ],
)
def test_settings_refuse_dates_the_clock_is_not_proven_on(values: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match=r"record_dates_from.*1900-01-01 \.\. 2199-12-31"):
        load_settings(values, env={})
