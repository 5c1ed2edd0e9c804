"""Every secret value the emulators of this process were given or handed out, for leak scans.

The test suite's leak scan (``tests/leakscan.py``) reads :func:`known_secrets` after each test and
looks for these values in everything the test captured: client secrets registered with
:meth:`Auth0Emulator.add_m2m_client`, the secrets of clients created through the API, and every
access token ``/oauth/token`` issued. Process-wide on purpose: a test may start several emulators.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_values: set[str] = set()


def remember(value: object) -> None:
    """Note a secret value (anything that is not a non-empty string is ignored)."""
    if isinstance(value, str) and value:
        with _lock:
            _values.add(value)


def known_secrets() -> frozenset[str]:
    """A snapshot of every secret value noted so far in this process."""
    with _lock:
        return frozenset(_values)
