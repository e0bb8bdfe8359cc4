"""The city data-exchange spec (数据交换规范) as data: schemas, code tables, rules.

This package is the only contract between the agent and the collector.
Public API (pinned by tests/exchange_spec/test_public_api.py):

- :func:`validate_record` – every problem of one record (empty list when valid)
- :class:`DateBounds` – the dates a record may carry (default 2000-01-01 .. 2100-12-31)
- :func:`is_valid` – fast yes/no for the hot path
- :func:`validate_record_set`, :func:`validate_records` – rules across the records of a case
- :func:`content_hash`, :func:`canonical_bytes` – RFC 8785 + SHA-256
- :func:`business_key`, :func:`version`, :func:`event_time` – record identity
- :mod:`exchange_spec.protocol` – signed envelopes between agent and collector
"""

from .__version__ import __version__
from .canonical import canonical_bytes, content_hash
from .date_bounds import DEFAULT_DATE_BOUNDS, DateBounds
from .errors import SpecError
from .records import (
    CASE_TYPES,
    RECORD_TYPES,
    SPEC_VERSION,
    business_key,
    event_time,
    version,
)
from .validate import (
    Problem,
    is_valid,
    validate_record,
    validate_record_set,
    validate_records,
)

__all__ = [
    "CASE_TYPES",
    "DEFAULT_DATE_BOUNDS",
    "RECORD_TYPES",
    "SPEC_VERSION",
    "DateBounds",
    "Problem",
    "SpecError",
    "__version__",
    "business_key",
    "canonical_bytes",
    "content_hash",
    "event_time",
    "is_valid",
    "validate_record",
    "validate_record_set",
    "validate_records",
    "version",
]
