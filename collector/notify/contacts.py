"""Contacts (the people and group bots told about verdicts) and who gets which verdict."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from ..store.tables import notify_contacts, records_current
from .errors import ContactError
from .routing import ROLES

# E.164; mainland mobiles are +86 then 11 digits starting with 1.
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_CN_MOBILE = re.compile(r"^\+861\d{10}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
BUREAU = ""  # department code of the bureau's own contacts


@dataclass(frozen=True)
class Contact:
    id: int
    department: str
    role: str
    name: str
    phone: str | None
    email: str | None
    bot: str | None

    def address(self, channel: str) -> str | None:
        return {"sms": self.phone, "email": self.email, "bot": self.bot}.get(channel)


def _contact(row: Any) -> Contact:
    return Contact(row.id, row.department, row.role, row.name, row.phone, row.email, row.bot)


def check_contact(role: str, phone: str | None, email: str | None, bot: str | None) -> None:
    if role not in ROLES:
        raise ContactError(f"role {role!r} is unknown; use one of {', '.join(ROLES)}")
    if phone and not _E164.match(phone):
        raise ContactError(
            f"phone {phone!r} is not E.164: write +86 then the 11-digit mobile number, e.g. "
            "+8613800138000 / 手机号须为 E.164 格式，如 +8613800138000"
        )
    if phone and phone.startswith("+86") and not _CN_MOBILE.match(phone):
        raise ContactError(
            f"phone {phone!r} is not a mainland mobile number (+86 then 11 digits starting "
            "with 1) / 不是有效的大陆手机号"
        )
    if email and not _EMAIL.match(email):
        raise ContactError(f"email {email!r} is not an address like name@example.gov.cn")
    if not (phone or email or bot):
        raise ContactError("a contact needs at least one of phone, email or bot")


def add_contact(
    conn: Connection,
    *,
    department: str,
    role: str,
    name: str,
    now: datetime,
    phone: str | None = None,
    email: str | None = None,
    bot: str | None = None,
) -> int:
    """Store a contact; its (department, role, name) must be new."""
    check_contact(role, phone, email, bot)
    if not name.strip():
        raise ContactError("name is empty: give the person's name as in the approval records")
    try:
        with conn.begin_nested():
            result = conn.execute(
                notify_contacts.insert().values(
                    department=department,
                    role=role,
                    name=name.strip(),
                    phone=phone or None,
                    email=email or None,
                    bot=bot or None,
                    active=1,
                    created_at=now.astimezone(UTC),
                )
            )
    except IntegrityError as exc:
        raise ContactError(
            f"a contact {name!r} with role {role} already exists in department "
            f"{department or '(bureau)'}"
        ) from exc
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


def list_contacts(conn: Connection, department: str | None = None) -> list[Contact]:
    query = select(notify_contacts).where(notify_contacts.c.active == 1)
    if department is not None:
        query = query.where(notify_contacts.c.department == department)
    query = query.order_by(
        notify_contacts.c.department, notify_contacts.c.role, notify_contacts.c.id
    )
    return [_contact(r) for r in conn.execute(query)]


def case_people(conn: Connection, case_id: str) -> dict[str, set[str]]:
    """Names on the case's records: SL BLRXM (handling) and SPCL SPRXM (approving)."""
    people: dict[str, set[str]] = {"handling_officer": set(), "approving_officer": set()}
    rows = conn.execute(
        select(records_current.c.record_type, records_current.c.body).where(
            records_current.c.sblsh == case_id,
            records_current.c.record_type.in_(("SL", "SPCL")),
        )
    )
    for record_type, body in rows:
        body = body if isinstance(body, Mapping) else {}
        if record_type == "SL" and body.get("BLRXM"):
            people["handling_officer"].add(str(body["BLRXM"]).strip())
        if record_type == "SPCL" and body.get("SPRXM"):
            people["approving_officer"].add(str(body["SPRXM"]).strip())
    return people


def recipients(conn: Connection, verdict: Mapping[str, Any], role: str) -> list[Contact]:
    """Contacts with ``role`` for ``verdict``.

    Officers are the ones named on the case (SL BLRXM, SPCL SPRXM) when they are contacts of
    the department; otherwise every officer of that role in the department, so a warning is
    never lost because a name is spelled differently. Bureau supervisors are every contact
    with that role whatever its department.
    """
    query = select(notify_contacts).where(
        notify_contacts.c.active == 1, notify_contacts.c.role == role
    )
    if role != "bureau_supervisor":
        query = query.where(notify_contacts.c.department == verdict["department"])
    found = [_contact(r) for r in conn.execute(query.order_by(notify_contacts.c.id))]
    if role in ("handling_officer", "approving_officer") and verdict.get("case_id"):
        named = case_people(conn, str(verdict["case_id"]))[role]
        matching = [c for c in found if c.name in named]
        if matching:
            return matching
    return found
