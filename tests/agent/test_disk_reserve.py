"""The disk reserve is kept chunk by chunk, and a full disk is one clear line, not a loop.

The free space comes through the outbox's ``free_space`` seam, computed from the real size of
the outbox's files, so each committed chunk really uses up the space it took."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agent.pipeline import Pipeline
from agent.state import Limits, Outbox
from installer.legacy_demo_db import create_legacy_sqlite

from .agent_setup import sb_source, write_mapping

RESERVE = 10 * 2**20
VALID = 45  # of the 50 demo rows: every tenth is secret-level (excluded)


class Disk:
    """A disk with ``room`` bytes above the reserve before the outbox's files."""

    def __init__(self, outbox_path: Path, room: int) -> None:
        self.path = outbox_path
        self.room = room

    def used(self) -> int:
        return sum(
            p.stat().st_size
            for p in self.path.parent.iterdir()
            if p.name.startswith(self.path.name)
        )

    def free(self, _: Path) -> int:
        return RESERVE + self.room - self.used()


def pipeline(tmp_path: Path, outbox: Outbox) -> Pipeline:
    source = sb_source(
        create_legacy_sqlite(tmp_path / "legacy.db", n=50),
        write_mapping(tmp_path / "mapping.toml"),
    )
    return Pipeline.for_source(source, outbox, b"k" * 32)


def test_no_chunk_overruns_the_reserve_and_polling_resumes_by_itself(tmp_path: Path) -> None:
    path = tmp_path / "state" / "outbox.sqlite3"
    path.parent.mkdir()
    disk = Disk(path, room=0)
    with Outbox(path, Limits(disk_reserve_bytes=RESERVE), free_space=disk.free) as outbox:
        disk.room = disk.used() + 150_000  # room for a few chunks, not for all eight
        p = pipeline(tmp_path, outbox)
        [report] = p.poll()
        assert report.paused and "disk reserve" in report.paused
        assert 0 < report.added < VALID
        assert disk.free(path) >= RESERVE  # the chunk that would not fit was not written
        cursor = outbox.cursor("xzsp", "SB:T_SQ_SLXX")
        assert outbox.stats()["pending"] == report.added and cursor is not None
        assert "disk reserve" in (outbox.paused or "")
        disk.room += 10**6  # space freed
        [rest] = p.poll()
        assert rest.paused is None and report.added + rest.added == VALID
        assert outbox.paused is None


def test_a_paused_agent_says_so_once_in_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from types import SimpleNamespace

    from agent.runner import Agent

    path = tmp_path / "state" / "outbox.sqlite3"
    path.parent.mkdir()
    disk = Disk(path, room=-1)  # below the reserve from the start
    with Outbox(path, Limits(disk_reserve_bytes=RESERVE), free_space=disk.free) as outbox:
        p = pipeline(tmp_path, outbox)
        agent = SimpleNamespace(outbox=outbox, paused_logged=None, poll_errors={})
        with caplog.at_level(logging.INFO, logger="esup.agent"):
            for _ in range(5):
                Agent.poll(agent, p)  # type: ignore[arg-type]
            disk.room = 10**6
            Agent.poll(agent, p)  # type: ignore[arg-type]
        lines = [r.getMessage() for r in caplog.records]
        assert len([m for m in lines if "polling paused" in m]) == 1
        assert len([m for m in lines if "polling resumed" in m]) == 1
        assert outbox.stats()["pending"] == VALID
