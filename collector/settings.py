"""Settings of the collector, built explicitly (CLI options > environment > TOML file).

Nothing here runs at import: :func:`load_settings` is called by the CLI or a test, and the
result is handed to :func:`collector.app.create_app`. Unsafe or unknown values fail fast with
a :class:`~collector.errors.SettingsError` naming the setting and how to fix it.
"""

from __future__ import annotations

import functools
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from exchange_spec import DateBounds
from exchange_spec.date_bounds import WIDEST, BadDateBounds

from .errors import SettingsError

ENV_PREFIX = "ESUP_COLLECTOR_"
DEFAULT_DATA_DIR = Path("collector-data")


@dataclass(frozen=True)
class CollectorSettings:
    """Everything the collector needs to run; see docs/collector-ingest.md."""

    data_dir: Path = DEFAULT_DATA_DIR
    #: SQLAlchemy URL; empty means ``sqlite:///<data_dir>/collector.db``.
    store_url: str = ""
    #: The collector's Ed25519 private key (PEM); empty means ``<data_dir>/collector.key``.
    key_file: Path | None = None
    #: Tolerated clock difference between an agent and the collector.
    skew_seconds: int = 300
    #: How long a seen nonce is remembered; must outlast the whole freshness window.
    nonce_retention_seconds: int = 3600
    host: str = "127.0.0.1"
    port: int = 8470
    #: Largest request body as sent (gzip or plain); read only after the signature headers
    #: name an enrolled agent. An agent's batch is about 1 MiB before gzip.
    max_body_bytes: int = 4 * 1024 * 1024
    #: Largest body after decompression: gzip is inflated in a stream that stops here, so a
    #: small gzip bomb costs at most this much memory.
    max_json_bytes: int = 4 * 1024 * 1024
    #: Bodies decompressed and parsed at the same time (threads, off the event loop).
    parse_workers: int = 2
    #: Requests one client address may have in flight before they are authenticated
    #: (enrolment included); more get 429. Behind a reverse proxy every agent shares its
    #: address: raise this, or let uvicorn read X-Forwarded-For (--forwarded-allow-ips).
    unauthenticated_per_address: int = 4
    #: Serve /docs, /redoc and /openapi.json (assets from the package, never a CDN). Off by
    #: default: the collector faces every department's network, and the API description is
    #: for developers, who can turn it on in a test or staging collector.
    api_docs: bool = False
    #: Working days a department has to reply (回告) to a supervision notice before the matter
    #: escalates one level (officer -> department leader -> bureau).
    supervision_reply_workdays: int = 5
    #: The supervising bureau's name, printed on notices (督办通知书, 整改建议书).
    bureau_name: str = "市监察局"
    #: Notifications TOML (routing, office hours, caps, providers); see docs/notifications.md.
    #: None: default routing and hours, no providers (messages wait in the outbox).
    notify_config: Path | None = None
    #: Rules file of the supervision engine (docs/rules-operator.md); None: the bundled defaults.
    engine_rules_file: Path | None = None
    #: Seconds between evaluations of the cases new records touched; 0: no sweep worker in
    #: this process (run `esup-collector rules run` from cron instead).
    engine_dirty_seconds: int = 0
    #: Minutes between full sweeps of every open case (time passing makes cases overdue).
    engine_full_sweep_minutes: int = 10
    #: Processes that evaluate a sweep of more than one page (2,000 cases); 0: one per core,
    #: at most 4; 1: evaluate in the collector's own process.
    engine_sweep_workers: int = 0
    #: Dates a record may carry (YYYY-MM-DD, as written in the record); a record with a time
    #: or date outside is refused (rule.date_out_of_range). Within 1900-01-01 .. 2199-12-31.
    record_dates_from: str = "2000-01-01"
    record_dates_to: str = "2100-12-31"

    @functools.cached_property  # read for every batch; the settings never change
    def date_bounds(self) -> DateBounds:
        """The record date bounds as exchange_spec validates with them."""
        return DateBounds.parse(self.record_dates_from, self.record_dates_to)

    @property
    def resolved_store_url(self) -> str:
        return self.store_url or f"sqlite:///{(self.data_dir / 'collector.db').resolve()}"

    @property
    def resolved_key_file(self) -> Path:
        return self.key_file or self.data_dir / "collector.key"

    @property
    def documents_dir(self) -> Path:
        """Generated notices (PDF), content-addressed by SHA-256."""
        return self.data_dir / "documents"

    def validated(self) -> CollectorSettings:
        """Return self after checking every value; raise SettingsError on the first bad one."""
        url = self.resolved_store_url
        if not url.startswith(("sqlite:///", "postgresql+psycopg://")):
            raise SettingsError(
                f"store_url {url!r} is not supported: use sqlite:///PATH/collector.db or "
                "postgresql+psycopg://USER@HOST:5432/DBNAME"
            )
        if not 1 <= self.skew_seconds <= 3600:
            raise SettingsError(
                f"skew_seconds={self.skew_seconds} is unsafe: use 1..3600 (default 300); "
                "fix the agents' clocks with NTP instead of widening the window"
            )
        if self.nonce_retention_seconds < 2 * self.skew_seconds:
            raise SettingsError(
                f"nonce_retention_seconds={self.nonce_retention_seconds} is shorter than "
                f"2 x skew_seconds ({2 * self.skew_seconds}): a replayed batch could slip "
                "through; raise it"
            )
        if not 1 <= self.port <= 65535:
            raise SettingsError(f"port={self.port} is not a TCP port (1..65535)")
        for name in ("max_body_bytes", "max_json_bytes"):
            if not 1024 <= getattr(self, name) <= 256 * 1024 * 1024:
                raise SettingsError(
                    f"{name}={getattr(self, name)} is out of range: use 1024..268435456 "
                    "(default 4194304, 4 MiB)"
                )
        if not 1 <= self.parse_workers <= 64:
            raise SettingsError(f"parse_workers={self.parse_workers} is out of range: use 1..64")
        if not 1 <= self.unauthenticated_per_address <= 10_000:
            raise SettingsError(
                f"unauthenticated_per_address={self.unauthenticated_per_address} is out of "
                "range: use 1..10000 (default 4)"
            )
        if not 1 <= self.supervision_reply_workdays <= 60:
            raise SettingsError(
                f"supervision_reply_workdays={self.supervision_reply_workdays} is out of range: "
                "use 1..60 working days (default 5)"
            )
        if not self.bureau_name.strip():
            raise SettingsError("bureau_name is empty: set the bureau's name, e.g. 常德市监察局")
        if not self.host:
            raise SettingsError("host is empty: use 127.0.0.1 behind a reverse proxy")
        try:
            self.date_bounds  # noqa: B018 - parsed to check it
        except BadDateBounds as exc:
            raise SettingsError(
                f"record_dates_from={self.record_dates_from!r}, record_dates_to="
                f"{self.record_dates_to!r}: {exc} (default 2000-01-01 .. 2100-12-31; "
                f"at most {WIDEST[0]} .. {WIDEST[1]})"
            ) from exc
        return self


