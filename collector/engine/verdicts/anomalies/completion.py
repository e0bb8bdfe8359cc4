"""Completion anomalies: an abnormal result code, and a fee above what is permitted."""

from __future__ import annotations

from typing import Any

from collector.engine.verdicts.anomalies.common import anomaly
from collector.engine.verdicts.case_input import Candidate, CaseInput

#: BJJGDM returned, voided, deleted, rejected after the correction period.
ABNORMAL_RESULTS = frozenset({"1", "2", "3", "5"})


def abnormal_completion(case: CaseInput) -> list[Candidate]:
    bj = case.one("BJ")
    if bj is None:
        return []
    code = str(bj.body.get("BJJGDM", ""))
    if code in ABNORMAL_RESULTS:
        return [anomaly("abnormal_completion", BJJGDM=code, ZFHTHYY=bj.body.get("ZFHTHYY"))]
    return []


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def fee_above_permitted(case: CaseInput) -> list[Candidate]:
    """SFJE above the fee the acceptance fixed (SL.GDSF), or above the SF fee standard."""
    bj = case.one("BJ")
    charged = _number(bj.body.get("SFJE")) if bj is not None else None
    if charged is None or charged <= 0:
        return []
    sl = case.one("SL")
    permitted = _number(sl.body.get("GDSF")) if sl is not None else None
    basis = "SL.GDSF"
    if permitted is None and case.fee_standard is not None:
        permitted, basis = case.fee_standard, "SF.SFJE"
    if permitted is None:
        if case.item is not None and str(case.item.get("SFSM", "")) == "0":
            permitted, basis = 0.0, "SX.SFSM"  # the catalogue says the item is free
        else:
            return []
    if charged > permitted + 1e-9:
        return [anomaly("fee_above_permitted", charged=charged, permitted=permitted, basis=basis)]
    return []
