"""Repairs outside the event path: enable APIs by id, and the reconciliation sweep.

The event path can miss an API (a log stream paused after days of failures, events dropped
while the partner source was not associated, a dead letter nobody replayed). The sweep reads
the tenant as it is and enables every API that is not yet enabled, with the same enabler — the
same decisions, request bodies and error handling as the worker.

Cost. A sweep must stay cheap when almost everything is already enabled, so it never reads APIs
one by one:

* ``on_behalf_of``: the Custom API clients are listed once (``GET /api/v2/clients`` with
  ``app_type=resource_server`` and only the fields needed), then the resource servers page by
  page. An API whose client already allows On-Behalf-Of costs nothing more. An API that needs
  work costs one write: ``POST /api/v2/clients`` (the client, created with token exchange on)
  or ``PATCH /api/v2/clients/{id}`` (merged into its ``token_exchange``). A sweep of ``n`` APIs
  of which ``k`` need work makes ``ceil(n / per_page) + ceil(clients / per_page) + k`` calls.
* ``legacy_resource_server``: the resource servers are listed (a tenant that knows the field
  returns ``token_exchange`` with them) and each one without it is PATCHed: one call.

Duplicates. The listing of a page is acted on at once, so what the sweep decides on is at most
one page old. To create a client, the sweep takes the worker's own per-API idempotency lock
(``IDEMPOTENCY_TABLE_NAME``): if the worker is enabling that API right now, the sweep leaves it
to the worker; if the worker just did, its recorded result is used. Without the table, a creation
first re-reads the API (the worker's look-before-create), one more call. The sweep is also more
careful than the worker about one thing: if any Custom API client already names the API's
identifier, it is treated as the API's client even when the resource server does not link it, so
the sweep never makes a second one.

Not done by the sweep: downstream grants (``DOWNSTREAM_GRANT_AUDIENCES``) are made for the APIs it
enables, not checked on APIs that were already enabled.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .auth0 import Auth0Error, ManagementApi, Unreachable
from .config import MODE_LEGACY, MODE_ON_BEHALF_OF, Config
from .enablers import (
    ALREADY_ENABLED,
    CUSTOM_API_APP_TYPE,
    DRY_RUN,
    ENABLED,
    OBO_PROFILE,
    SKIPPED,
    ApiRef,
    Enabler,
    PermanentFailure,
)

__all__ = [
    "ApiResult",
    "ReconcileReport",
    "Reconciler",
    "enable_apis",
    "pace_management_calls",
]

# What the sweep found an API needs.
ACTION_NONE = "none"  # already enabled
ACTION_SKIP = "skip"  # system or excluded API
ACTION_CREATE_CLIENT = "create_client"
ACTION_ENABLE_ON_CLIENT = "enable_on_client"
ACTION_PATCH_RESOURCE_SERVER = "patch_resource_server"

FAILED = "failed"
BUSY = "busy"  # the worker holds the API's lock right now

STOPPED_CONFIGURATION = "configuration"
STOPPED_UNREACHABLE = "unreachable"
STOPPED_INTERRUPTED = "interrupted"
STOPPED_DEADLINE = "deadline"

CLIENT_FIELDS = "client_id,app_type,resource_server_identifier,token_exchange"
_CONSECUTIVE_TRANSIENT_LIMIT = 3


@dataclass
class ApiResult:
    """One API: what it needed (``action``) and what became of it (``status``)."""

    api_id: str
    identifier: str | None
    action: str
    status: str  # enabled | already_enabled | skipped | dry_run | failed | busy
    reason: str
    name: str | None = None
    client_id: str | None = None
    created_client: bool = False
    error_kind: str | None = None  # failed: configuration | rejected | transient | unreachable

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ReconcileReport:
    """The sweep's outcome. ``as_dict()`` is the ``--json`` output (already-enabled APIs are
    counted, not listed)."""

    mode: str
    dry_run: bool
    results: list[ApiResult] = field(default_factory=list)
    management_calls: int = 0
    seconds: float = 0.0
    stopped: str | None = None
    error: str | None = None

    def count(self, status: str) -> int:
        return sum(1 for result in self.results if result.status == status)

    @property
    def ok(self) -> bool:
        return self.stopped is None and not self.count(FAILED)

    def as_dict(self) -> dict[str, Any]:
        apis = len(self.results)
        return {
            "mode": self.mode,
            "dry_run": self.dry_run,
            "apis": apis,
            "already_enabled": self.count(ALREADY_ENABLED),
            "enabled": self.count(ENABLED),
            "planned": self.count(DRY_RUN),
            "skipped": self.count(SKIPPED),
            "busy": self.count(BUSY),
            "failed": self.count(FAILED),
            "management_calls": self.management_calls,
            "calls_per_api": round(self.management_calls / apis, 3) if apis else None,
            "seconds": round(self.seconds, 3),
            "stopped": self.stopped,
            "error": self.error,
            "items": [r.as_dict() for r in self.results if r.status != ALREADY_ENABLED],
        }


Progress = Callable[[int, Mapping[str, int]], None]
"""``progress(examined, counts_by_status)``, after each API."""


class Reconciler:
    """The sweep over one tenant. Adapters come from :func:`~token_exchange_enabler.bootstrap.build_runtime`.

    ``idempotent``: the runtime's idempotency guard (None: no table). ``should_stop()`` is asked
    before each API (Ctrl-C, the Lambda deadline; ``stopped_as`` names it in the report): a
    stopped sweep is simply run again, since it starts from the tenant's state. ``metrics``:
    Powertools Metrics (optional).
    """

    def __init__(
        self,
        *,
        api: ManagementApi,
        enabler: Enabler,
        config: Config,
        idempotent: Callable | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        stopped_as: str = STOPPED_INTERRUPTED,
        progress: Progress | None = None,
        per_page: int = 100,
        context: Any = None,
        metrics: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._api = api
        self._enabler = enabler
        self._config = config
        self._idempotent = idempotent
        self._should_stop = should_stop
        self._stopped_as = stopped_as
        self._progress = progress or (lambda examined, counts: None)
        self._per_page = per_page
        self._context = context
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
            for server in self._api.iter_resource_servers(per_page=self._per_page):
                if self._should_stop():
                    report.stopped = self._stopped_as
                    break
                result = self._one(server, clients)
                report.results.append(result)
                counts[result.status] = counts.get(result.status, 0) + 1
                self._progress(len(report.results), counts)
                if result.error_kind == "configuration":  # every other API would fail the same way
                    report.stopped, report.error = STOPPED_CONFIGURATION, result.reason
                    break
                transient_in_a_row = transient_in_a_row + 1 if result.error_kind in ("transient", "unreachable") else 0
                if transient_in_a_row >= _CONSECUTIVE_TRANSIENT_LIMIT:
                    report.stopped, report.error = STOPPED_UNREACHABLE, result.reason
                    break
        except Auth0Error as error:  # listing failed
            kind = STOPPED_CONFIGURATION if error.configuration else (
                STOPPED_UNREACHABLE if error.retryable else FAILED)
            report.stopped, report.error = kind, f"listing failed: {error}"
        report.management_calls = self._api.stats.management_calls - calls_before
        report.seconds = self._clock() - started
        self._emit_metrics(report)
        return report

    # ---- listing

    def _custom_api_clients(self) -> Iterable[dict]:
        return list(self._api.iter_clients(app_type=CUSTOM_API_APP_TYPE, fields=CLIENT_FIELDS,
                                           per_page=min(self._per_page, 100)))

    # ---- one API

    def _one(self, server: Mapping[str, Any], clients: _ClientIndex | None) -> ApiResult:
        api_id = str(server.get("id") or "")
        identifier = server.get("identifier")
        result = ApiResult(api_id=api_id, identifier=identifier, name=server.get("name"), action=ACTION_NONE,
                           status=ALREADY_ENABLED, reason="")
        if server.get("is_system"):
            result.action, result.status = ACTION_SKIP, SKIPPED
            result.reason = "system API (e.g. the Auth0 Management API) cannot take part in token exchange"
            return result
        pattern = self._config.is_skipped_identifier(identifier or "")
        if pattern:
            result.action, result.status = ACTION_SKIP, SKIPPED
            result.reason = f"identifier matches skip pattern {pattern!r}"
            return result

        client: Mapping[str, Any] | None = None
        if clients is None:  # legacy: the field on the resource server itself
            if _legacy_enabled(server):
                result.reason = "token_exchange already set on the resource server"
                return result
            result.action = ACTION_PATCH_RESOURCE_SERVER
        else:
            client = clients.of(server, self._api)
            if client is not None:
                result.client_id = client.get("client_id")
                if OBO_PROFILE in _profiles(client):
                    result.reason = "On-Behalf-Of already enabled on its Custom API client"
                    return result
                result.action = ACTION_ENABLE_ON_CLIENT
            else:
                result.action = ACTION_CREATE_CLIENT

        if self._config.dry_run:
            result.status = DRY_RUN
            result.reason = {
                ACTION_CREATE_CLIENT: "would create its Custom API client with On-Behalf-Of enabled",
                ACTION_ENABLE_ON_CLIENT: f"would enable On-Behalf-Of on Custom API client {result.client_id}",
                ACTION_PATCH_RESOURCE_SERVER: "would PATCH the resource server's token_exchange field",
            }[result.action]
            return result
        self._apply(result, server, client)
        return result

    def _apply(self, result: ApiResult, server: Mapping[str, Any], client: Mapping[str, Any] | None) -> None:
        try:
            outcome = self._write(result, server, client)
        except PermanentFailure as failure:
            result.status, result.reason = FAILED, failure.reason
            result.error_kind = "configuration" if failure.configuration else "rejected"
            return
        except Auth0Error as error:  # retryable: rate limit beyond the time left, 5xx, network
            result.status, result.reason = FAILED, f"transient: {error}"
            result.error_kind = "transient"
            if isinstance(error, Unreachable):
                result.reason, result.error_kind = f"transient: Auth0 unreachable ({error})", "unreachable"
            return
        result.status = outcome.get("status", FAILED)
        result.reason = outcome.get("reason", "")
        result.client_id = outcome.get("client_id") or result.client_id
        result.created_client = bool(outcome.get("created_client"))
        if outcome.get("duplicate"):
            result.reason = f"handled by the worker meanwhile ({result.reason})"

    def _write(self, result: ApiResult, server: Mapping[str, Any], client: Mapping[str, Any] | None) -> dict:
        mode = self._enabler.mode
        if mode == MODE_LEGACY:
            ref = ApiRef(api_id=result.api_id, identifier=result.identifier, name=result.name, is_system=False)
            return self._enabler.enable(ref).as_dict()
        if result.action == ACTION_ENABLE_ON_CLIENT:
            return self._enabler.enable_listed(server, client).as_dict()  # an idempotent merge: no lock needed
        # Creating a client: the one write a race could double.
        if self._idempotent is None:
            return self._enabler.enable(ApiRef(api_id=result.api_id)).as_dict()  # re-reads the API first

        def run(data: dict) -> dict:
            return self._enabler.enable_listed(server, None).as_dict()

        from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

        data = {"api_id": result.api_id, "identifier": result.identifier, "name": result.name, "is_system": False,
                "mode": mode, "dry_run": False}
        try:
            return self._idempotent(run, self._context)(data)
        except IdempotencyAlreadyInProgressError:
            return {"status": BUSY, "reason": "the worker is enabling this API right now; left to it"}

    def _emit_metrics(self, report: ReconcileReport) -> None:
        if self._metrics is None:
            return
        from aws_lambda_powertools.metrics import MetricUnit

        for name, value in (("ReconcileRepaired", report.count(ENABLED)), ("ReconcileFailed", report.count(FAILED)),
                            ("ReconcileApis", len(report.results))):
            self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


class _ClientIndex:
    """The tenant's Custom API clients by client id and by the identifier they name."""

    def __init__(self, clients: Iterable[Mapping[str, Any]]):
        self.by_id: dict[str, Mapping[str, Any]] = {}
        self.by_identifier: dict[str, list[Mapping[str, Any]]] = {}
        for client in clients:
            self.by_id[str(client.get("client_id"))] = client
            identifier = client.get("resource_server_identifier")
            if identifier:
                self.by_identifier.setdefault(identifier, []).append(client)

    def of(self, server: Mapping[str, Any], api: ManagementApi) -> Mapping[str, Any] | None:
        """The API's Custom API client: the one the resource server links, else any naming it."""
        linked = str(server.get("client_id") or "")
        if linked:
            client = self.by_id.get(linked)
            if client is None:  # created after the clients were listed (by the worker, probably)
                client = self._read(api, linked)
            if client is not None:
                return client
        named = self.by_identifier.get(server.get("identifier") or "")
        if not named:
            return None
        # Prefer one that already allows On-Behalf-Of.
        return next((c for c in named if OBO_PROFILE in _profiles(c)), named[0])

    def _read(self, api: ManagementApi, client_id: str) -> Mapping[str, Any] | None:
        try:
            client = api.get_client(client_id)
        except Auth0Error as error:
            if error.status == 404:
                return None
            raise
        kept = {key: client.get(key) for key in CLIENT_FIELDS.split(",")}  # never keep its secret
        self.by_id[client_id] = kept
        return kept


