"""Pacing for operator runs that must leave most of the tenant's rate limit (and a queue's
throughput) to others: a fixed-interval pacer and a paced ``requests`` session."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["Pacer", "pace_management_calls"]


class Pacer:
    """At most ``rate`` events a second (None or 0: no limit); ``wait()`` before each one."""

    def __init__(self, rate: float | None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self._interval = 1.0 / rate if rate else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0

    def wait(self) -> None:
        if not self._interval:
            return
        now = self._clock()
        if self._next > now:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self._interval


def pace_management_calls(session: Any, max_rate: float) -> None:
    """Let at most ``max_rate`` Management API requests a second leave ``session`` (a
    ``requests.Session``); the token endpoint is not paced. For a sweep that must leave most of
    the tenant's rate limit to other clients."""
    pacer = Pacer(max_rate)
    send = session.request

    def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if "/api/v2/" in url:
            pacer.wait()
        return send(method, url, *args, **kwargs)

    session.request = request
