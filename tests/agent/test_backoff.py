from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.backoff import Backoff, backoff_delay


def test_waits_double_from_the_first_up_to_the_cap() -> None:
    ceilings = [backoff_delay(n, 2.0, 300.0, 1.0) for n in range(10)]
    assert ceilings == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]


def test_jitter_spans_from_half_the_first_wait_to_the_ceiling() -> None:
    assert backoff_delay(0, 2.0, 300.0, 0.0) == 1.0
    assert backoff_delay(5, 2.0, 300.0, 0.0) == 1.0
    assert backoff_delay(5, 2.0, 300.0, 0.5) == pytest.approx(1.0 + (64 - 1.0) / 2)


def test_a_week_long_outage_does_not_overflow() -> None:
    assert backoff_delay(10_000, 2.0, 300.0, 1.0) == 300.0


def test_backoff_counts_failures_and_resets_on_success() -> None:
    b = Backoff(2.0, 300.0, draw=lambda: 1.0)
    assert [b.failed() for _ in range(4)] == [2, 4, 8, 16]
    b.succeeded()
    assert b.failed() == 2


@given(
    attempt=st.integers(0, 100_000),
    first=st.floats(0.1, 60),
    cap=st.floats(1, 3600),
    draw=st.floats(0, 1),
)
def test_every_wait_is_positive_and_never_above_the_cap(
    attempt: int, first: float, cap: float, draw: float
) -> None:
    wait = backoff_delay(attempt, first, cap, draw)
    assert 0 < wait <= cap
    assert wait >= min(first / 2, cap)
