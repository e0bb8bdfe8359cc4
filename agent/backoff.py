"""Retry waits for delivery: exponential growth with jitter, retried forever.

The wait is a pure function of the attempt number and a random draw, so tests check the
exact waits; :class:`Backoff` only counts failures. Nothing here sleeps.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


def backoff_delay(attempt: int, first: float, cap: float, draw: float) -> float:
    """Wait before retry number ``attempt`` (0 = first retry), ``draw`` in [0, 1).

    The ceiling doubles from ``first`` up to ``cap``; the wait is drawn uniformly between
    half of ``first`` and that ceiling (full jitter, with a floor so that a flapping link
    is never hammered with near-zero waits).
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    # min() before the power would overflow on long outages; cap the exponent instead.
    ceiling = min(float(cap), first * 2.0 ** min(attempt, 60))
    floor = min(first / 2, ceiling)
    return floor + (ceiling - floor) * min(max(draw, 0.0), 1.0)


@dataclass
class Backoff:
    """Failure counter of one retry loop; ``failed()`` returns the next wait in seconds."""

    first: float = 2.0
    cap: float = 300.0
    draw: Callable[[], float] = field(default=random.random)
    attempts: int = 0

    def failed(self) -> float:
        wait = backoff_delay(self.attempts, self.first, self.cap, self.draw())
        self.attempts += 1
        return wait

    def succeeded(self) -> None:
        self.attempts = 0
