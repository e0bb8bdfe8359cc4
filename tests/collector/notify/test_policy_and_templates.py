"""Office hours on the collector's calendar, and the no-links rule for SMS templates."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from collector.clock import WorkCalendar
from collector.notify import NotifyConfigError, SmsPolicy, load_notify_config, parse_templates
from collector.notify.templates import load_templates

from .conftest import beijing

POLICY = SmsPolicy()


def test_a_warning_at_20_00_on_a_working_day_waits_for_0830_next_working_day(
    calendar: WorkCalendar,
) -> None:
    at = beijing("2026-12-01 20:00")  # Tuesday
    assert POLICY.next_allowed(at, calendar) == beijing("2026-12-02 08:30")


def test_friday_evening_waits_for_monday(calendar: WorkCalendar) -> None:
    assert POLICY.next_allowed(beijing("2026-12-04 18:00"), calendar) == beijing("2026-12-07 08:30")


def test_national_day_defers_to_the_first_working_day_after_the_holiday(
    calendar: WorkCalendar,
) -> None:
    assert POLICY.next_allowed(beijing("2026-10-01 10:00"), calendar) == beijing("2026-10-08 08:30")


def test_the_adjusted_working_saturday_allows_sms(calendar: WorkCalendar) -> None:
    at = beijing("2026-10-10 10:00")  # Saturday, a working day by the 2026 notice
    assert POLICY.next_allowed(at, calendar) == at


def test_the_lunch_break_waits_for_the_afternoon_window(calendar: WorkCalendar) -> None:
    assert POLICY.next_allowed(beijing("2026-12-01 12:00"), calendar) == beijing("2026-12-01 14:30")
    assert POLICY.next_allowed(beijing("2026-12-01 17:29"), calendar) == beijing("2026-12-01 17:29")


def test_windows_are_configurable(tmp_path: Path, calendar: WorkCalendar) -> None:
    path = tmp_path / "notify.toml"
    path.write_text('[hours]\nwindows = ["09:00-11:00"]\ndaily_cap = 3\n', encoding="utf-8")
    config = load_notify_config(path)
    assert config.sms_policy.windows == ((time(9), time(11)),)
    assert config.sms_policy.daily_cap == 3
    assert config.sms_policy.next_allowed(beijing("2026-12-01 08:45"), calendar) == beijing(
        "2026-12-01 09:00"
    )


def test_a_window_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(NotifyConfigError, match="is empty or overlaps"):
        SmsPolicy(windows=((time(12), time(8)),))


@pytest.mark.parametrize(
    "text",
    [
        "办件{case_id}即将到期，详见 http://jc.example.gov.cn",
        "办件{case_id}即将到期，详见 HTTPS://jc.example.gov.cn/x",
        "办件{case_id}即将到期，详见 www.example.gov.cn",
    ],
)
def test_an_sms_template_with_a_link_is_refused_when_loaded(text: str) -> None:
    with pytest.raises(NotifyConfigError, match="链接") as info:
        parse_templates(f'[sms.warning]\ntext = "{text}"\n', "my.toml")
    assert "[sms.warning]" in str(info.value) and "my.toml" in str(info.value)


def test_a_link_in_an_email_template_is_fine() -> None:
    templates = parse_templates(
        '[email.red]\nsubject = "红牌"\nbody = "详见 https://jc.example.gov.cn/case/{case_id}"\n'
    )
    assert "https://" in templates.render("email", "red", _values()).body


def test_a_link_arriving_through_a_record_value_is_refused_in_sms() -> None:
    values = _values() | {"case_id": "www.evil.example"}
    with pytest.raises(NotifyConfigError, match="链接"):
        load_templates().render("sms", "warning", values)


def test_unknown_placeholders_are_named() -> None:
    with pytest.raises(NotifyConfigError, match="secret"):
        parse_templates('[sms.red]\ntext = "{secret}"\n')


def test_the_bundled_sms_templates_are_chinese_with_positional_params() -> None:
    templates = load_templates()
    rendered = templates.render("sms", "yellow", _values())
    assert (
        rendered.body
        == "市场监管局办件SB-1已超过承诺期限2026-12-02，已亮黄牌，请于3个工作日内整改。"
    )
    assert [name for name, _ in rendered.params] == ["department", "case_id", "deadline"]


def test_unknown_routing_roles_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "notify.toml"
    path.write_text('[[routing.red]]\nroles = ["mayor"]\nchannels = ["sms"]\n', "utf-8")
    with pytest.raises(NotifyConfigError, match="mayor"):
        load_notify_config(path)


def _values() -> dict[str, str]:
    return {
        "case_id": "SB-1",
        "department": "市场监管局",
        "deadline": "2026-12-02",
        "code": "",
        "rule": "r",
        "level": "yellow",
        "issued_at": "2026-12-01 09:00",
        "kind_zh": "黄牌",
    }