_INT_KEYS = {
    "skew_seconds",
    "nonce_retention_seconds",
    "port",
    "max_body_bytes",
    "max_json_bytes",
    "parse_workers",
    "unauthenticated_per_address",
    "supervision_reply_workdays",
    "engine_dirty_seconds",
    "engine_full_sweep_minutes",
    "engine_sweep_workers",
}
_PATH_KEYS = {"data_dir", "key_file", "notify_config", "engine_rules_file"}
_BOOL_KEYS = {"api_docs"}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
KNOWN_KEYS = {f.name for f in fields(CollectorSettings)}


def _coerce(key: str, value: Any, where: str) -> Any:
    if key in _INT_KEYS:
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"{key} in {where} must be an integer, got {value!r}") from exc
    if key in _PATH_KEYS:
        return Path(str(value)) if value not in (None, "") else None
    if key in _BOOL_KEYS:
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word not in _TRUE | _FALSE:
            raise SettingsError(f"{key} in {where} must be true or false, got {value!r}")
        return word in _TRUE
    return str(value)


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> CollectorSettings:
    """Build settings: ``overrides`` (CLI) win over ``env`` (ESUP_COLLECTOR_*), then the file."""
    values: dict[str, Any] = {}
    if config_file is not None:
        try:
            data = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"cannot read the settings file {config_file}: {exc}") from exc
        section = data.get("collector", data)
        for key, value in section.items():
            if key not in KNOWN_KEYS:
                raise SettingsError(
                    f"unknown setting {key!r} in {config_file}; "
                    f"known: {', '.join(sorted(KNOWN_KEYS))}"
                )
            values[key] = _coerce(key, value, str(config_file))
    environ = os.environ if env is None else env
    for key in KNOWN_KEYS:
        raw = environ.get(ENV_PREFIX + key.upper())
        if raw is not None and raw != "":
            values[key] = _coerce(key, raw, f"${ENV_PREFIX}{key.upper()}")
    for key, value in (overrides or {}).items():
        if key not in KNOWN_KEYS:
            raise SettingsError(f"unknown setting {key!r}")
        if value is not None:
            values[key] = _coerce(key, value, "the command line")
    values = {k: v for k, v in values.items() if v is not None}
    return replace(CollectorSettings(), **values).validated()
