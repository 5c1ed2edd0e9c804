"""The fault suite's table: printed at the end of the run (whatever the capture mode) and written to
tests/faults/last-run.md (not committed)."""

from __future__ import annotations

from pathlib import Path

from tests.faults.support import ROWS, table
from tests.integration.conftest import _quiet_libraries, invoke, new_instance, stack  # noqa: F401 - fixtures

LAST_RUN = Path(__file__).with_name("last-run.md")


def pytest_terminal_summary(terminalreporter) -> None:
    if not ROWS:
        return
    text = table(ROWS)
    lost = sum(r.lost for r in ROWS)
    duplicates = sum(r.duplicates for r in ROWS)
    verdict = (f"{len(ROWS)} scenarios: {sum(r.events_in for r in ROWS)} events in, "
               f"{sum(r.apis for r in ROWS)} APIs, lost {lost}, duplicates {duplicates}")
    LAST_RUN.write_text(f"# Fault suite: last run\n\n{text}\n\n{verdict}\n", encoding="utf-8")
    terminalreporter.write_sep("=", "fault suite")
    terminalreporter.write_line(text)
    terminalreporter.write_line(f"{verdict} (also in tests/faults/{LAST_RUN.name})")
