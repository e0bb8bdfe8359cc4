"""Whether a source is being read right now, for the backlog the agent reports.

The collector waits before judging a department whose agent is behind: records still in the
outbox, or a source being read (its next chunk may hold the completion of a case whose
acceptance was just delivered). The outbox knows the first; this says the second.

A source counts as capturing from the moment a poll commits a chunk holding at least one
row until that poll ends; a poll that finds nothing new never counts. The state lives in
memory only: after a restart nothing is capturing until a poll reads rows.
"""

from __future__ import annotations

import threading


class CaptureState:
    """The sources being read now, shared by the pipelines, the pusher and the heartbeat."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sources: set[str] = set()

    def started(self, source: str) -> None:
        with self._lock:
            self._sources.add(source)

    def finished(self, source: str) -> None:
        with self._lock:
            self._sources.discard(source)

    @property
    def capturing(self) -> bool:
        with self._lock:
            return bool(self._sources)
