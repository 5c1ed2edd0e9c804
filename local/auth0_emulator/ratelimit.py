"""Token-bucket rate limiting with Auth0's ``x-ratelimit-*`` response headers.

Auth0 limits the Management API per tenant with a token bucket: ``burst`` requests can be made at
once, and the bucket refills at ``per_second`` tokens a second. Every response reports the bucket:

- ``x-ratelimit-limit``: the bucket size (the burst);
- ``x-ratelimit-remaining``: whole tokens left after this request;
- ``x-ratelimit-reset``: the Unix time (integer seconds) at which the bucket is expected to be
  full again. When nothing is left this is also a safe time to retry.

A request that finds the bucket empty is rejected with 429 and changes nothing.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

#: What the headers say when rate limiting is disabled (``rate_limit=None``).
UNLIMITED_HEADER_VALUE = 1_000_000


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: ``burst`` tokens at most, refilled at ``per_second`` tokens a second."""

    burst: int = 50
    per_second: float = 16.0

    def __post_init__(self) -> None:
        if self.burst < 1:
            raise ValueError("burst must be at least 1")
        if self.per_second <= 0:
            raise ValueError("per_second must be positive")

    @classmethod
    def free(cls) -> RateLimit:
        """Auth0's published Management API limit for Free tenants: burst 2, 2 requests/s."""
        return cls(burst=2, per_second=2.0)

    @classmethod
    def enterprise(cls) -> RateLimit:
        """Auth0's published Management API limit for Enterprise production tenants: burst 50, 16/s."""
        return cls(burst=50, per_second=16.0)

    @classmethod
    def enterprise_non_production(cls) -> RateLimit:
        """Auth0's published Management API limit for Enterprise non-production tenants: burst 10, 2/s."""
        return cls(burst=10, per_second=2.0)


@dataclass(frozen=True)
class Decision:
    """The outcome of one request against a bucket, with the headers to send."""

    allowed: bool
    limit: int
    remaining: int
    reset: int
    retry_after: int

    def headers(self) -> dict[str, str]:
        """The ``x-ratelimit-*`` headers Auth0 sends on every response."""
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(self.reset),
        }


class TokenBucket:
    """A thread-safe token bucket; ``None`` as the limit means "never limit"."""

    def __init__(self, limit: RateLimit | None, *, clock=time.monotonic, wall_clock=time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._wall_clock = wall_clock
        self._limit = limit
        self._tokens = float(limit.burst) if limit else 0.0
        self._updated = clock()

    @property
    def limit(self) -> RateLimit | None:
        """The configured limit (``None``: unlimited)."""
        return self._limit

    def configure(self, limit: RateLimit | None) -> None:
        """Change the limit and start again from a full bucket."""
        with self._lock:
            self._limit = limit
            self._tokens = float(limit.burst) if limit else 0.0
            self._updated = self._clock()

    def refill(self) -> None:
        """Fill the bucket to its burst (used when the emulator is reset)."""
        self.configure(self._limit)

    def take(self) -> Decision:
        """Take one token if there is one; report the bucket either way."""
        with self._lock:
            now_wall = self._wall_clock()
            limit = self._limit
            if limit is None:
                return Decision(True, UNLIMITED_HEADER_VALUE, UNLIMITED_HEADER_VALUE - 1, int(now_wall), 0)
            now = self._clock()
            self._tokens = min(float(limit.burst), self._tokens + (now - self._updated) * limit.per_second)
            self._updated = now
            allowed = self._tokens >= 1.0
            if allowed:
                self._tokens -= 1.0
            missing = limit.burst - self._tokens
            reset = math.ceil(now_wall + missing / limit.per_second)
            retry_after = 0 if allowed else max(1, math.ceil((1.0 - self._tokens) / limit.per_second))
            return Decision(allowed, limit.burst, int(self._tokens), reset, retry_after)
