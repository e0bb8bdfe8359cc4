"""The one path every record takes into the store, from a batch or from an import file.

:class:`RecordWriter` checks the department, validates with exchange_spec, refuses records of
another department's case (``foreign_case``, :mod:`.case_owners`), keeps invalid
records with their problems, stores every distinct version (business key, SJBBH) and moves the
current record forward only when the SJBBH is higher. For agents it also keeps the delivery
(agent, seq), so a resent seq is a duplicate and nothing is doubled.

A batch is stored as a whole (:meth:`RecordWriter.store_many`): checks run in Python first,
then each table gets one statement for all records of the batch (see :mod:`.ingest_sql`).
The outcome of every record is the one it would get if the records were stored one after the
other in batch order; :func:`store_record` stores a single record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from exchange_spec import (
    CASE_TYPES,
    DEFAULT_DATE_BOUNDS,
    DateBounds,
    business_key,
    content_hash,
    event_time,
    validate_record,
    version,
)

from .case_owners import Claim, Owner, settle_owners
from .dirty_marks import mark_cases
from .gaps import highest_seq
from .ingest_sql import statements
from .recon_reports import is_recon, keep_reports

STATUSES = ("accepted", "duplicate", "superseded", "rejected")

#: (seq, record, content hash or None to compute it) as handed to :meth:`RecordWriter.store_many`
Item = tuple[int | None, Any, str | None]


@dataclass(frozen=True)
class Source:
    """Where records come from: an enrolled agent, or an import file."""

    name: str  # the agent id, or "import:<file name>"
    department: str  # records must carry this BMBM
    agent_id: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What happened to one record. ``problems`` explain a rejection (code, path, zh, en)."""

    seq: int | None
    status: str
    problems: tuple[dict[str, Any], ...] = ()


def problem(code: str, path: str, message_zh: str, message_en: str) -> dict[str, str]:
    return {"code": code, "path": path, "message_zh": message_zh, "message_en": message_en}


def _problems_of(record: Any, department: str, bounds: DateBounds) -> list[dict[str, str]]:
    if not isinstance(record, Mapping):
        return [
            problem("schema.type", "", "记录必须是 JSON 对象", "a record must be a JSON object")
        ]
    bmbm = record.get("BMBM")
    if bmbm != department:
        return [
            problem(
                "wrong_department",
                "BMBM",
                f"记录的部门编码 BMBM={bmbm!r} 与本采集端所属部门 {department} 不符，未保存",
                f"the record's department BMBM={bmbm!r} is not this source's department "
                f"{department}; it was not stored",
            )
        ]
    problems = [
        {k: v for k, v in p.as_dict().items() if k != "record_type"}
        for p in validate_record(record, bounds)
    ]
    return problems or _unstorable(record)


#: Largest SJBBH a record can carry: RFC 8785 hashes integers only up to 2**53 - 1.
MAX_SJBBH = 2**53 - 1


def _unstorable(record: Mapping[str, Any]) -> list[dict[str, str]]:
    """What the spec allows but a database cannot hold; refused here so it never poisons a batch."""
    if version(record) > MAX_SJBBH:
        return [
            problem(
                "schema.range",
                "SJBBH",
                f"数据版本号 SJBBH 超出范围（最大 {MAX_SJBBH}）",
                f"SJBBH is out of range (at most {MAX_SJBBH})",
            )
        ]
    if "\x00" in business_key(record) + str(record.get("SBLSH", "")) + (event_time(record) or ""):
        return [
            problem(
                "schema.nul",
                "",
                "记录的标识或时间字段含有 NUL 字符（\\u0000），请在源系统中清理",
                "an identifying or time field contains a NUL character (\\u0000); "
                "clean it in the source system",
            )
        ]
    return []


def _digest(record: Any) -> tuple[str, list[dict[str, str]]]:
    """The content hash of ``record`` ("" for a non-object), or the problem that prevents it."""
    try:
        return (content_hash(record) if isinstance(record, Mapping) else ""), []
    except ValueError as exc:  # NaN, Infinity or an integer beyond 2**53
        return "", [
            problem(
                "schema.number",
                "",
                "记录含有 JSON 无法准确表示的数字（NaN、Infinity 或超过 2^53 的整数）",
                f"the record holds a number JSON cannot carry exactly ({exc})",
            )
        ]


def _version_conflict(key: str, sjbbh: int) -> dict[str, str]:
    return problem(
        "version_conflict",
        "SJBBH",
        f"{key} 的数据版本号 SJBBH={sjbbh} 已收到过不同内容；更正数据时请递增 SJBBH",
        f"{key} version SJBBH={sjbbh} was already received with different content; "
        "a correction must carry a higher SJBBH",
    )


