"""Building an anomaly candidate."""

from __future__ import annotations

from typing import Any

from collector.engine.verdicts.case_input import Candidate


def anomaly(code: str, **details: Any) -> Candidate:
    return Candidate("anomaly", code, code, "anomaly", dict(details))