def _profiles(client: Mapping[str, Any]) -> list[str]:
    return list((client.get("token_exchange") or {}).get("allow_any_profile_of_type") or [])


def _legacy_enabled(server: Mapping[str, Any]) -> bool:
    value = server.get("token_exchange")
    return bool(value)


# --------------------------------------------------------------------------- enable by id


def enable_apis(enabler: Enabler, ids: Iterable[str]) -> list[dict[str, Any]]:
    """Enable each API now, by id or identifier; one result per input, in order.

    A result is the enabler's outcome (``status`` enabled / already_enabled / skipped /
    dry_run), or ``status: "failed"`` with ``error`` and ``kind`` (``configuration``,
    ``rejected``, ``transient``). Nothing is retried here: the operator sees and decides.
    """
    results = []
    for given in ids:
        entry: dict[str, Any] = {"input": given}
        try:
            entry |= enabler.enable(ApiRef(api_id=given)).as_dict()
        except PermanentFailure as failure:
            entry |= {"status": FAILED, "kind": "configuration" if failure.configuration else "rejected",
                      "error": failure.reason}
        except Unreachable as error:
            entry |= {"status": FAILED, "kind": "unreachable", "error": f"Auth0 unreachable: {error}"}
        except Auth0Error as error:
            entry |= {"status": FAILED, "kind": "transient", "error": str(error)}
        results.append(entry)
    return results


# --------------------------------------------------------------------------- pacing


def pace_management_calls(session: Any, max_rate: float) -> None:
    """Let at most ``max_rate`` Management API requests a second leave ``session`` (a
    ``requests.Session``); the token endpoint is not paced. For a sweep that must leave most of
    the tenant's rate limit to other clients."""
    from .replay import Pacer

    pacer = Pacer(max_rate)
    send = session.request

    def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if "/api/v2/" in url:
            pacer.wait()
        return send(method, url, *args, **kwargs)

    session.request = request

