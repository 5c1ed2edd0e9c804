"""Fault injection: make the emulator misbehave the way a real tenant or network sometimes does.

A :class:`Fault` matches requests by path prefix (on the raw path) and optionally by method. The
first matching fault, in the order they were injected, applies to a request; ``times`` counts down
with each request it applies to and the fault is removed at zero (``times=None``: until
:meth:`FaultInjector.clear`).

Kinds:

- ``"status"``: answer ``status`` (e.g. 500, 502, 503, or 429) with an Auth0-style error body;
- ``"latency"``: sleep ``delay`` seconds, then handle the request normally;
- ``"drop"``: close the connection without sending any response;
- ``"unauthorized"``: answer 401 as if the (otherwise valid) token's signing key had been rotated.

``after=True`` (``status``, ``drop`` and ``latency``): the request is handled first — a write takes
effect and its ``sapi`` record is streamed — and only then is the answer replaced by the error,
cut off or delayed: what a caller sees when a gateway fails or a connection breaks on the way back.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

FAULT_KINDS = ("status", "latency", "drop", "unauthorized")


@dataclass
class Fault:
    """One injected fault; see the module docstring for the kinds."""

    kind: str
    times: int | None = 1
    path_prefix: str = "/api/v2"
    method: str | None = None
    status: int = 503
    delay: float = 0.0
    after: bool = False

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1, or None for 'until cleared'")
        if self.kind == "status" and not 400 <= self.status <= 599:
            raise ValueError("a status fault needs a 4xx or 5xx status")
        if self.delay < 0:
            raise ValueError("delay must not be negative")
        if self.after and self.kind == "unauthorized":
            raise ValueError("after=True applies to status, drop and latency faults")
        if self.method is not None:
            self.method = self.method.upper()

    def matches(self, method: str, raw_path: str) -> bool:
        """Whether this fault applies to a request."""
        return raw_path.startswith(self.path_prefix) and (self.method is None or self.method == method)


@dataclass
class FaultInjector:
    """The thread-safe list of active faults."""

    _faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def inject(self, fault: Fault) -> Fault:
        """Add a fault (after those already active)."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    @property
    def active(self) -> list[Fault]:
        """A snapshot of the faults still active."""
        with self._lock:
            return list(self._faults)

    def take(self, method: str, raw_path: str) -> Fault | None:
        """The fault that applies to this request, if any, counting it down."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, raw_path):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times == 0:
                            self._faults.remove(fault)
                    return fault
        return None
