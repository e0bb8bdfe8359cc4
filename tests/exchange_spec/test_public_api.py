"""The public API of exchange_spec is pinned: others code against it."""

from __future__ import annotations

import exchange_spec
from exchange_spec import protocol


def test_all_is_pinned() -> None:
    assert sorted(exchange_spec.__all__) == [
        "CASE_TYPES",
        "DEFAULT_DATE_BOUNDS",
        "DateBounds",
        "Problem",
        "RECORD_TYPES",
        "SPEC_VERSION",
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


def test_every_name_in_all_exists() -> None:
    for name in exchange_spec.__all__:
        assert hasattr(exchange_spec, name), name


def test_problem_fields_are_stable() -> None:
    problem = exchange_spec.Problem("schema.required", "SLSJ", "缺", "missing", "SL")
    assert problem.as_dict() == {
        "code": "schema.required",
        "path": "SLSJ",
        "message_zh": "缺",
        "message_en": "missing",
        "record_type": "SL",
    }


def test_protocol_functions_are_still_there() -> None:
    for name in (
        "batch_manifest",
        "body_manifest",
        "sign",
        "verify",
        "signing_bytes",
        "frame_hash",
        "receipt",
        "ranges",
        "covered",
        "error_body",
        "check_fresh",
        "parse_time",
        "key_id",
        "new_nonce",
        "read_backlog",
        "heartbeat_backlog",
    ):
        assert callable(getattr(protocol, name)), name


def test_import_reads_no_schema() -> None:
    # schemas are compiled lazily: a fresh interpreter importing the package loads none
    import subprocess
    import sys

    code = (
        "import sys, exchange_spec, exchange_spec.schema_store as s, exchange_spec.validate as v;"
        "print(s._resolved.cache_info().currsize, v._fast.cache_info().currsize);"
        "r = {'spec': '1.0', 'type': 'LQDJ', 'SBLSH': 'a', 'SXBM': 'b', 'BMBM': 'c',"
        " 'XZQHDM': '430700', 'SJBBH': 1, 'LQSJ': '2026-09-24T10:00:00+08:00'};"
        "print(exchange_spec.validate_record(r), 'jsonschema' in sys.modules);"
        "print(len(exchange_spec.validate_record(dict(r, SJBBH=0))), 'jsonschema' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # nothing compiled at import; the explaining validator (jsonschema) loads only on failure
    assert out.stdout.split() == ["0", "0", "[]", "False", "1", "True"]


def test_internal_names_other_parts_use_are_still_there() -> None:
    # agent and collector reach into these modules; renaming them breaks those parts
    from exchange_spec.canonical import hash_canonical
    from exchange_spec.errors import ProtocolError, UnreadableInput
    from exchange_spec.rules import RULES, RecordSetChecker
    from exchange_spec.schema_store import code_table, resolved_schema
    from exchange_spec.wording import is_placeholder

    assert hash_canonical(b"{}") == (
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    )
    assert is_placeholder("无") and not is_placeholder("王芳")
    assert resolved_schema("SL")["properties"]["SLSJ"]["x-format"] == "time"
    assert code_table("SXDW").values == ["G", "Z"]
    assert RULES and RecordSetChecker and ProtocolError and UnreadableInput
