"""The agent's state: one SQLite file (``outbox.sqlite3``) in the state directory.

- :mod:`.store`: the shared connection, transactions and the versioned schema (migrated in place)
- :mod:`.records`: captured records, their data versions and sequence numbers
- :mod:`.quarantine`: legacy rows the mapping could not turn into valid records
- :mod:`.cursors`: read positions of the source tables
- :mod:`.stats`: counters, last errors and the pause state, kept apart from the records
- :mod:`.link`: the journal of what the agent told the collector and heard back
- :mod:`.outbox`: :class:`Outbox`, the face the rest of the agent calls
"""

from .link import CollectorLink, clock_offset
from .outbox import ChunkResult, Limits, Outbox, Settled, disk_free_bytes
from .quarantine import QuarantineEntry, QuarantineItem
from .records import OutboxRecord, PendingRecord
from .store import OUTBOX_FILE

__all__ = [
    "OUTBOX_FILE",
    "ChunkResult",
    "CollectorLink",
    "Limits",
    "Outbox",
    "OutboxRecord",
    "PendingRecord",
    "QuarantineEntry",
    "QuarantineItem",
    "Settled",
    "clock_offset",
    "disk_free_bytes",
]
