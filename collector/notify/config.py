"""The notifications configuration file (TOML): routing, office hours and caps, retries,
templates and providers. Every table is optional; see docs/notifications.md.

    templates_file = "/etc/esupervision/templates.toml"   # optional, replaces the bundled one
    [hours]      windows = ["08:30-12:00", "14:30-17:30"]; daily_cap = 10
    [retry]      first_seconds = 60; max_seconds = 3600; max_attempts = 8
    [[routing.warning]]  roles = [...]; channels = [...]
    [sms]        provider = "aliyun" | "tencent"; [sms.aliyun] ...; [sms.tencent] ...
    [email]      host, port, starttls, username, password, sender
    [bots.NAME]  type = "dingtalk" | "wecom", ...
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from .errors import NotifyConfigError
from .policy import DEFAULT_WINDOWS, SmsPolicy, parse_window
from .routing import DEFAULT_ROUTES, Route, parse_routing
from .templates import Templates, load_templates

_TOP_KEYS = {"templates_file", "hours", "retry", "routing", "sms", "email", "bots"}


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff between attempts: first, 2 x first, ... up to max; then failed."""

    first_seconds: int = 60
    max_seconds: int = 3600
    max_attempts: int = 8

    def delay(self, attempts: int) -> timedelta:
        """Wait after the ``attempts``-th failed attempt (1-based)."""
        seconds = min(self.first_seconds * 2 ** max(attempts - 1, 0), self.max_seconds)
        return timedelta(seconds=seconds)


@dataclass(frozen=True)
class NotifyConfig:
    routes: dict[str, tuple[Route, ...]] = field(default_factory=lambda: dict(DEFAULT_ROUTES))
    sms_policy: SmsPolicy = field(default_factory=SmsPolicy)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    templates: Templates = field(default_factory=load_templates)
    sms: dict[str, Any] = field(default_factory=dict)
    email: dict[str, Any] = field(default_factory=dict)
    bots: dict[str, dict[str, Any]] = field(default_factory=dict)


def parse_notify_config(data: dict[str, Any], where: str, base: Path | None = None) -> NotifyConfig:
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise NotifyConfigError(
            f"unknown keys {unknown} in {where}; known: {', '.join(sorted(_TOP_KEYS))}"
        )
    hours = data.get("hours", {})
    windows = tuple(parse_window(w) for w in hours.get("windows", ())) or DEFAULT_WINDOWS
    try:
        policy = SmsPolicy(windows=windows, daily_cap=int(hours.get("daily_cap", 10)))
        retry_table = data.get("retry", {})
        retry = RetryPolicy(
            first_seconds=int(retry_table.get("first_seconds", 60)),
            max_seconds=int(retry_table.get("max_seconds", 3600)),
            max_attempts=int(retry_table.get("max_attempts", 8)),
        )
    except (TypeError, ValueError) as exc:
        raise NotifyConfigError(f"[hours]/[retry] in {where}: numbers expected: {exc}") from exc
    if retry.first_seconds < 1 or retry.max_attempts < 1:
        raise NotifyConfigError(f"[retry] in {where}: first_seconds and max_attempts must be >= 1")
    templates_file = data.get("templates_file")
    templates_path = None
    if templates_file:
        templates_path = Path(templates_file)
        if base is not None and not templates_path.is_absolute():
            templates_path = base / templates_path
    bots = data.get("bots", {})
    if not all(isinstance(v, dict) for v in bots.values()):
        raise NotifyConfigError(f"[bots] in {where}: write one [bots.NAME] table per bot")
    return NotifyConfig(
        routes=parse_routing(data.get("routing", {}), where),
        sms_policy=policy,
        retry=retry,
        templates=load_templates(templates_path),
        sms=dict(data.get("sms", {})),
        email=dict(data.get("email", {})),
        bots={name: dict(table) for name, table in bots.items()},
    )


def load_notify_config(path: Path | None) -> NotifyConfig:
    """Defaults when ``path`` is None (no providers: messages wait in the outbox)."""
    if path is None:
        return NotifyConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise NotifyConfigError(f"cannot read the notifications file {path}: {exc}") from exc
    return parse_notify_config(data, str(path), base=path.parent)
