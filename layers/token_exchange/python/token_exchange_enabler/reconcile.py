"""The reconciliation sweep: enable every API the event path missed.

The event path can miss an API (a log stream paused after days of failures, events dropped
while the partner source was not associated, a dead letter nobody replayed). The sweep reads
the tenant as it is and hands every API that needs work to the same decision core as the worker
(:meth:`~token_exchange_enabler.enabling.Enabler.enable`): the same decisions, lock, request
bodies and error handling.

Cost. A sweep must stay cheap when almost everything is already enabled, so it decides from
listings first and reads APIs one by one only where the listing says there is work:

* ``on_behalf_of``: the Custom API clients are listed once (``GET /api/v2/clients`` with
  ``app_type=resource_server`` and only the fields needed), then the resource servers page by
  page. An API whose client already allows On-Behalf-Of costs nothing more. An API that needs
  work is enabled under its lock from a fresh read: ``GET`` the resource server (and ``GET`` its
  client, to merge into what is there now, not into the listing's copy), then one write. A sweep
  of ``n`` APIs of which ``c`` need a client and ``m`` a merge makes
  ``ceil(n / per_page) + ceil(clients / per_page) + 2c + 3m`` calls.
* ``legacy_resource_server``: the resource servers are listed (a tenant that knows the field
  returns ``token_exchange`` with them) and each one without it is read and PATCHed.

Nothing is claimed from memory: every "enabled" or "already enabled" the sweep reports for an API
that needed work comes from a read made under the API's lock. An API whose lock is held by
someone else (the worker, an operator) is reported as ``busy``: not done, and the sweep's exit
status says so; the next sweep (or the worker's retry) finishes it.

A dry run decides from the listings alone and writes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .auth0 import Auth0Error, ManagementApi
from .config import MODE_ON_BEHALF_OF, Config
from .decision import (
    CUSTOM_API_APP_TYPE,
    OBO_PROFILE,
    USER_SUBJECT,
    ApiRef,
    ApiState,
    ClientState,
    GrantState,
    Observed,
    Outcome,
    Plan,
    Status,
)
from .enabling import CLIENT_FIELDS, Enabler, attempt, failed, outcome_of
from .errors import KIND_TRANSIENT, KIND_UNREACHABLE, PermanentFailure

__all__ = [
    "ReconcileReport",
    "Reconciler",
]

STOPPED_CONFIGURATION = "configuration"
STOPPED_UNREACHABLE = "unreachable"
STOPPED_INTERRUPTED = "interrupted"
STOPPED_DEADLINE = "deadline"

_CONSECUTIVE_TRANSIENT_LIMIT = 3


@dataclass
class ReconcileReport:
    """The sweep's outcome. ``as_dict()`` is the ``--json`` output (already-enabled APIs are
    counted, not listed)."""

    mode: str
    dry_run: bool
    results: list[Outcome] = field(default_factory=list)
    management_calls: int = 0
    seconds: float = 0.0
    stopped: str | None = None
    error: str | None = None

    def count(self, status: Status) -> int:
        return sum(1 for result in self.results if result.status == status)

    @property
    def ok(self) -> bool:
        """Every API examined is done, and the sweep was not stopped."""
        return self.stopped is None and all(result.done for result in self.results)

    def as_dict(self) -> dict[str, Any]:
        apis = len(self.results)
        return {
            "mode": self.mode,
            "dry_run": self.dry_run,
            "apis": apis,
            "already_enabled": self.count(Status.ALREADY_ENABLED),
            "enabled": self.count(Status.ENABLED),
            "planned": self.count(Status.DRY_RUN),
            "skipped": self.count(Status.SKIPPED),
            "busy": self.count(Status.BUSY),
            "failed": self.count(Status.FAILED),
            "management_calls": self.management_calls,
            "calls_per_api": round(self.management_calls / apis, 3) if apis else None,
            "seconds": round(self.seconds, 3),
            "stopped": self.stopped,
            "error": self.error,
            "items": [r.as_dict() for r in self.results if r.status != Status.ALREADY_ENABLED],
        }


Progress = Callable[[int, Mapping[str, int]], None]
"""``progress(examined, counts_by_status)``, after each API."""


class Reconciler:
    """The sweep over one tenant, through the decision core ``enabler``.

    ``should_stop()`` is asked before each API (Ctrl-C, the Lambda deadline; ``stopped_as`` names
    it in the report): a stopped sweep is simply run again, since it starts from the tenant's
    state. ``time_left()``: seconds until the caller's deadline (None: the command line), which
    bounds each API's lock. ``metrics``: Powertools Metrics (optional).
    """

    def __init__(
        self,
        *,
        enabler: Enabler,
        should_stop: Callable[[], bool] = lambda: False,
        stopped_as: str = STOPPED_INTERRUPTED,
        progress: Progress | None = None,
        per_page: int = 100,
        time_left: Callable[[], float | None] = lambda: None,
        metrics: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._enabler = enabler
        self._api: ManagementApi = enabler.api
        self._config: Config = enabler.config
        self._should_stop = should_stop
        self._stopped_as = stopped_as
        self._progress = progress or (lambda examined, counts: None)
        self._per_page = per_page
        self._time_left = time_left
        self._metrics = metrics
        self._clock = clock

    def run(self) -> ReconcileReport:
        config = self._config
        report = ReconcileReport(mode=config.mode, dry_run=config.dry_run)
        started, calls_before = self._clock(), self._api.stats.management_calls
        counts: dict[str, int] = {}
        transient_in_a_row = 0
        try:
            clients = _ClientIndex(self._custom_api_clients()) if config.mode == MODE_ON_BEHALF_OF else None
            grants = self._user_grants() if clients is not None and config.downstream_grants else None
            for server in self._api.iter_resource_servers(per_page=self._per_page):
                if self._should_stop():
                    report.stopped = self._stopped_as
                    break
                result = self._one(server, clients, grants)
                report.results.append(result)
                counts[result.status] = counts.get(result.status, 0) + 1
                self._progress(len(report.results), counts)
                if result.error_kind == "configuration":  # every other API would fail the same way
                    report.stopped, report.error = STOPPED_CONFIGURATION, result.reason
                    break
                transient_in_a_row = transient_in_a_row + 1 if result.error_kind in (
                    KIND_TRANSIENT, KIND_UNREACHABLE) else 0
                if transient_in_a_row >= _CONSECUTIVE_TRANSIENT_LIMIT:
                    report.stopped, report.error = STOPPED_UNREACHABLE, result.reason
                    break
        except Auth0Error as error:  # listing failed
            kind = STOPPED_CONFIGURATION if error.configuration else (
                STOPPED_UNREACHABLE if error.retryable else Status.FAILED.value)
            report.stopped, report.error = kind, f"listing failed: {error}"
        report.management_calls = self._api.stats.management_calls - calls_before
        report.seconds = self._clock() - started
        self._emit_metrics(report)
        return report

    # ---- listing

    def _custom_api_clients(self) -> Iterable[dict]:
        return list(self._api.iter_clients(app_type=CUSTOM_API_APP_TYPE, fields=CLIENT_FIELDS,
                                           per_page=min(self._per_page, 100)))

    def _user_grants(self) -> dict[str, tuple[GrantState, ...]]:
        """The user-delegated grants to each configured downstream API, by client: one listing per
        audience, so that an API whose grants are right costs no call of its own."""
        by_client: dict[str, list[GrantState]] = {}
        for wanted in self._config.downstream_grants:
            for grant in self._api.iter_client_grants(audience=wanted.audience, subject_type=USER_SUBJECT,
                                                      per_page=min(self._per_page, 100)):
                by_client.setdefault(str(grant.get("client_id")), []).append(GrantState.from_auth0(grant))
        return {client_id: tuple(found) for client_id, found in by_client.items()}

    # ---- one API

    def _one(self, server: Mapping[str, Any], clients: _ClientIndex | None,
             grants: Mapping[str, tuple[GrantState, ...]] | None) -> Outcome:
        api = ApiState.from_auth0(server)
        ref = ApiRef(api_id=api.api_id, identifier=api.identifier, name=api.name, is_system=api.is_system)
        client = clients.of(api) if clients is not None else None
        its_grants = grants.get(client.client_id, ()) if grants is not None and client is not None else None
        try:
            listed = self._enabler.plan(Observed(ref, api, client, its_grants))
        except PermanentFailure as failure:
            return failed(ref, failure.reason, failure.kind)
        unseen_link = clients is not None and api.client_id is not None and client is None
        if not listed.writes and not unseen_link:
            return outcome_of(listed, ref)
        if self._config.dry_run:
            if unseen_link:  # a client created after the listing: the core reads it (and writes nothing)
                return attempt(lambda: self._enabler.enable(ref), ref)
            return self._dry(listed, ref)
        return attempt(lambda: self._enabler.enable(ref, time_left=self._time_left(),
                                                    client_hint=client.client_id if client else None), ref)

    def _dry(self, listed: Plan, ref: ApiRef) -> Outcome:
        return Outcome(Status.DRY_RUN, listed.api_id, listed.would(), identifier=listed.identifier,
                       name=listed.name, action=listed.action, client_id=listed.client_id)

    def _emit_metrics(self, report: ReconcileReport) -> None:
        if self._metrics is None:
            return
        from aws_lambda_powertools.metrics import MetricUnit

        # A sweep that could not finish (listing refused or unreachable, a configuration error) is
        # one failure more: it may have examined nothing, and its alarm must still fire.
        unfinished = report.stopped not in (None, STOPPED_INTERRUPTED, STOPPED_DEADLINE)
        for name, value in (("ReconcileRepaired", report.count(Status.ENABLED)),
                            ("ReconcileFailed", report.count(Status.FAILED) + int(unfinished)),
                            ("ReconcileBusy", report.count(Status.BUSY)),
                            ("ReconcileApis", len(report.results))):
            self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


class _ClientIndex:
    """The tenant's Custom API clients by client id and by the identifier they name."""

    def __init__(self, clients: Iterable[Mapping[str, Any]]):
        self.by_id: dict[str, ClientState] = {}
        self.by_identifier: dict[str, list[ClientState]] = {}
        for listed in clients:
            client = ClientState.from_auth0(listed)
            self.by_id[client.client_id] = client
            if client.resource_server_identifier:
                self.by_identifier.setdefault(client.resource_server_identifier, []).append(client)

    def of(self, api: ApiState) -> ClientState | None:
        """The API's Custom API client as listed: the one the resource server links, else any
        naming its identifier (so that the sweep never makes a second one). None also when the
        linked client was not in the listing (created since): the core reads it."""
        if api.client_id:
            return self.by_id.get(api.client_id)
        named = self.by_identifier.get(api.identifier or "")
        if not named:
            return None
        return next((c for c in named if OBO_PROFILE in c.profiles), named[0])
