"""What ``esup-agent status`` shows: one snapshot of the outbox and the agent's state."""

from __future__ import annotations

from typing import Any

from .reconcile import render_lines as reconcile_lines
from .state import Outbox


def collect(outbox: Outbox) -> dict[str, Any]:
    """Everything status, heartbeat and metrics report, as one JSON-ready dict."""
    stats = outbox.stats()
    return {
        "outbox": stats,
        "cursors": outbox.cursors(),
        "counters": outbox.counters(),
        "paused": outbox.paused,
        "push_stopped": outbox.link.stopped,
        "push_failing": outbox.link.trouble,
        "collector_last_seq": outbox.link.collector_last_seq or None,
        "last_push": outbox.link.last_push,
        "last_heartbeat": outbox.link.last_heartbeat,
        "clock_offset_seconds": outbox.link.clock_offset,
        "last_errors": outbox.last_errors(10),
        "rejected": outbox.rejected(10),
        "reconcile": outbox.reconcile,
    }


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def render(status: dict[str, Any], *, agent_id: str | None = None) -> str:
    """The human table of ``esup-agent status``."""
    o = status["outbox"]
    lines = [
        f"agent id / 代理编号:           {agent_id or '(not enrolled / 未注册)'}",
        f"pending / 待上报:               {o['pending']} records, {o['pending_bytes']} bytes",
        f"oldest pending / 最早待上报:    {_age(o['oldest_pending_seconds'])}",
        f"delivered / 已上报:             {o['delivered']}",
        f"rejected / 被拒收:              {o['rejected']}",
        f"quarantined / 隔离:             {o['quarantined']}",
        f"last push / 最近上报:           {status['last_push'] or '-'}",
        f"last heartbeat / 最近心跳:      {status['last_heartbeat'] or '-'}",
        "clock offset / 时钟偏差:        "
        + (
            f"{status['clock_offset_seconds']:+.1f} s"
            if status["clock_offset_seconds"] is not None
            else "-"
        ),
        f"paused / 暂停采集:              {status['paused'] or 'no / 否'}",
    ]
    if status["push_stopped"]:
        lines.append(f"PUSH STOPPED / 已停止上报:      {status['push_stopped']}")
    elif status["push_failing"]:
        lines.append(f"push retrying / 上报重试中:     {status['push_failing']}")
    renumbered = status["counters"].get("renumbered", 0)
    if renumbered:
        lines.append(
            f"sent again under new numbers / 改号重发: {renumbered} records (the collector "
            "already held their sequence numbers: state directory restored from a backup? / "
            "监察中心已有这些序号，状态目录可能从备份恢复)"
        )
    lines.extend(reconcile_lines(status.get("reconcile")))
    lines.append("")
    lines.append("cursors / 读取位置:")
    if not status["cursors"]:
        lines.append("  (none yet / 暂无)")
    for c in status["cursors"]:
        position = ", ".join(f"{k}={v}" for k, v in sorted(c["cursor"].items()))
        lines.append(f"  {c['source']:<12} {c['table']:<24} {position}  ({c['updated_at']})")
    if status["rejected"]:
        lines.append("")
        lines.append("rejected records / 被拒收记录:")
        for r in status["rejected"]:
            lines.append(f"  seq {r['seq']} {r['business_key']}: {r['code']} {r['reason']}")
    lines.append("")
    lines.append("last errors / 最近错误:")
    if not status["last_errors"]:
        lines.append("  (none / 无)")
    for e in status["last_errors"]:
        lines.append(f"  {e['at']} [{e['where']}] {e['message']}")
    return "\n".join(lines)
