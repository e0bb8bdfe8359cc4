"""Exceptions of the supervision flow.

SupervisionError           base of everything collector.supervision raises (a CollectorError)
├── MatterNotFound         no matter with that number or id
├── MatterStateError       an action the matter's state does not allow (reply to a closed one)
└── DocumentError          a notice that could not be rendered or stored (PDF, disk)

Each carries Chinese and English words and a hint: the bureau's operator and the department's
liaison read them in the CLI (and later the web pages).
"""

from __future__ import annotations

from collector.errors import CollectorError


class SupervisionError(CollectorError):
    """Base of every error of supervision matters and their documents."""

    def __init__(self, message_zh: str, message_en: str, hint: str = "") -> None:
        text = f"{message_en} / {message_zh}"
        if hint:
            text += f" — how to fix: {hint}"
        super().__init__(text)
        self.message_zh = message_zh
        self.message_en = message_en
        self.hint = hint


class MatterNotFound(SupervisionError):
    """No supervision matter has that number or id."""


class MatterStateError(SupervisionError):
    """The matter's state does not allow the action."""


class DocumentError(SupervisionError):
    """A notice could not be rendered as PDF or stored."""
