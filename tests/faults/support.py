"""The fault suite's bookkeeping: run a scenario, check that nothing was lost, keep its row.

Every scenario ends in a :class:`Row`: how many "API created" events went in (copies included),
for how many APIs, and how each API ended — enabled (or already enabled), skipped with its reason,
dead-lettered with its reason, or lost (no outcome: must be 0) — and how many APIs got a second
Custom API client (must be 0). ``tests/faults/conftest.py`` prints the table at the end of the run
and writes it to ``tests/faults/last-run.md``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.auth0_emulator import Auth0Emulator, eventbridge_envelope
from local.pipeline import DOMAIN, PipelineOptions, run_pipeline
from tests.leakscan import observe

API_CREATION = "/api/v2/resource-servers"
TERMINAL = {"enabled", "already_enabled", "skipped", "dead_lettered"}


@dataclass
class Row:
    scenario: str
    ran_as: str  # "pipeline" (run_pipeline) or "in-process" (the handler in this process)
    events_in: int
    apis: int
    enabled: int
    skipped: int
    dead_lettered: int
    lost: int
    duplicates: int  # APIs with more than one Custom API client
    seconds: float
    notes: str = ""


ROWS: list[Row] = []
HEADERS = ("scenario", "ran as", "events in", "APIs", "enabled", "skipped", "dead-lettered", "lost",
           "duplicates", "s", "what the faults did")


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table (readable as plain text too)."""
    cells = [HEADERS] + [
        (r.scenario, r.ran_as, str(r.events_in), str(r.apis), str(r.enabled), str(r.skipped), str(r.dead_lettered),
         str(r.lost), str(r.duplicates), f"{r.seconds:.1f}", r.notes)
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADERS))]
    numeric = range(2, 10)

    def line(row):
        return "| " + " | ".join(c.rjust(w) if i in numeric else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(row, widths, strict=True))) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if i in numeric else ("-" * (w + 2))
                          for i, w in enumerate(widths)) + "|"
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


# --------------------------------------------------------------------------- pipeline scenarios


@dataclass
class Run:
    """What a pipeline scenario saw besides run_pipeline's summary."""

    summary: dict[str, Any] = field(default_factory=dict)
    emulator: Auth0Emulator | None = None
    stack: Any = None
    events_in: int = 0  # "API created" events put on the bus, copies included
    lines: list[str] = field(default_factory=list)  # every line the worker instances printed
    lock: threading.Lock = field(default_factory=threading.Lock)

    def log_messages(self) -> list[str]:
        messages = []
        for line in self.lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                messages.append(str(entry.get("message", "")))
        return messages


def run_scenario(
    name: str,
    options: PipelineOptions,
    *,
    setup: Callable[[Run], None] | None = None,
    on_api_event: Callable[[Run, dict, int], None] | None = None,
    notes: Callable[[Run], str] = lambda run: "",
) -> Run:
    """run_pipeline with bookkeeping; the scenario's row is checked and kept.

    ``setup(run)`` runs once the stack and the emulator exist (``run.stack``, ``run.emulator``), before
    any API is created. ``on_api_event(run, event, n)`` sees each "API created" EventBridge event (the
    n-th, from 1) as Auth0 streams it; it may put copies on the bus (``run.stack.put_auth0_event``),
    each of which must be counted in ``run.events_in``.
    """
    run = Run()

    def on_log(instance: str, line: str) -> None:
        observe(f"worker instance {instance}", line)  # the leak scan reads the workers' logs too
        with run.lock:
            run.lines.append(line)

    def pipeline_setup(emulator: Auth0Emulator, stack: Any) -> None:
        run.emulator, run.stack = emulator, stack
        streamed = emulator.on_log_event  # run_pipeline's log stream to EventBridge

        def count(record: dict) -> None:
            details = record.get("data", {}).get("details", {})
            request = details.get("request", {})
            if request.get("method") == "post" and request.get("path") == API_CREATION:
                with run.lock:
                    run.events_in += 1
                    n = run.events_in
                if on_api_event is not None:
                    on_api_event(run, eventbridge_envelope(record, DOMAIN), n)
            streamed(record)

        emulator.on_log_event = count
        if setup is not None:
            setup(run)

    options.setup = pipeline_setup
    options.on_log = on_log
    # moto keeps its state per process, not per server: start each run from an empty local AWS.
    from moto.moto_api._internal import moto_api_backend

    moto_api_backend.reset()
    started = time.monotonic()
    run.summary = run_pipeline(options)
    seconds = time.monotonic() - started
    summary = run.summary
    keep(Row(name, "pipeline", run.events_in, summary["apis_created"], summary["enabled"], summary["skipped"],
             summary["dead_lettered"], summary["lost"], summary["duplicate_clients"], seconds, notes(run)))
    assert_every_api_has_an_outcome(summary["apis"])
    assert summary["duplicate_clients"] == 0, "an API got a second Custom API client"
    return run


def keep(row: Row) -> None:
    ROWS.append(row)


def assert_every_api_has_an_outcome(apis: list[dict]) -> None:
    """Enabled, or skipped / dead-lettered with a stated reason; nothing lost."""
    lost = [a for a in apis if a["status"] not in TERMINAL]
    assert not lost, f"events lost (no outcome): {lost}"
    unexplained = [a for a in apis if a["status"] in ("skipped", "dead_lettered") and not a["reason"].strip()]
    assert not unexplained, f"outcomes without a reason: {unexplained}"


def custom_clients(emulator: Auth0Emulator) -> dict[str, list[dict]]:
    """Custom API clients by the identifier of their API."""
    found: dict[str, list[dict]] = {}
    for client in emulator.clients:
        if client.get("app_type") == "resource_server":
            found.setdefault(client.get("resource_server_identifier"), []).append(client)
    return found
