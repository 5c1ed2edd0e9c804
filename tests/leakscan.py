"""Leak scan: no client secret and no access token in anything the test suite captured.

A pytest plugin (loaded by the root ``conftest.py``). After each phase of each test it looks for
every secret the Auth0 emulators of this process were given or issued
(:func:`local.auth0_emulator.known_secrets`: M2M client secrets, secrets of clients created
through the API, access tokens) in

- what pytest captured in that phase: stdout, stderr and log records (``report.sections``), i.e.
  the product's Powertools JSON log lines, warnings and tracebacks printed by the code under test;
- log lines produced outside pytest's capture and handed to :func:`observe`, e.g. the output of the
  local Lambda instances of a pipeline run (``PipelineOptions(on_log=...)``).

A phase in which a secret is found fails, naming where it was found (the secret itself is shown
only as its length and first four characters). A test that must print a secret on purpose carries
``@pytest.mark.prints_secrets``; its own captured output is then not scanned (lines it hands to
:func:`observe` still are). The terminal summary says how much was scanned.

Values shorter than :data:`MIN_LENGTH` characters are not looked for: a short test secret such as
``"x"`` would match everywhere.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

import pytest

MIN_LENGTH = 12
_RUN = re.compile(r"[^\s\"'\\,;:<>()\[\]{}|`]{" + str(MIN_LENGTH) + ",}")  # runs without separators
_ODD = "\0odd"  # index key of secrets that contain a separator (looked for with a plain search)


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    pending: list[tuple[str, str]] = field(default_factory=list)  # (source, line) from observe()
    phases: int = 0
    characters: int = 0
    observed_lines: int = 0
    secrets_known: int = 0
    leaks: list[str] = field(default_factory=list)
    _index_size: int = -1
    _index: dict[str, list[str]] = field(default_factory=dict)

    def index(self) -> dict[str, list[str]]:
        """Secrets by their first MIN_LENGTH characters (rebuilt when new secrets appear)."""
        try:
            from local.auth0_emulator import known_secrets
        except ImportError:  # pragma: no cover - the local tools are part of the repository
            return {}
        secrets = known_secrets()
        if len(secrets) != self._index_size:
            index: dict[str, list[str]] = {}
            for secret in secrets:
                if len(secret) >= MIN_LENGTH:
                    key = secret[:MIN_LENGTH] if _RUN.fullmatch(secret) else _ODD
                    index.setdefault(key, []).append(secret)
            self._index, self._index_size = index, len(secrets)
            self.secrets_known = sum(len(v) for v in index.values())
        return self._index


_state = _State()


def observe(source: str, line: str) -> None:
    """Queue a line produced outside pytest's capture; it is scanned with the current test's output."""
    with _state.lock:
        _state.pending.append((source, line))
        _state.observed_lines += 1


def find_secrets(text: str, index: dict[str, list[str]] | None = None) -> list[str]:
    """The known secrets that occur in ``text``."""
    index = _state.index() if index is None else index
    if not index or len(text) < MIN_LENGTH:
        return []
    found = {secret for secret in index.get(_ODD, ()) if secret in text}
    for run in _RUN.findall(text):
        for start in range(len(run) - MIN_LENGTH + 1):
            candidates = index.get(run[start:start + MIN_LENGTH])
            if candidates:
                found.update(secret for secret in candidates if run.startswith(secret, start))
    return sorted(found)


def describe(secret: str) -> str:
    """A secret as it may be shown: its length and first four characters."""
    return f"{secret[:4]}... ({len(secret)} characters)"


def _redact(text: str, secrets: set[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, f"[LEAKED SECRET {describe(secret)}]")
    return text


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    with _state.lock:
        pending, _state.pending = _state.pending, []
    texts: list[tuple[str, str]] = []
    if item.get_closest_marker("prints_secrets") is None:
        # Sections accumulate over the phases: take this phase's own.
        texts += [(title, content) for title, content in report.sections
                  if title.startswith("Captured ") and title.endswith(f" {report.when}")]
    if pending:
        by_source: dict[str, list[str]] = {}
        for source, line in pending:
            by_source.setdefault(source, []).append(line)
        texts += [(f"log of {source}", "\n".join(lines)) for source, lines in by_source.items()]
    if not texts:
        return report
    index = _state.index()
    problems, found = [], set()
    for where, text in texts:
        _state.characters += len(text)
        secrets = find_secrets(text, index)
        found.update(secrets)
        problems += [f"{describe(secret)} in {where}" for secret in secrets]
    _state.phases += 1
    if problems:
        # pytest shows a failed test's captured output: never the secret itself.
        report.sections = [(title, _redact(content, found)) for title, content in report.sections]
        message = f"leak scan: a secret or token appears in captured output ({report.nodeid}, {report.when}): " + \
            "; ".join(problems)
        _state.leaks.append(message)
        report.outcome = "failed"
        report.longrepr = message
    return report


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "prints_secrets: the test prints a secret on purpose; its captured output is not leak-scanned"
    )


def pytest_terminal_summary(terminalreporter) -> None:
    state = _state
    if not state.phases and not state.leaks:
        return
    verdict = f"{len(state.leaks)} LEAK(S)" if state.leaks else "no secret or token found"
    terminalreporter.write_line(
        f"leak scan: {state.characters / 1e6:.1f} MB of captured output from {state.phases} test phases "
        f"({state.observed_lines} worker log lines) checked against {state.secrets_known} known secrets "
        f"and tokens: {verdict}"
    )
