"""Canonical form and content hash: RFC 8785 + SHA-256."""

from __future__ import annotations

import json

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange_spec import canonical_bytes, content_hash

RECORD = {
    "spec": "1.0",
    "type": "SL",
    "SBLSH": "430700SCJ20260914001",
    "SXBM": "11430700MB1534211G300011111700001",
    "BMBM": "11430700MB1534211G",
    "XZQHDM": "430700",
    "SJBBH": 1,
    "SLZTDM": "1",
    "SLSJ": "2026-09-14T10:05:31+08:00",
    "GDBLSX": 10,
    "GDSF": 100,
    "BLRXM": "王芳",
}


def test_key_order_does_not_matter() -> None:
    reversed_keys = dict(reversed(list(RECORD.items())))
    assert list(reversed_keys) != list(RECORD)
    assert content_hash(reversed_keys) == content_hash(RECORD)


def test_number_formatting_does_not_matter() -> None:
    # the same record as another program might serialise it: 1.0 for 1, 1e2 for 100
    text = json.dumps(RECORD, ensure_ascii=True, indent=2)
    text = text.replace('"SJBBH": 1', '"SJBBH": 1.0').replace('"GDSF": 100', '"GDSF": 1e2')
    reparsed = json.loads(text)
    assert reparsed["SJBBH"] == 1.0 and isinstance(reparsed["SJBBH"], float)
    assert isinstance(reparsed["GDSF"], float)
    assert content_hash(reparsed) == content_hash(RECORD)


def test_canonical_bytes_are_rfc8785() -> None:
    assert canonical_bytes({"b": 1.0, "a": "王", "c": [1e2, 0.5]}) == (
        '{"a":"王","b":1,"c":[100,0.5]}'.encode()
    )


def test_different_content_hashes_differently() -> None:
    changed = dict(RECORD, SLSJ="2026-09-14T10:05:32+08:00")
    assert content_hash(changed) != content_hash(RECORD)
    assert content_hash(dict(RECORD, SJBBH=2)) != content_hash(RECORD)
    assert content_hash({k: v for k, v in RECORD.items() if k != "BLRXM"}) != content_hash(RECORD)


def test_hash_is_sha256_hex() -> None:
    digest = content_hash(RECORD)
    assert len(digest) == 64 and int(digest, 16) >= 0


# the flat-record fast path must write exactly what RFC 8785 writes
_KEYS = st.text(alphabet=st.characters(codec="ascii"), min_size=1, max_size=8)
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.text(max_size=12),  # any code point: controls, CJK, astral, U+2028 ...
    st.sampled_from(["\u2028", "\x7f", "\x00", "\ud7ff", "\U0001f600", '"\\/']),
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_KEYS, _VALUES, max_size=8))
def test_fast_canonical_form_equals_rfc8785(record: dict[str, object]) -> None:
    try:
        expected = rfc8785.dumps(record)
    except rfc8785.CanonicalizationError:
        return  # e.g. integers beyond 2**53 are refused by both paths alike
    assert canonical_bytes(record) == expected


def test_large_integers_take_the_general_path() -> None:
    with pytest.raises(rfc8785.CanonicalizationError):
        canonical_bytes({"n": 2**60})
