"""The verdict for a case the engine cannot evaluate: one bad case must not stop supervision.

Ingest refuses what the spec refuses, but a store can still hold a case no clock can judge (a
record stored by an older collector, a bug of a future one). The sweep gives such a case an
``unevaluable`` anomaly for the bureau and goes on with the others. The reason is worded
for people from what is wrong with the case's records when the spec says so; the error itself
is technical detail (``error``, ``where``), for --json and the log.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any

from collector.engine.verdicts.case_input import Candidate, CaseInput
from exchange_spec import validate_record

CODE = "unevaluable"


def unevaluable(case: CaseInput, error: BaseException) -> Candidate:
    """The ``unevaluable`` anomaly of ``case``, which raised ``error`` while being judged."""
    zh, en = reason(case, error)
    frames = traceback.extract_tb(error.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}" if frames else ""
    details = {
        "reason_zh": zh,
        "reason_en": en,
        "error": f"{type(error).__name__}: {error}",
        "where": where,
    }
    return Candidate("anomaly", CODE, CODE, "anomaly", details)


def reason(case: CaseInput, error: BaseException) -> tuple[str, str]:
    """(Chinese, English) words for the bureau: which case, why, and what to do."""
    found = _spec_problems(case)
    head_zh = f"办件 {case.sblsh} 无法计算时限和判定,其他办件照常评估"
    head_en = (
        f"case {case.sblsh} cannot be evaluated (clock and verdicts); the others are evaluated "
        "as usual"
    )
    if found:
        rtype, message_zh, message_en = found[0]
        more_zh = f"(另有 {len(found) - 1} 处问题)" if len(found) > 1 else ""
        more_en = f" ({len(found) - 1} more problems)" if len(found) > 1 else ""
        return (
            f"{head_zh}。原因:{rtype} 记录不符合数据交换规范:{message_zh}{more_zh}。"
            "请部门在源系统中更正并以更高的数据版本号 SJBBH 重新发送,收到后自动重新评估",
            f"{head_en}. Why: its {rtype} record breaks the exchange spec: {message_en}"
            f"{more_en}. Ask the department to correct it in the source system and send it "
            "again with a higher SJBBH; the case is evaluated again when it arrives",
        )
    return (
        f"{head_zh}。原因:评估程序出错,记录本身符合规范。请将此办件编号告知运维人员"
        "(技术细节见 case show --json 或日志),此办件每天重试一次",
        f"{head_en}. Why: the evaluation failed although the records follow the spec "
        f"({type(error).__name__}). Tell the operators the case number (details in case show "
        "--json and the log); the case is tried again every day",
    )


def _spec_problems(case: CaseInput) -> list[tuple[str, str, str]]:
    """(record type, zh, en) of every spec problem of the case's records and catalogue item."""
    found: list[tuple[str, str, str]] = []
    bodies: list[Any] = [r.body for r in case.records]
    if case.item is not None:
        bodies.append(case.item)
    for body in bodies:
        try:
            problems = validate_record(body) if isinstance(body, Mapping) else None
        except Exception:  # noqa: BLE001 - wording the reason must never fail the sweep
            problems = None
        if problems is None:
            found.append(("?", "记录不是 JSON 对象", "a record is not a JSON object"))
            continue
        rtype = str(body.get("type", "?"))
        found.extend((rtype, p.message_zh, p.message_en) for p in problems)
    return found
