"""The fast path for flat records writes exactly what RFC 8785 writes."""

from __future__ import annotations

import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from exchange_spec.canonical import canonical_bytes

keys = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=8
)
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    # any text: control characters, quotes, backslashes, CJK, U+2028, astral characters
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
)


@given(st.dictionaries(keys, values, max_size=12))
def test_flat_records_canonicalise_as_rfc8785(record: dict[str, object]) -> None:
    assert canonical_bytes(record) == rfc8785.dumps(record)


def test_values_outside_the_fast_path_still_follow_rfc8785() -> None:
    for record in (
        {"a": 1.5, "b": 100.0},
        {"nested": {"z": 1, "a": [1, 2.0]}},
        {"键": "值", "a": "\u2028\x00\x1f"},
    ):
        assert canonical_bytes(record) == rfc8785.dumps(record)