_BASIS_WORDS = {
    "prefix": (
        "办件编号前缀已登记给该部门",
        "its case-number prefix is registered to that department",
    ),
    "catalogue": ("该事项属于该部门的事项目录", "its item is in that department's catalogue"),
    "first": ("该部门最先报送了此办件", "that department delivered the case first"),
    "moved": ("监察机关已将此办件划归该部门", "the bureau assigned the case to that department"),
}


def _foreign_case(sblsh: str, owner: Owner) -> dict[str, str]:
    why_zh, why_en = _BASIS_WORDS.get(owner.basis, ("", owner.basis))
    return problem(
        "foreign_case",
        "SBLSH",
        f"办件 {sblsh} 属于部门 {owner.department}（{why_zh}），本部门不能报送它的记录；"
        "记录未保存，已留存备查。若办件编号或部门编码填错，请更正映射后重新报送；"
        "若办件确属本部门，请联系监察机关核实",
        f"case {sblsh} belongs to department {owner.department} ({why_en}); this department "
        "cannot send its records. The record was not stored (kept as evidence). Fix the "
        "mapping if the case number or department code is wrong; if the case really is this "
        "department's, ask the bureau to check it",
    )


def _seq_reused(seq: int, last_seq: int) -> dict[str, Any]:
    """``last_seq`` (the highest seq held for the agent) tells the agent where to number the
    record again: an agent whose state directory was restored from a backup reuses seqs."""
    return {
        **problem(
            "seq_reused",
            "",
            f"序号 {seq} 已用于另一条内容不同的记录，本次内容未保存；采集端将以大于 {last_seq} "
            "的新序号重发",
            f"seq {seq} was already delivered with different content; this one is not kept. "
            f"The agent sends it again under a seq above {last_seq}",
        ),
        "last_seq": last_seq,
    }


@dataclass
class _Pending:
    """One record on its way through :meth:`RecordWriter.store_many`."""

    seq: int | None
    record: Any
    digest: str
    problems: list[dict[str, str]]
    as_text: bool  # keep the body as text: the database's JSON type would refuse it
    status: str = "rejected"
    version_id: int | None = None
    invalid_id: int | None = None
    final: Outcome | None = None  # decided before storing anything (an earlier delivery)
    key: str = ""  # business key and SJBBH, set for valid records
    sjbbh: int = 0

    def outcome(self) -> Outcome:
        return self.final or Outcome(self.seq, self.status, tuple(self.problems))


def _hashed(seq: int | None, record: Any, digest: str | None) -> _Pending:
    if digest is not None:
        return _Pending(seq, record, digest, [], as_text=False)
    digest, unhashable = _digest(record)
    return _Pending(seq, record, digest, unhashable, as_text=bool(unhashable))


