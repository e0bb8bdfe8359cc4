"""Fixtures of the notification tests: the 2026 calendar, contacts, verdicts, and real HTTP
servers on 127.0.0.1 that play a provider's API (each test module gives the handler that
checks the request the way the real API does)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import Engine

from collector.clock import WorkCalendar, bundled_notice_text, parse_notice
from collector.notify import NotifyConfig, add_contact
from collector.notify.policy import BEIJING
from collector.store.tables import departments

DEPT = "11430700MB1234567X"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))


Handler = Callable[[Request], tuple[int, Any]]


@dataclass
class LocalApi:
    """A provider's API on a real socket; ``handler`` answers (status, JSON body)."""

    handler: Handler
    requests: list[Request] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc


@pytest.fixture
def local_api() -> Iterator[Callable[[Handler], LocalApi]]:
    started: list[LocalApi] = []

    def start(handler: Handler) -> LocalApi:
        api = LocalApi(handler)

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length", "0"))
                request = Request(
                    "POST",
                    split.path,
                    dict(parse_qsl(split.query, keep_blank_values=True)),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                api.requests.append(request)
                try:
                    status, answer = api.handler(request)
                except AssertionError as exc:  # a wrong request: answer like a gateway would
                    status, answer = 400, {"Code": "TestServerRejected", "Message": str(exc)}
                data = json.dumps(answer, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        api.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        threading.Thread(target=api.server.serve_forever, daemon=True).start()
        started.append(api)
        return api

    yield start
    for api in started:
        assert api.server is not None
        api.server.shutdown()
        api.server.server_close()


@pytest.fixture(scope="session")
def calendar() -> WorkCalendar:
    text = bundled_notice_text(2026)
    assert text is not None
    return WorkCalendar.from_rows(parse_notice(text, "2026.toml").rows())


def beijing(text: str) -> datetime:
    """'2026-12-01 09:00' in Beijing time, as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=BEIJING)


WORKING_MORNING = beijing("2026-12-01 09:00")  # a Tuesday


def verdict(
    n: int = 1, kind: str = "warning", case_id: str = "SB-0001", **extra: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": n,
        "case_id": case_id,
        "department": DEPT,
        "kind": kind,
        "code": "",
        "rule": f"{kind}.promised",
        "level": kind,
        "dedup_key": f"{case_id}|{kind}.promised|{kind}",
        "issued_at": datetime(2026, 12, 1, 1, 0, tzinfo=UTC),
        "due": {"promised_deadline": "2026-12-02", "legal_deadline": "2026-12-20"},
        "calendar_version": 1,
        "rule_version": "r1",
        "details": {},
    }
    row.update(extra)
    return row


@dataclass
class People:
    handling: int
    approving: int
    leader: int
    supervisor: int
    bureau_bot: int


@pytest.fixture
def people(engine: Engine) -> People:
    now = datetime(2026, 11, 30, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(departments.insert().values(code=DEPT, name="市市场监督管理局"))
        return People(
            handling=add_contact(
                conn,
                department=DEPT,
                role="handling_officer",
                name="李经办",
                now=now,
                phone="+8613800000001",
                email="li@example.gov.cn",
            ),
            approving=add_contact(
                conn,
                department=DEPT,
                role="approving_officer",
                name="王审批",
                now=now,
                phone="+8613800000002",
            ),
            leader=add_contact(
                conn,
                department=DEPT,
                role="department_leader",
                name="赵局长",
                now=now,
                phone="+8613800000003",
                email="zhao@example.gov.cn",
            ),
            supervisor=add_contact(
                conn,
                department="",
                role="bureau_supervisor",
                name="钱督办",
                now=now,
                phone="+8613800000004",
                email="qian@jcj.example.gov.cn",
            ),
            bureau_bot=add_contact(
                conn,
                department="",
                role="bureau_supervisor",
                name="监察局群",
                now=now,
                bot="bureau",
            ),
        )


@pytest.fixture
def config() -> NotifyConfig:
    return NotifyConfig()
