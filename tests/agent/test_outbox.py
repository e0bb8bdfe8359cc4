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


# -- version 2 of the state: migration, numbered versions, seq floor, running totals ---------
OLD_OUTBOX = Path(__file__).parent / "data" / "outbox-v1.sqlite3"  # written by the agent before
OLD_RECORDS = Path(__file__).parent / "data" / "outbox-v1.records.json"  # what it captured


def test_an_outbox_of_the_previous_version_opens_and_migrates_in_place(tmp_path: Path) -> None:
    import shutil
    import sqlite3

    path = tmp_path / "outbox.sqlite3"
    shutil.copy(OLD_OUTBOX, path)
    captured = json.loads(OLD_RECORDS.read_text("utf-8"))
    # `status` looks before the new agent ever ran: read-only, nothing migrated.
    with Outbox(path, readonly=True) as ob:
        assert ob.pending_totals()[0] == 3 and ob.stats()["delivered"] == 2
    with Outbox(path) as ob:
        assert ob.store.schema_version == 2
        assert ob.stats()["pending"] == 3 and ob.stats()["quarantined"] == 1
        assert ob.pending_totals() == (3, sum(r.bytes for r in ob.pending_batch(10, 10**9)))
        assert ob.cursor("xzsp", "SB:T_SQ_SLXX") == {"key": 5, "ts": "2026-09-01T11:00:00"}
        assert ob.link.clock_offset == 1.5
        # The old agent stopped on any 403 (a proxy's page too); the new one tries again.
        assert ob.link.stopped is None
        # Re-read rows the old agent captured (bodies of delivered ones pruned): unchanged
        # is a no-op, changed is the next version; new seqs continue after the old ones.
        again = [OutboxRecord.from_record(r, auto_version=True) for r in captured[:5]]
        changed = OutboxRecord.from_record(dict(captured[0], SQRMC="改名"), auto_version=True)
        result = ob.commit_chunk("xzsp", "SB:T_SQ_SLXX", [*again, changed])
        assert (result.added, result.duplicates, result.seqs) == (1, 5, [6])
        assert ob.record(6)["version"] == 2
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone() == (2,)
    conn.close()
    with Outbox(path) as ob:  # opening again migrates nothing twice
        assert ob.pending_totals()[0] == 4


def test_the_agent_numbers_versions_by_content_without_sjbbh(tmp_path: Path, ten) -> None:
    def auto(record: dict) -> OutboxRecord:
        return OutboxRecord.from_record(record, auto_version=True)

    with Outbox(tmp_path / "o.db") as ob:
        ob.commit_chunk("s", "SB:t", [auto(ten[0])])
        # The mapping's default SJBBH 1 again, same content: nothing new.
        assert ob.commit_chunk("s", "SB:t", [auto(ten[0])]).added == 0
        changed = dict(ten[0], SQRMC="甲")
        twice = ob.commit_chunk("s", "SB:t", [auto(changed), auto(dict(changed, SQRMC="乙"))])
        assert twice.added == 2
        versions = [json.loads(ob.record(s)["body"])["SJBBH"] for s in (1, 2, 3)]
        assert versions == [1, 2, 3]
        assert [ob.record(s)["version"] for s in (1, 2, 3)] == [1, 2, 3]
        # A body's content hash is that of the body as sent, SJBBH included.
        from exchange_spec import content_hash

        assert ob.record(3)["content_hash"] == content_hash(json.loads(ob.record(3)["body"]))


def test_new_seqs_continue_above_the_collectors_last_and_refused_ones_are_renumbered(
    tmp_path: Path, ten
) -> None:
    with Outbox(tmp_path / "o.db") as ob:
        first = ob.commit_chunk("s", "t", recs(ten[:3])).seqs
        assert first == [1, 2, 3]
        assert ob.link.heard_last_seq(90)  # a restored state directory: the collector is ahead
        assert not ob.link.heard_last_seq(50)
        assert ob.commit_chunk("s", "t", recs(ten[3:4])).seqs == [91]
        settled = ob.settle([1], renumber=[2, 3], collector_last_seq=95)
        assert (settled.delivered, settled.renumbered) == (1, 2)
        assert [r.seq for r in ob.pending_batch(10, 10**9)] == [91, 96, 97]
        assert ob.commit_chunk("s", "t", recs(ten[4:5])).seqs == [98]
        assert ob.counters()["renumbered"] == 2 and ob.link.collector_last_seq == 95
    with Outbox(tmp_path / "o.db") as ob:  # the journal survives a restart
        assert ob.link.collector_last_seq == 95


def test_pending_totals_are_kept_running_through_every_change(tmp_path: Path, ten) -> None:
    with Outbox(tmp_path / "o.db") as ob:

        def summed() -> tuple[int, int]:
            count, size = ob.store.query(
                "SELECT count(*), coalesce(sum(bytes), 0) FROM records WHERE state = 'pending'"
            )[0]
            return int(count), int(size)

        seqs = ob.commit_chunk("s", "t", recs(ten)).seqs
        assert ob.pending_totals() == summed() and summed()[0] == 10
        ob.settle(seqs[:2], [(seqs[2], "schema.required", "x")], renumber=seqs[3:5])
        assert ob.pending_totals() == summed() and summed()[0] == 7
        ob.commit_chunk("s", "t", recs(ten))  # all held already
        assert ob.pending_totals() == summed()


def test_the_disk_reserve_counts_the_chunk_about_to_be_written(tmp_path: Path) -> None:
    limits = Limits(10**6, 10**9, disk_reserve_bytes=500 * 2**20)
    with Outbox(tmp_path / "o.db", limits, free_space=lambda p: 520 * 2**20) as ob:
        ob.check_room(5 * 2**20)
        with pytest.raises(OutboxFull, match="disk reserve"):
            ob.check_room(15 * 2**20)  # written twice (WAL, then table): 30 MiB > 20 MiB


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"A": 1, "Z": "末", "SJBBI": None, "SJBBG": True},  # names on both sides of SJBBH
        {"名称": "非 ASCII", "\U0001f600": 1, "a": [1, {"b": "c"}]},  # UTF-16 order, nesting
    ],
)
def test_versions_are_cut_from_one_serialisation_exactly_as_canonical_json(
    ten, extra: dict
) -> None:
    from exchange_spec import canonical_bytes, content_hash

    record = {**ten[0], **extra}
    numbered = OutboxRecord.from_record(record, auto_version=True)
    without = {k: v for k, v in record.items() if k != "SJBBH"}
    assert numbered.data_hash == content_hash(without)
    for n in (1, 2, 10, 2**53 - 1):
        at = numbered.at_version(n)
        assert at.body.encode() == canonical_bytes({**record, "SJBBH": n})
        assert at.content_hash == content_hash({**record, "SJBBH": n})