class RecordWriter:
    """Stores records of one source inside the caller's transaction."""

    def __init__(
        self,
        conn: Connection,
        source: Source,
        *,
        now: datetime,
        batch_id: int | None = None,
        date_bounds: DateBounds = DEFAULT_DATE_BOUNDS,  # the settings' record_dates_from/to
    ) -> None:
        self.conn = conn
        self.date_bounds = date_bounds
        self.source = source
        self.now = now
        self.batch_id = batch_id
        self._sql = statements(conn.dialect.name)

    def store(self, seq: int | None, record: Any, digest: str | None = None) -> Outcome:
        """Validate and store one record; return its outcome."""
        return self.store_many([(seq, record, digest)])[0]

    def store_many(self, items: Sequence[Item]) -> list[Outcome]:
        """Validate and store records in order; return their outcomes in the same order."""
        outcomes: list[Outcome] = []
        for part in _parts_without_repeated_seqs(items):
            outcomes.extend(self._store_part(part))
        return outcomes

    def _store_part(self, items: Sequence[Item]) -> list[Outcome]:
        pending = [_hashed(seq, record, digest) for seq, record, digest in items]
        self._find_earlier_deliveries(pending)
        fresh = [p for p in pending if p.final is None]
        for p in fresh:  # a resent seq is answered from its delivery, never validated again
            if not p.problems:
                p.problems = _problems_of(p.record, self.source.department, self.date_bounds)
        self._refuse_foreign_cases([p for p in fresh if not p.problems])
        valid = [p for p in fresh if not p.problems]
        self._store_versions([p for p in valid if not is_recon(p.record)])
        self._keep_recon([p for p in valid if is_recon(p.record)])
        self._keep_invalid([p for p in fresh if p.problems])
        self._keep_deliveries(fresh)
        return [p.outcome() for p in pending]

    def _keep_recon(self, recons: list[_Pending]) -> None:
        """RECON counts are kept apart, compared with the store after the batch's records."""
        if recons:
            statuses = keep_reports(
                self.conn, self.source.name, [p.record for p in recons], self.now
            )
            for p, status in zip(recons, statuses, strict=True):
                p.status = status

    def _refuse_foreign_cases(self, valid: list[_Pending]) -> None:
        """A record of a case that belongs to another department is refused (foreign_case)."""
        department = self.source.department
        claims: dict[str, Claim] = {}
        own_items: set[str] = set()
        for p in valid:
            if p.record.get("type") == "SX":
                own_items.add(str(p.record.get("SXBM", "")))
            elif p.record.get("type") in CASE_TYPES:
                sblsh = str(p.record["SBLSH"])
                sxbm = p.record.get("SXBM")
                claims.setdefault(sblsh, Claim(sblsh, str(sxbm) if sxbm else None))
        if not claims:
            return
        owners = settle_owners(self.conn, department, claims, own_items=own_items, now=self.now)
        for p in valid:
            if p.record.get("type") not in CASE_TYPES:
                continue
            owner = owners[str(p.record["SBLSH"])]
            if owner.department != department:
                p.problems.append(_foreign_case(str(p.record["SBLSH"]), owner))

    def _find_earlier_deliveries(self, pending: list[_Pending]) -> None:
        """A seq this agent delivered before is a duplicate, whatever it carries now."""
        agent_id = self.source.agent_id
        seqs = sorted({p.seq for p in pending if p.seq is not None})
        if agent_id is None or not seqs:
            return
        rows = self.conn.execute(
            self._sql.earlier_deliveries, {"agent": agent_id, "seqs": self._sql.pack(seqs)}
        )
        earlier = {int(r.seq): r for r in rows}
        last_seq: int | None = None
        for p in pending:
            row = earlier.get(p.seq) if p.seq is not None else None
            if row is None:
                continue
            problems: tuple[dict[str, Any], ...] = tuple(row.problems or ())
            if row.content_hash != p.digest:
                if last_seq is None:
                    last_seq = highest_seq(self.conn, agent_id)
                problems = (*problems, _seq_reused(int(row.seq), last_seq))
            p.final = Outcome(p.seq, "duplicate", problems)

    def _store_versions(self, valid: list[_Pending]) -> None:
        """Insert new versions, recognise held ones, move the current records forward."""
        if not valid:
            return
        firsts: dict[tuple[str, int], _Pending] = {}
        for p in valid:
            p.key, p.sjbbh = business_key(p.record), version(p.record)
            firsts.setdefault((p.key, p.sjbbh), p)
        inserted = self._insert_versions(firsts)
        held = self._held_versions([pair for pair in firsts if pair not in inserted])
        new = [p for pair, p in firsts.items() if pair in inserted]  # in batch order
        for p in new:
            p.version_id = inserted[(p.key, p.sjbbh)]
            held[(p.key, p.sjbbh)] = (p.version_id, p.digest)
        self._settle_new_versions(new)
        self._mark_dirty(new)
        for p in valid:
            if p.version_id is not None:
                continue  # a version this batch inserted: settled above
            version_id, digest = held[(p.key, p.sjbbh)]
            if digest == p.digest:
                p.status, p.version_id = "duplicate", version_id
            else:
                p.problems.append(_version_conflict(p.key, p.sjbbh))

    def _mark_dirty(self, new: list[_Pending]) -> None:
        """Mark the cases of new versions for the engine, in this same transaction."""
        cases = sorted({str(p.record["SBLSH"]) for p in new if p.record.get("SBLSH")})
        if not cases:
            return
        mark_cases(self.conn, dict.fromkeys(cases, self.source.department), self.now)

    def _insert_versions(
        self, firsts: dict[tuple[str, int], _Pending]
    ) -> dict[tuple[str, int], int]:
        """Insert the versions not held yet; return the ids of those inserted.

        Rows go in key order, so two transactions inserting overlapping batches take row locks
        in the same order and wait for each other instead of deadlocking (PostgreSQL).
        """
        rows = [_version_row(pair, firsts[pair]) for pair in sorted(firsts)]
        result = self.conn.execute(
            self._sql.insert_versions,
            {
                "rows": _json(rows),
                "department": self.source.department,
                "received_at": self.now,
                "source": self.source.name,
            },
        )
        return {(r.business_key, int(r.sjbbh)): int(r.id) for r in result}

    def _held_versions(
        self, pairs: list[tuple[str, int]]
    ) -> dict[tuple[str, int], tuple[int, str]]:
        """(id, content hash) of versions already in the store, by (business key, SJBBH)."""
        wanted = set(pairs)
        held: dict[tuple[str, int], tuple[int, str]] = {}
        if not wanted:
            return held
        keys = self._sql.pack(sorted({key for key, _ in wanted}))
        for r in self.conn.execute(self._sql.versions_of_keys, {"keys": keys}):
            pair = (r.business_key, int(r.sjbbh))
            if pair in wanted:
                held[pair] = (int(r.id), r.content_hash)
        return held

    def _settle_new_versions(self, new: list[_Pending]) -> None:
        """Make the highest new version of each key current where it beats the held one, and
        give each new version the status it would get if stored one after the other:
        accepted when its SJBBH is above every version before it, else superseded."""
        highest: dict[str, _Pending] = {}
        several: set[str] = set()
        for p in new:
            if p.key in highest:
                several.add(p.key)
            if p.key not in highest or p.sjbbh > highest[p.key].sjbbh:
                highest[p.key] = p
        # Only a key with several new versions needs the SJBBH that was current before.
        best = self._current_sjbbh(sorted(several))
        moved = self._move_current(sorted(int(p.version_id or 0) for p in highest.values()))
        for p in new:
            if p is highest[p.key]:
                p.status = "accepted" if p.key in moved else "superseded"
            else:
                p.status = "accepted" if p.sjbbh > best.get(p.key, -1) else "superseded"
            best[p.key] = max(best.get(p.key, -1), p.sjbbh)

    def _move_current(self, version_ids: list[int]) -> set[str]:
        """Copy these versions into records_current where they beat the current SJBBH; return
        the keys that moved. The store copies the rows itself: no body is sent twice."""
        if not version_ids:
            return set()
        ids = self._sql.pack(version_ids)
        return set(self.conn.execute(self._sql.move_current, {"ids": ids}).scalars())

    def _current_sjbbh(self, keys: list[str]) -> dict[str, int]:
        if not keys:
            return {}
        rows = self.conn.execute(self._sql.current_versions, {"keys": self._sql.pack(keys)})
        return {r.business_key: int(r.sjbbh) for r in rows}

    def _keep_invalid(self, rejected: list[_Pending]) -> None:
        if not rejected:
            return
        rows = [
            {
                "agent_id": self.source.agent_id,
                "source": self.source.name,
                "seq": p.seq,
                "department": self.source.department,
                # A body that is not a JSON object, or holds NaN/Infinity, is kept as text:
                # the database's JSON type would refuse it and fail the whole batch.
                "body": p.record
                if isinstance(p.record, Mapping) and not p.as_text
                else {"raw": repr(p.record)[:10000]},
                "problems": p.problems,
                "received_at": self.now,
            }
            for p in rejected
        ]
        ids = self.conn.execute(self._sql.insert_invalid, rows).scalars().all()
        for p, invalid_id in zip(rejected, ids, strict=True):
            p.invalid_id = int(invalid_id)

    def _keep_deliveries(self, fresh: list[_Pending]) -> None:
        agent_id = self.source.agent_id
        delivered = [p for p in fresh if p.seq is not None]
        if agent_id is None or not delivered:
            return
        rows = [
            {
                "seq": p.seq,
                "content_hash": p.digest,
                "record_version_id": p.version_id,
                "invalid_id": p.invalid_id,
                "status": p.status,
            }
            for p in sorted(delivered, key=lambda p: p.seq or 0)
        ]
        kept = set(
            self.conn.execute(
                self._sql.insert_deliveries,
                {"rows": _json(rows), "agent_id": agent_id, "batch_id": self.batch_id},
            ).scalars()
        )
        for p in delivered:
            if p.seq not in kept:
                # A concurrent request delivered the same seq first.
                p.final = Outcome(p.seq, "duplicate", tuple(p.problems))


