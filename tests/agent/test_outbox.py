from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest

from agent.errors import OutboxError, OutboxFull
from agent.state import Limits, Outbox, OutboxRecord, QuarantineItem

from .agent_setup import sb_records


def recs(records: list[dict]) -> list[OutboxRecord]:
    return [OutboxRecord.from_record(r) for r in records]


@pytest.fixture(scope="module")
def ten() -> list[dict]:
    return sb_records(10)


def test_records_are_deduplicated_on_type_key_version_and_hash(tmp_path: Path, ten) -> None:
    with Outbox(tmp_path / "o.db") as ob:
        first = ob.commit_chunk("s", "SB:t", recs(ten[:3]), cursor={"n": 1})
        again = ob.commit_chunk("s", "SB:t", recs(ten[:4]), cursor={"n": 2})
        newer = dict(ten[0], SJBBH=2)  # a correction: same business key, higher version
        corrected = ob.commit_chunk("s", "SB:t", recs([newer]))
        assert (first.added, again.added, again.duplicates) == (3, 1, 3)
        assert corrected.added == 1
        assert ob.pending_totals()[0] == 5
        assert ob.counters()["duplicates"] == 3
        assert ob.cursor("s", "SB:t") == {"n": 2}


def test_sequence_numbers_grow_across_reopen_and_are_never_reused(tmp_path: Path, ten) -> None:
    path = tmp_path / "o.db"
    with Outbox(path) as ob:
        seqs = ob.commit_chunk("s", "t", recs(ten[:3])).seqs
        ob.mark_delivered(seqs)
        ob.prune(timedelta(0))
    with Outbox(path) as ob:
        later = ob.commit_chunk("s", "t", recs(ten[3:5])).seqs
        # Pruned records keep their keys: re-reading them adds nothing.
        assert ob.commit_chunk("s", "t", recs(ten[:3])).added == 0
        assert ob.record(seqs[0])["body"] is None
    assert seqs == [1, 2, 3] and later == [4, 5]


def test_a_failing_chunk_leaves_no_records_and_no_cursor(tmp_path: Path, ten) -> None:
    bad = QuarantineItem("s", "t", "SB", "k1", {"x": object()}, [])
    with Outbox(tmp_path / "o.db") as ob:
        ob.commit_chunk("s", "t", recs(ten[:1]), cursor={"n": 1})
        with pytest.raises(TypeError):
            ob.commit_chunk("s", "t", recs(ten[1:5]), [bad], cursor={"n": 2})
        assert ob.pending_totals()[0] == 1
        assert ob.cursor("s", "t") == {"n": 1}
        assert ob.quarantine() == []


def test_quarantined_rows_are_counted_not_duplicated(tmp_path: Path) -> None:
    item = QuarantineItem(
        "s", "SB:t", "SB", "t:7", {"ID": 7}, [{"code": "schema.required", "path": "SBLSH"}]
    )
    with Outbox(tmp_path / "o.db") as ob:
        ob.commit_chunk("s", "SB:t", [], [item])
        ob.commit_chunk("s", "SB:t", [], [item])
        [entry] = ob.quarantine()
    assert entry.count == 2 and entry.row == {"ID": 7} and entry.state == "open"


def test_polling_pauses_at_max_records_and_resumes_after_delivery(tmp_path: Path, ten) -> None:
    with Outbox(
        tmp_path / "o.db", Limits(max_records=4, max_bytes=10**9, disk_reserve_bytes=0)
    ) as ob:
        seqs = ob.commit_chunk("s", "t", recs(ten[:4])).seqs
        with pytest.raises(OutboxFull, match="max_records"):
            ob.check_room()
        assert "outbox full" in ob.paused
        ob.mark_delivered(seqs[:1])
        ob.check_room()
        assert ob.paused is None


def test_polling_pauses_at_max_bytes(tmp_path: Path, ten) -> None:
    size = len(OutboxRecord.from_record(ten[0]).body.encode())
    with Outbox(tmp_path / "o.db", Limits(10**6, size * 2, 0)) as ob:
        ob.commit_chunk("s", "t", recs(ten[:1]))
        ob.check_room()
        ob.commit_chunk("s", "t", recs(ten[1:3]))
        with pytest.raises(OutboxFull, match="max_bytes"):
            ob.check_room()


