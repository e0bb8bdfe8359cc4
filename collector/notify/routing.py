"""Which verdict kinds go to which roles over which channels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import NotifyConfigError
from .templates import CHANNELS, KINDS

ROLES = ("handling_officer", "approving_officer", "department_leader", "bureau_supervisor")
ROLE_NAMES_ZH = {
    "handling_officer": "经办人",
    "approving_officer": "审批人",
    "department_leader": "部门负责人",
    "bureau_supervisor": "监察局督办人员",
}


@dataclass(frozen=True)
class Route:
    roles: tuple[str, ...]
    channels: tuple[str, ...]


DEFAULT_ROUTES: dict[str, tuple[Route, ...]] = {
    "warning": (Route(("handling_officer", "approving_officer"), ("sms",)),),
    "yellow": (Route(("department_leader", "bureau_supervisor"), ("sms", "email")),),
    "red": (Route(("department_leader", "bureau_supervisor"), ("sms", "email")),),
    "anomaly": (Route(("bureau_supervisor",), ("email", "bot")),),
}


def parse_routing(section: Mapping[str, Any], where: str) -> dict[str, tuple[Route, ...]]:
    """``[[routing.KIND]]`` tables with roles = [...] and channels = [...]; kinds not given
    keep their defaults."""
    routes = dict(DEFAULT_ROUTES)
    for kind, entries in section.items():
        if kind not in KINDS:
            raise NotifyConfigError(
                f"unknown verdict kind [routing.{kind}] in {where}; use {', '.join(KINDS)}"
            )
        if not isinstance(entries, list):
            raise NotifyConfigError(
                f"routing.{kind} in {where} must be a list: write [[routing.{kind}]]"
            )
        parsed: list[Route] = []
        for entry in entries:
            roles = tuple(entry.get("roles", ()))
            channels = tuple(entry.get("channels", ()))
            bad_roles = [r for r in roles if r not in ROLES]
            bad_channels = [c for c in channels if c not in CHANNELS]
            if not roles or not channels or bad_roles or bad_channels:
                raise NotifyConfigError(
                    f"[[routing.{kind}]] in {where} needs roles from {', '.join(ROLES)} and "
                    f"channels from {', '.join(CHANNELS)}; got roles={list(roles)}, "
                    f"channels={list(channels)}"
                )
            parsed.append(Route(roles, channels))
        routes[kind] = tuple(parsed)
    return routes