def _version_row(pair: tuple[str, int], p: _Pending) -> dict[str, Any]:
    record = p.record
    return {
        "business_key": pair[0],
        "record_type": str(record.get("type")),
        "sblsh": str(record["SBLSH"]) if record.get("SBLSH") is not None else None,
        "sjbbh": pair[1],
        "content_hash": p.digest,
        # The body travels as JSON text inside the document: PostgreSQL's json_to_recordset
        # would decode a nested object's strings and fail on a \u0000 the json column accepts.
        "body": json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False),
        "event_time": event_time(record),
    }


def _json(rows: list[dict[str, Any]]) -> str:
    """The rows of one statement as one JSON document (the database unpacks it)."""
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _parts_without_repeated_seqs(items: Sequence[Item]) -> list[Sequence[Item]]:
    """Cut ``items`` where a seq repeats: the repeat must see the first as an earlier delivery."""
    parts: list[Sequence[Item]] = []
    start, seen = 0, set[int]()
    for index, (seq, _, _) in enumerate(items):
        if seq is not None and seq in seen:
            parts.append(items[start:index])
            start, seen = index, set[int]()
        if seq is not None:
            seen.add(seq)
    parts.append(items[start:])
    return [part for part in parts if part]


def store_record(
    conn: Connection,
    source: Source,
    seq: int | None,
    record: Any,
    *,
    now: datetime,
    batch_id: int | None = None,
    digest: str | None = None,
) -> Outcome:
    """Validate and store one record inside the caller's transaction; return its outcome."""
    return RecordWriter(conn, source, now=now, batch_id=batch_id).store(seq, record, digest)
