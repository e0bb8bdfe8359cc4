"""Exceptions of the supervision engine (subclasses of :class:`collector.errors.CollectorError`).

Each carries Chinese and English words and a hint; the CLI prints all three.
"""

from __future__ import annotations

from collector.errors import CollectorError


class EngineError(CollectorError):
    """Base of everything collector.engine raises."""

    def __init__(self, message_zh: str, message_en: str, hint: str = "") -> None:
        super().__init__(f"{message_en} / {message_zh}" + (f" (hint: {hint})" if hint else ""))
        self.message_zh = message_zh
        self.message_en = message_en
        self.hint = hint


class NotFound(EngineError):
    """A case, verdict, proposal or calendar year that the store does not hold."""


class AuditChainBroken(EngineError):
    """The audit log's hash chain does not verify."""


class SweepWorkerDied(EngineError):
    """A worker process of a sweep ended abruptly (killed, out of memory)."""
