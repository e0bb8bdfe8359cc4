"""Worker processes that evaluate sweep pages, each with its own pipe.

Not a ``ProcessPoolExecutor``: its workers share one queue, and a worker killed while holding
the queue's lock (SIGKILL, the OOM killer) leaves the others blocked on it, so the pool's
shutdown hangs the sweep and keeps the sweep lock. Here a dead worker is seen on its own
pipe and process sentinel, the others are killed, and the sweep ends with an error the
next sweep recovers from. At most one page is with each worker at a time, so neither side
can block on a full pipe while the other waits.
"""

from __future__ import annotations

import traceback
from collections import deque
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from collector.engine.page_eval import PageInputs, PageOutcome, evaluate_page


class WorkerDied(Exception):
    """A page worker ended without returning its page (killed, out of memory)."""


def _serve(conn: Connection, inputs: PageInputs) -> None:
    while True:
        try:
            page = conn.recv()
        except EOFError:  # the sweep went away
            return
        if page is None:
            return
        try:
            conn.send(("ok", evaluate_page(page[0], page[1], inputs)))
        except Exception:  # noqa: BLE001 - a bug in evaluation: the sweep re-raises it
            conn.send(("error", traceback.format_exc()))


class PageWorkers:
    """``count`` spawned processes sharing the sweep's :class:`PageInputs`."""

    def __init__(self, count: int, inputs: PageInputs) -> None:
        context = get_context("spawn")  # no fork: the collector runs scheduler threads
        self._workers: list[tuple[BaseProcess, Connection]] = []
        for _ in range(count):
            ours, theirs = context.Pipe()
            process = context.Process(target=_serve, args=(theirs, inputs), daemon=True)
            process.start()
            theirs.close()
            self._workers.append((process, ours))
        self._free: deque[int] = deque(range(count))
        self._busy: deque[int] = deque()

    @property
    def has_free(self) -> bool:
        return bool(self._free)

    @property
    def busy(self) -> int:
        return len(self._busy)

    def submit(self, page: Any) -> None:
        index = self._free.popleft()
        process, conn = self._workers[index]
        try:
            conn.send(page)
        except (BrokenPipeError, ConnectionResetError, EOFError) as exc:
            raise WorkerDied(f"page worker {process.pid} is gone") from exc
        self._busy.append(index)

    def result(self) -> PageOutcome:
        """The outcome of the oldest page submitted (pages come back in order)."""
        index = self._busy.popleft()
        process, conn = self._workers[index]
        wait([conn, process.sentinel])
        try:
            status, payload = conn.recv() if conn.poll() else ("died", None)
        except (EOFError, ConnectionResetError, OSError):
            status, payload = "died", None
        if status == "died":
            raise WorkerDied(f"page worker {process.pid} ended with code {process.exitcode}")
        if status == "error":
            raise RuntimeError(f"evaluating a page failed in worker {process.pid}:\n{payload}")
        self._free.append(index)
        if not isinstance(payload, PageOutcome):
            raise RuntimeError(f"worker {process.pid} returned {type(payload).__name__}")
        return payload

    def close(self) -> None:
        # A worker still holding a page is only there when the sweep failed: nobody will read
        # its result, so it is killed rather than waited for.
        for index in self._busy:
            self._workers[index][0].kill()
        for _process, conn in self._workers:
            try:
                conn.send(None)
            except OSError:
                pass
        for process, conn in self._workers:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
            conn.close()
