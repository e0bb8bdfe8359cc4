"""The agent's configuration: one TOML file.

The accepted keys of every section are declared once, in :data:`SECTIONS` (name, type,
default, meaning); the loader, the drift test of the example config and the docs all read
that table. Unknown keys are refused by name, with their path and a "did you mean" hint.
``[[sources]]`` tables are parsed by :class:`agent.sources.SourceSettings`; a source's
``mapping`` path is taken relative to the config file.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import ConfigError

if TYPE_CHECKING:
    from .reconcile import ReconcileSettings
    from .sources import SourceSettings


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class Key:
    """One accepted key: its type, default (REQUIRED when it must be given) and meaning."""

    name: str
    kind: type
    default: Any
    doc: str
    minimum: float | None = None
    maximum: float | None = None


SECTIONS: dict[str, tuple[Key, ...]] = {
    "agent": (
        Key("department", str, REQUIRED, "BMBM code of the department this agent reports for"),
        Key("state_dir", str, REQUIRED, "directory for keys, enrolment and the outbox"),
        Key("name", str, "", "a name for this machine, shown in status and heartbeats"),
    ),
    "collector": (
        Key("url", str, REQUIRED, "base URL of the collector (https://...)"),
        Key("ca_file", str, "", "CA bundle that signs the collector's TLS certificate"),
        Key("client_cert", str, "", "client certificate (PEM) when the collector asks for one"),
        Key("client_key", str, "", "private key (PEM) of the client certificate"),
        Key("timeout_seconds", float, 30.0, "timeout of one HTTP request", 1),
        Key(
            "collector_key_fingerprint",
            str,
            "",
            "expected key id of the collector's signing key, checked at enrolment",
        ),
    ),
    "outbox": (
        Key("max_records", int, 1_000_000, "undelivered records at which polling pauses", 1),
        Key("max_bytes", int, 2 * 1024**3, "undelivered bytes at which polling pauses", 1),
        Key("disk_reserve_mb", int, 500, "free disk space (MiB) kept; below it polling pauses", 0),
        Key("batch_max_records", int, 500, "records per batch sent to the collector", 1),
        Key("batch_max_bytes", int, 1024**2, "bytes (before gzip) per batch", 1024),
        Key("retention_days", int, 30, "days delivered bodies are kept (keys stay forever)", 0),
    ),
    "push": (
        Key("interval_seconds", float, 10.0, "pause between pushes when all is delivered", 1),
        Key("backoff_first_seconds", float, 2.0, "first wait after a failed push", 0.1),
        Key("backoff_cap_seconds", float, 300.0, "longest wait between retries", 1),
    ),
    "heartbeat": (Key("interval_seconds", float, 300.0, "pause between heartbeats", 5),),
    "metrics": (
        Key("enabled", bool, True, "serve Prometheus metrics"),
        Key("listen", str, "127.0.0.1:9464", "host:port of the metrics endpoint"),
    ),
    # Reconciliation (agent/reconcile.py): counts sent to the collector as RECON records.
    "reconcile": (
        Key("enabled", bool, True, "count the legacy rows per day and send RECON records"),
        Key("interval_minutes", float, 60.0, "pause between passes (one runs at start)", 1),
        # Each pass reads these days again every interval: a quarter at most.
        Key("days", int, 7, "days counted: today and the days before it", 1, 92),
    ),
}
#: Top-level names besides SECTIONS; ``sources`` is an array of tables.
TOP_LEVEL = (*SECTIONS, "sources")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def _hint(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'? / 是否应为 '{close[0]}'？"
    return f"accepted keys: {', '.join(choices)}"


def unknown_key_error(where: str, path: str, name: str, choices: Sequence[str]) -> ConfigError:
    return ConfigError(
        f"{where}: unknown key '{path}' / 未知配置项 '{path}'; {_hint(name, choices)}"
    )


def _typed(where: str, path: str, key: Key, value: Any) -> Any:
    ok: bool
    if key.kind is bool:
        ok = isinstance(value, bool)
    elif key.kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif key.kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, key.kind)
    if not ok:
        raise ConfigError(
            f"{where}: '{path}' must be {key.kind.__name__}, got {value!r} / "
            f"配置项 '{path}' 类型应为 {key.kind.__name__}"
        )
    if key.minimum is not None and value < key.minimum:
        raise ConfigError(
            f"{where}: '{path}' must be at least {key.minimum}, got {value!r} / "
            f"配置项 '{path}' 不得小于 {key.minimum}"
        )
    if key.maximum is not None and value > key.maximum:
        raise ConfigError(
            f"{where}: '{path}' must be at most {key.maximum}, got {value!r} / "
            f"配置项 '{path}' 不得大于 {key.maximum}"
        )
    return value


def parse_section(where: str, section: str, data: Any) -> dict[str, Any]:
    keys = {k.name: k for k in SECTIONS[section]}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: '{section}' must be a table ([{section}])")
    for name in data:
        if name not in keys:
            raise unknown_key_error(where, f"{section}.{name}", name, list(keys))
    out: dict[str, Any] = {}
    for key in keys.values():
        path = f"{section}.{key.name}"
        if key.name in data:
            out[key.name] = _typed(where, path, key, data[key.name])
        elif key.default is REQUIRED:
            raise ConfigError(
                f"{where}: missing '{path}' ({key.doc}) / 缺少必填配置项 '{path}'. "
                f"Fix: add `{key.name} = ...` under [{section}]"
            )
        else:
            out[key.name] = key.default
    return out


@dataclass(frozen=True)
class AgentSection:
    department: str
    state_dir: Path
    name: str


@dataclass(frozen=True)
class CollectorSection:
    url: str
    ca_file: Path | None
    client_cert: Path | None
    client_key: Path | None
    timeout_seconds: float
    collector_key_fingerprint: str


@dataclass(frozen=True)
class OutboxSection:
    max_records: int
    max_bytes: int
    disk_reserve_mb: int
    batch_max_records: int
    batch_max_bytes: int
    retention_days: int


@dataclass(frozen=True)
class PushSection:
    interval_seconds: float
    backoff_first_seconds: float
    backoff_cap_seconds: float


@dataclass(frozen=True)
class HeartbeatSection:
    interval_seconds: float


@dataclass(frozen=True)
class MetricsSection:
    enabled: bool
    host: str
    port: int


@dataclass(frozen=True)
class AgentConfig:
    path: Path
    agent: AgentSection
    collector: CollectorSection
    outbox: OutboxSection
    push: PushSection
    heartbeat: HeartbeatSection
    metrics: MetricsSection
    sources: tuple[SourceSettings, ...]
    reconcile: ReconcileSettings

    def source(self, name: str) -> SourceSettings:
        for s in self.sources:
            if s.name == name:
                return s
        names = [s.name for s in self.sources]
        raise ConfigError(f"{self.path}: no source named '{name}'; {_hint(name, names)}")


def _path(base: Path, text: str) -> Path | None:
    if not text:
        return None
    p = Path(text).expanduser()
    return p if p.is_absolute() else base / p


def _check_url(where: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(
            f"{where}: 'collector.url' must look like https://collector.example.gov.cn, "
            f"got {url!r} / 监察中心地址格式错误"
        )
    if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
        raise ConfigError(
            f"{where}: 'collector.url' {url!r} is plain http to another machine; records "
            "must travel over TLS. Fix: use https:// / 必须使用 https 连接监察中心"
        )
    return url.rstrip("/")


def _listen(where: str, text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigError(
            f"{where}: 'metrics.listen' must be host:port such as 127.0.0.1:9464, got {text!r}"
        )
    return host.strip("[]"), int(port)


def parse_config(data: Mapping[str, Any], path: Path) -> AgentConfig:
    """Build the configuration from parsed TOML (``path`` names it and anchors paths)."""
    from .reconcile import ReconcileSettings
    from .sources import SourceSettings

    where = str(path)
    base = path.parent
    for name in data:
        if name not in TOP_LEVEL:
            raise unknown_key_error(where, name, name, list(TOP_LEVEL))
    parsed = {s: parse_section(where, s, data.get(s, {})) for s in SECTIONS}
    a, c, o = parsed["agent"], parsed["collector"], parsed["outbox"]
    if not a["department"].strip():
        raise ConfigError(f"{where}: 'agent.department' is empty; put the BMBM code there")
    if o["batch_max_records"] > o["max_records"]:
        raise ConfigError(f"{where}: 'outbox.batch_max_records' exceeds 'outbox.max_records'")
    raw_sources = data.get("sources", [])
    if not isinstance(raw_sources, list) or not all(isinstance(s, dict) for s in raw_sources):
        raise ConfigError(f"{where}: 'sources' must be written as [[sources]] tables")
    sources = []
    for i, raw in enumerate(raw_sources):
        raw = dict(raw)
        if isinstance(raw.get("mapping"), str) and raw["mapping"]:
            raw["mapping"] = str(_path(base, raw["mapping"]))
        sources.append(SourceSettings.from_dict(raw, f"{where}: sources[{i}]"))
    names = [s.name for s in sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{where}: source names must be unique; repeated: {', '.join(dupes)}")
    host, port = _listen(where, parsed["metrics"]["listen"])
    state_dir = _path(base, a["state_dir"])
    assert state_dir is not None
    return AgentConfig(
        path=path,
        agent=AgentSection(a["department"].strip(), state_dir, a["name"]),
        collector=CollectorSection(
            url=_check_url(where, c["url"]),
            ca_file=_path(base, c["ca_file"]),
            client_cert=_path(base, c["client_cert"]),
            client_key=_path(base, c["client_key"]),
            timeout_seconds=c["timeout_seconds"],
            collector_key_fingerprint=c["collector_key_fingerprint"],
        ),
        outbox=OutboxSection(**o),
        push=PushSection(**parsed["push"]),
        heartbeat=HeartbeatSection(**parsed["heartbeat"]),
        metrics=MetricsSection(parsed["metrics"]["enabled"], host, port),
        sources=tuple(sources),
        reconcile=ReconcileSettings(**parsed["reconcile"]),
    )


def load_config(path: Path) -> AgentConfig:
    """Read and check the config file; every problem is a ConfigError naming the key."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(
            f"config file {path} does not exist. Fix: create one with "
            f"`esup-agent init {path}` / 配置文件不存在，可用 init 生成"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc} / 配置文件不是合法的 TOML") from exc
    return parse_config(data, path.resolve())


def password_exposure(config: AgentConfig) -> str | None:
    """Why the config file shows a database password to other users, or None.

    The file holds the sources' connection strings; ``esup-agent init`` creates it 0600,
    but a copy or an editor may have made it readable by everyone.
    """
    import os
    import stat

    from .sources.connection_string import SECRET_KEYS, attributes

    if os.name != "posix":
        return None
    try:
        mode = config.path.stat().st_mode
    except OSError:
        return None
    if not mode & (stat.S_IRWXG | stat.S_IRWXO):
        return None
    has_password = any(
        a.key.lower() in SECRET_KEYS and a.value
        for s in config.sources
        for a in attributes(s.connection)
    )
    if not has_password:
        return None
    return (
        f"{config.path} holds a database password and is readable by other users (mode "
        f"{oct(mode & 0o777)}). Fix it with: chmod 600 {config.path} / 配置文件含数据库密码"
        f"且其他用户可读，请执行 chmod 600 {config.path}"
    )
