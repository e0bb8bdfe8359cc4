"""Notification texts: load, check (no links in SMS) and render.

SMS gateways send their own pre-approved copy of a template; what we keep is the same text so
the outbox shows what the person received, and the ordered parameters the gateway needs
(Alibaba Cloud takes them by name, Tencent Cloud by position).
"""

from __future__ import annotations

import re
import string
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import NotifyConfigError

KINDS = ("warning", "yellow", "red", "anomaly")
CHANNELS = ("sms", "email", "bot")
FIELDS = frozenset(
    {"case_id", "department", "deadline", "code", "rule", "level", "issued_at", "kind_zh"}
)
# Links in SMS are what phishing looks like, and gateways reject them: refuse them at load.
LINK = re.compile(r"https?://|www\.", re.IGNORECASE)


@dataclass(frozen=True)
class Template:
    channel: str
    kind: str
    subject: str
    text: str

    @property
    def fields(self) -> list[str]:
        """Placeholders of the text in order of first appearance (Tencent's positions)."""
        seen: list[str] = []
        for _lit, name, _spec, _conv in string.Formatter().parse(self.text):
            if name is not None and name not in seen:
                seen.append(name)
        return seen


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    params: list[tuple[str, str]]


class Templates:
    """All templates, keyed by (channel, kind)."""

    def __init__(self, templates: dict[tuple[str, str], Template]) -> None:
        self._templates = templates

    def get(self, channel: str, kind: str) -> Template:
        try:
            return self._templates[(channel, kind)]
        except KeyError:
            raise NotifyConfigError(
                f"no {channel} template for verdict kind {kind!r}: add [{channel}.{kind}] to "
                "the templates file / 模板文件缺少该渠道和类型的模板"
            ) from None

    def render(self, channel: str, kind: str, values: dict[str, str]) -> Rendered:
        template = self.get(channel, kind)
        body = template.text.format_map(values)
        if channel == "sms" and LINK.search(body):
            # A value taken from records could carry a link even when the template does not.
            raise NotifyConfigError(
                f"the SMS for {kind} would contain a link after filling in {values}: SMS may "
                "not contain links / 短信内容不得包含链接"
            )
        return Rendered(
            subject=template.subject.format_map(values),
            body=body,
            params=[(name, values[name]) for name in template.fields],
        )


def _check(channel: str, kind: str, table: dict[str, Any], where: str) -> Template:
    key = "body" if channel == "email" else "text"
    text = table.get(key)
    if not isinstance(text, str) or not text.strip():
        raise NotifyConfigError(f'[{channel}.{kind}] in {where} needs a non-empty {key} = "..."')
    subject = table.get("subject", "")
    if channel == "email" and not subject:
        raise NotifyConfigError(f'[email.{kind}] in {where} needs subject = "..."')
    for part in (text, subject):
        try:
            names = [n for _l, n, _s, _c in string.Formatter().parse(part) if n is not None]
        except ValueError as exc:
            raise NotifyConfigError(
                f"[{channel}.{kind}] in {where}: bad placeholder: {exc}"
            ) from exc
        unknown = sorted(set(names) - FIELDS)
        if unknown or "" in names:
            raise NotifyConfigError(
                f"[{channel}.{kind}] in {where} uses unknown placeholders {unknown or ['{}']}; "
                f"known: {', '.join(sorted(FIELDS))}"
            )
    if channel == "sms" and LINK.search(text):
        raise NotifyConfigError(
            f"[sms.{kind}] in {where} contains a link ({LINK.search(text).group(0)}...): SMS "  # type: ignore[union-attr]
            "may not contain links; put the link in the email template instead / "
            "短信模板不得包含链接，请改在邮件模板中提供"
        )
    return Template(channel, kind, str(subject), text)


def parse_templates(text: str, where: str = "templates") -> Templates:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise NotifyConfigError(f"cannot read {where}: {exc}") from exc
    found: dict[tuple[str, str], Template] = {}
    for channel, kinds in data.items():
        if channel not in CHANNELS or not isinstance(kinds, dict):
            raise NotifyConfigError(
                f"unknown table [{channel}] in {where}; use {', '.join(CHANNELS)}"
            )
        for kind, table in kinds.items():
            if kind not in KINDS or not isinstance(table, dict):
                raise NotifyConfigError(
                    f"unknown kind [{channel}.{kind}] in {where}; use {', '.join(KINDS)}"
                )
            found[(channel, kind)] = _check(channel, kind, table, where)
    return Templates(found)


def default_templates_text() -> str:
    return resources.files("collector.notify").joinpath("templates.toml").read_text("utf-8")


def load_templates(path: Path | None = None) -> Templates:
    """The bundled templates, or those of ``path`` (a whole replacement)."""
    if path is None:
        return parse_templates(default_templates_text(), "the bundled templates.toml")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NotifyConfigError(f"cannot read the templates file {path}: {exc}") from exc
    return parse_templates(text, str(path))