def test_disk_reserve_pauses_and_resumes_by_itself(tmp_path: Path) -> None:
    free = {"bytes": 100 * 2**20}
    limits = Limits(10**6, 10**9, disk_reserve_bytes=500 * 2**20)
    with Outbox(tmp_path / "o.db", limits, free_space=lambda p: free["bytes"]) as ob:
        with pytest.raises(OutboxFull, match="disk reserve"):
            ob.check_room()
        assert "disk reserve" in ob.paused
        free["bytes"] = 600 * 2**20
        ob.check_room()
        assert ob.paused is None


def test_disk_reserve_against_the_real_disk(tmp_path: Path) -> None:
    import shutil

    free = shutil.disk_usage(tmp_path).free
    with Outbox(tmp_path / "o.db", Limits(10**6, 10**9, free + 2**30)) as ob:
        assert ob.pause_reason() is not None
    with Outbox(tmp_path / "o.db", Limits(10**6, 10**9, 0)) as ob:
        assert ob.pause_reason() is None


def test_read_only_outbox_refuses_writes_and_a_missing_one_is_explained(tmp_path: Path) -> None:
    with pytest.raises(OutboxError, match="has not run yet"):
        Outbox(tmp_path / "missing.db", readonly=True)
    Outbox(tmp_path / "o.db").close()
    with Outbox(tmp_path / "o.db", readonly=True) as ob:
        with pytest.raises(OutboxError, match="read-only"):
            ob.add_counter("x")


def test_pending_batches_are_bounded_by_count_and_bytes(tmp_path: Path, ten) -> None:
    size = len(OutboxRecord.from_record(ten[0]).body.encode())
    with Outbox(tmp_path / "o.db") as ob:
        ob.commit_chunk("s", "t", recs(ten))
        assert len(ob.pending_batch(4, 10**9)) == 4
        assert 1 <= len(ob.pending_batch(100, int(size * 2.5))) <= 3
        assert len(ob.pending_batch(100, 1)) == 1  # one record always goes


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from agent.state import Outbox, OutboxRecord

    ob = Outbox(Path(sys.argv[1]))
    n = 0
    while True:
        n += 1
        records = [
            OutboxRecord("SB", f"SB|{n}|{i}", 1, f"{n:08d}{i:04d}", '{"x": "' + "y" * 500 + '"}',
                         None)
            for i in range(50)
        ]
        ob.commit_chunk("src", "SB:t", records, cursor={"chunk": n})
    """
)


@pytest.mark.slow
def test_kill_9_while_writing_never_leaves_the_cursor_ahead_of_records(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, str(script), str(path)])
        try:
            start_chunks = _chunks(path)
            deadline = time.monotonic() + 120
            while _chunks(path) < start_chunks + 20:  # let it commit a while, then kill
                assert proc.poll() is None, "the writer died on its own"
                assert time.monotonic() < deadline, "the writer made no progress"
                time.sleep(0.05)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        with Outbox(path) as ob:
            cursor = ob.cursor("src", "SB:t")
            keys = [r[0] for r in ob.store.query("SELECT business_key FROM records")]
        chunk = cursor["chunk"]
        # Exactly the chunks up to the cursor are stored: no record beyond it, none missing.
        stored = {int(k.split("|")[1]) for k in keys}
        assert stored == set(range(1, chunk + 1))
        assert len(keys) == chunk * 50


def _chunks(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with Outbox(path, readonly=True) as ob:
            c = ob.cursor("src", "SB:t")
    except OutboxError:
        return 0
    return int(c["chunk"]) if c else 0


def test_chunk_cursor_is_json(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db") as ob:
        ob.commit_chunk("s", "t", [], cursor={"ts": "2026-11-30T08:00:00+08:00", "key": 5})
        [c] = ob.cursors()
    assert json.dumps(c["cursor"]) and c["cursor"]["key"] == 5
