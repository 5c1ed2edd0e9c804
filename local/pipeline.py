"""The whole pipeline on one machine, as a library: used by ``make demo``, the tests and the benchmarks.

Auth0 (the emulator) creates APIs and streams their ``sapi`` log events to EventBridge (moto),
whose rule — the template's own — sends them to SQS; the event-source-mapping stand-in invokes
the worker in warm, isolated Lambda-like processes; the worker enables token exchange through
the emulator's Management API. The demo watches the worker's logs and the dead-letter queue
until every created API has an outcome, checks the outcome against the tenant itself, and
returns a summary (see :func:`run_pipeline`).

Optionally another client of the tenant (:class:`Neighbour`, its own M2M application) sends
Management API reads at a steady share of the bucket's rate while the queue drains, to see what
the product's ``MANAGEMENT_API_RATE_SHARE`` leaves it.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from token_exchange_enabler.config import MODES
from token_exchange_enabler.scopes import required_scopes

from local.auth0_emulator import Auth0Emulator, Fault, RateLimit, eventbridge_envelope
from local.aws import local_aws_environment
from local.event_path import worker_concurrency, worker_event_source, worker_function
from local.exchange_proof import exchange
from local.lambda_runtime import LocalFunction
from local.stack import deploy_local_stack

DOMAIN = "acme.eu.auth0.com"
# The proof of each enabled API (PipelineOptions.prove): a downstream API the new APIs' services call
# on their users' behalf, configured as DOWNSTREAM_GRANTS, and a user allowed to read it.
DOWNSTREAM_API = "https://downstream.demo.example.com"
DOWNSTREAM_SCOPE = "read:data"
DEMO_USER = "auth0|demo-user"
# Credentials delivery and the platform's event (PipelineOptions.deliver): where the worker stores
# each new Custom API client's credentials, and the bus it announces enabled APIs on (a rule sends
# them to a queue, so that the run can count them).
SECRETS_PREFIX = "token-exchange-enabler/clients/"
DEMO_BUS = "token-exchange-enabler-demo"
WORKER_CLIENT = ("tee5b0e0a2f4c4d8a9b7e1c3d5f7a9b1c", "demo-worker-secret-" + "0" * 40)
ADMIN_CLIENT = ("adm1n0e0a2f4c4d8a9b7e1c3d5f7a9b1c", "demo-admin-secret-" + "1" * 40)
# Another application of the tenant that reads through the Management API (a service, a script).
NEIGHBOUR_CLIENT = ("nbr0e0e0a2f4c4d8a9b7e1c3d5f7a9b1c", "demo-neighbour-secret-" + "2" * 40)
# What the product's M2M client is granted in each mode: exactly what the library says the mode
# needs (the local stack configures no downstream grants).
SCOPES = {mode: required_scopes(mode, with_grants=False) for mode in MODES}
RATE_LIMITS: dict[str, Callable[[], RateLimit] | None] = {
    "enterprise": RateLimit.enterprise,
    "enterprise-non-production": RateLimit.enterprise_non_production,
    "free": RateLimit.free,
    "none": None,
}
FAULTS = ("5xx", "latency", "drop", "401", "duplicates", "delays")
TERMINAL = ("enabled", "already_enabled", "skipped", "dry_run", "dead_lettered")


# --------------------------------------------------------------------------- bookkeeping


@dataclass
class ApiRow:
    api_id: str
    identifier: str
    style: str
    created_at: float = 0.0  # when its log event was streamed
    status: str = "pending"
    reason: str = ""
    finished_at: float | None = None
    proof: str | None = None  # "ok", or why the exchange was refused; None: not tried
    secret: str | None = None  # where its client's credentials were stored (deliver)
    events: int = 0  # "Token Exchange Enabled" events announced for it (deliver)

    @property
    def latency_ms(self) -> float | None:
        if self.finished_at is None or self.status not in ("enabled", "already_enabled"):
            return None
        return max(0.0, (self.finished_at - self.created_at) * 1000)


@dataclass
class Ledger:
    """What happened to each API, from the worker's structured logs and the dead-letter queue."""

    rows: dict[str, ApiRow] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    log_lines: int = 0
    errors: list[str] = field(default_factory=list)
    # Sums of the worker's EMF metrics (CloudWatch embedded metric format lines in its log), by
    # name; empty when the run disables metrics.
    metrics: dict[str, float] = field(default_factory=dict)

    def on_log(self, instance: str, line: str) -> None:
        self.log_lines += 1
        try:
            entry = json.loads(line)
        except ValueError:
            if line.strip():
                self.errors.append(line[:300])
            return
        if isinstance(entry, dict) and "_aws" in entry:
            self._add_metrics(entry)
            return
        if not isinstance(entry, dict) or "api_id" not in entry:
            return
        status = entry.get("status") or ("dead_lettered" if "dead-letter queue" in entry.get("message", "")
                                         and entry.get("message", "").startswith("permanent") else None)
        if status not in TERMINAL:
            return
        self.finish(entry["api_id"], status, entry.get("reason", ""), _log_time(entry.get("timestamp")))

    def _add_metrics(self, blob: dict) -> None:
        try:
            names = [m["Name"] for d in blob["_aws"]["CloudWatchMetrics"] for m in d.get("Metrics", [])]
        except (KeyError, TypeError):
            return
        for name in names:
            value = blob.get(name)
            values = value if isinstance(value, list) else [value]
            total = sum(v for v in values if isinstance(v, int | float))
            with self.lock:
                self.metrics[name] = self.metrics.get(name, 0) + total

    def finish(self, api_id: str, status: str, reason: str, when: float | None = None) -> None:
        with self.lock:
            row = self.rows.get(api_id)
            if row is None or row.status != "pending":
                return  # a duplicate's outcome, or an API this run did not create
            row.status, row.reason, row.finished_at = status, reason, when or time.time()

    def counts(self) -> dict[str, int]:
        with self.lock:
            result = {key: 0 for key in ("pending", *TERMINAL)}
            for row in self.rows.values():
                result[row.status] = result.get(row.status, 0) + 1
            return result


def _log_time(text: Any) -> float | None:
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f%z").timestamp()
    except (TypeError, ValueError):
        return None


class LogStream:
    """Auth0's log stream to EventBridge: at least once, optionally with duplicates and delays."""

    def __init__(self, put: Callable[[dict], None], ledger: Ledger, *, duplicates: bool, delays: bool):
        self._put = put
        self._ledger = ledger
        self._duplicates = duplicates
        self._delays = delays
        self.events = 0
        self.duplicates_sent = 0
        self.first_event = threading.Event()  # set when the first event is streamed
        self._count = 0
        self._lock = threading.Lock()

    def __call__(self, record: dict) -> None:
        self.first_event.set()
        event = eventbridge_envelope(record, DOMAIN)
        details = record.get("data", {}).get("details", {})
        body = details.get("response", {}).get("body") or {}
        request = details.get("request", {})
        if request.get("method") == "post" and request.get("path") == "/api/v2/resource-servers":
            api_id = body.get("id")
            row = self._ledger.rows.get(api_id) if isinstance(api_id, str) else None
            if row is not None:
                row.created_at = time.time()
        with self._lock:
            self._count += 1
            n = self._count
        delay = 0.5 + (n % 3) * 0.5 if self._delays and n % 4 == 0 else 0.0
        self._send(event, delay)
        if self._duplicates and n % 3 == 0:
            self.duplicates_sent += 1
            self._send(event, delay + 0.3)

    def _send(self, event: dict, delay: float) -> None:
        self.events += 1
        if delay:
            timer = threading.Timer(delay, self._put, args=(event,))
            timer.daemon = True
            timer.start()
        else:
            self._put(event)


# --------------------------------------------------------------------------- "Auth0 users"


class Creator:
    """Creates APIs the way people do: Dashboard, Terraform and SDK request bodies, over HTTP."""

    def __init__(self, emulator: Auth0Emulator):
        self._emulator = emulator
        self._session = requests.Session()
        self.calls = 0
        self.token_requests = 0
        self.rate_limited = 0
        self._lock = threading.Lock()
        self._token = self._get_token()

    def _get_token(self) -> str:
        self.token_requests += 1
        response = self._session.post(f"{self._emulator.base_url}/oauth/token", json={
            "grant_type": "client_credentials", "client_id": ADMIN_CLIENT[0], "client_secret": ADMIN_CLIENT[1],
            "audience": f"https://{DOMAIN}/api/v2/"}, timeout=10)
        response.raise_for_status()
        return response.json()["access_token"]

    @staticmethod
    def body(i: int, style: str, run: str) -> dict:
        identifier = f"https://{style}-{i:04d}.{run}.example.com"
        if style == "terraform":
            return {"name": f"Terraform API {i}", "identifier": identifier, "signing_alg": "RS256",
                    "token_lifetime": 7200, "allow_offline_access": False,
                    "skip_consent_for_verifiable_first_party_clients": True,
                    "scopes": [{"value": "read:orders", "description": "Read orders"}]}
        if style == "sdk":
            return {"name": f"Service {i}", "identifier": f"urn:{run}:service:{i}"}
        return {"name": f"Dashboard API {i}", "identifier": identifier, "signing_alg": "RS256"}

    def create(self, body: dict) -> dict:
        while True:
            with self._lock:
                self.calls += 1
            response = self._session.post(f"{self._emulator.base_url}/api/v2/resource-servers", json=body,
                                          headers={"Authorization": f"Bearer {self._token}"}, timeout=10)
            if response.status_code == 429:
                with self._lock:
                    self.rate_limited += 1
                reset = float(response.headers.get("x-ratelimit-reset", time.time() + 1))
                time.sleep(min(2.0, max(0.1, reset - time.time() - 0.5)))
                continue
            if response.status_code >= 500 or response.status_code == 401:
                time.sleep(0.2)  # the demo's own faults hit people too; they click again
                continue
            response.raise_for_status()
            return response.json()


class Neighbour:
    """Another client of the tenant, with its own M2M application and token: it reads one API
    (``GET /api/v2/resource-servers/{id}``) over HTTP at a steady ``rate_per_s`` from ``begin``
    being set until :meth:`stop`, and counts what was served and what was refused (429).

    Steady: requests are sent on a fixed schedule (one every 1/rate s), whatever the answers; a
    429 is counted and not retried (the request is lost to that client, and retrying would raise
    its rate). A request that is late goes as soon as it can; the schedule does not burst to catch
    up more than one request.
    """

    def __init__(self, emulator: Auth0Emulator, rate_per_s: float, begin: threading.Event):
        self.rate_per_s = rate_per_s
        self.sent = 0
        self.served = 0
        self.rate_limited = 0
        self.other_errors = 0
        self.token_requests = 0
        self.seconds = 0.0
        self._base = emulator.base_url
        self._path = f"/api/v2/resource-servers/{emulator.system_api['id']}"
        self._begin = begin
        self._stop = threading.Event()
        self._session = requests.Session()
        self._token = ""
        self._thread = threading.Thread(target=self._run, name="neighbour", daemon=True)

    def start(self) -> None:
        self._token = self._get_token()  # before the first event: its token does not count in the window
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(15)

    def summary(self) -> dict[str, Any]:
        return {"rate_per_s": round(self.rate_per_s, 3), "served": self.served, "rate_limited": self.rate_limited,
                "sent": self.sent, "other_errors": self.other_errors, "seconds": round(self.seconds, 2),
                "served_per_s": round(self.served / self.seconds, 3) if self.seconds else None}

    def _get_token(self) -> str:
        self.token_requests += 1
        response = self._session.post(f"{self._base}/oauth/token", json={
            "grant_type": "client_credentials", "client_id": NEIGHBOUR_CLIENT[0],
            "client_secret": NEIGHBOUR_CLIENT[1], "audience": f"https://{DOMAIN}/api/v2/"}, timeout=10)
        response.raise_for_status()
        return response.json()["access_token"]

    def _run(self) -> None:
        while not self._begin.wait(0.05):
            if self._stop.is_set():
                return
        interval = 1.0 / self.rate_per_s
        started = time.monotonic()
        due = started
        try:
            while True:
                now = time.monotonic()
                if due > now:
                    if self._stop.wait(due - now):
                        break
                    continue
                if self._stop.is_set():
                    break
                self._send()
                due = max(due + interval, time.monotonic() - interval)
        finally:
            self.seconds = time.monotonic() - started

    def _send(self) -> None:
        self.sent += 1
        try:
            response = self._session.get(self._base + self._path, timeout=10,
                                         headers={"Authorization": f"Bearer {self._token}"})
        except requests.RequestException:
            self.other_errors += 1
            return
        if response.status_code == 429:
            self.rate_limited += 1
        elif response.ok:
            self.served += 1
        else:
            self.other_errors += 1
            if response.status_code == 401:  # its token expired: the next request gets a new one
                try:
                    self._token = self._get_token()
                except requests.RequestException:
                    pass


# --------------------------------------------------------------------------- the run


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1], 1)


@dataclass
class PipelineOptions:
    """One run of the local pipeline; the defaults are ``make demo``'s."""

    apis: int = 25
    mode: str = "on_behalf_of"
    rate_limit: str = "enterprise"
    faults: tuple[str, ...] = ()
    current_tenant: bool = False  # legacy mode: a tenant that rejects the legacy field
    dry_run: bool = False
    concurrency: int = 0  # 0: the template's MaximumConcurrency
    visibility_timeout: int = 60
    batching_window: float = 0.5
    timeout: float = 300.0
    token_lifetime: float = 86400.0
    function_dir: Path | None = None  # another handler in the worker's place (benchmark peers)
    handler: str | None = None
    extra_environment: dict[str, str] = field(default_factory=dict)
    setup: Callable[[Auth0Emulator, Any], None] | None = None  # called before any API is created
    # Benchmarks: create the APIs with Auth0Emulator.create_resource_server (no HTTP, outside the
    # tenant's rate limit; the same sapi events are streamed), so that only the worker spends the
    # Management API bucket. Default: over HTTP, the way people create them.
    direct_create: bool = False
    # Benchmarks: folders appended to the worker's sys.path (a peer handler's own dependencies).
    extra_sys_path: tuple[str, ...] = ()
    # The worker's timeout in seconds (None: the template's Timeout). Fault tests shorten it so
    # that an overrun is seen quickly; visibility_timeout must be at least this, as Lambda
    # requires (the template uses 6x; locally 1x, so that a retry is seen within a minute).
    function_timeout: float | None = None
    # Fault tests: also called with (instance id, line) for every line the worker prints (its
    # CloudWatch log), e.g. to scan the workers' logs for secrets.
    on_log: Callable[[str, str], None] | None = None
    # MANAGEMENT_API_RATE_SHARE, as the template's ManagementApiRateShare parameter (None: the
    # template's default).
    rate_share: float | None = None
    # Another client of the tenant (:class:`Neighbour`) reading at this share of the bucket's rate
    # from the first event streamed until the last outcome; 0: none. Needs a rate limit.
    neighbour_share: float = 0.0
    # Prove each enabled API (on_behalf_of): a user's access token for it is exchanged by its
    # Custom API client for a token to DOWNSTREAM_API, granted through DOWNSTREAM_GRANTS.
    prove: bool = False
    # The tenant's plan (its entity limits: local/auth0_emulator/limits.py); None: no limits.
    plan: str | None = None
    # CLIENT_SECRETS_PREFIX and NOTIFICATION_BUS_NAME on: each new Custom API client's credentials in
    # the local Secrets Manager (the proof then reads them there, as the API's service would) and one
    # "Token Exchange Enabled" event per enabled API on a local bus.
    deliver: bool = False


def run_pipeline(args: PipelineOptions, progress: Callable[[str], None] = lambda text: None) -> dict:
    """Run the pipeline until every created API has an outcome (or ``timeout``); return the summary."""
    started = time.monotonic()
    mode = args.mode
    limit_factory = RATE_LIMITS[args.rate_limit]
    faults = set(args.faults)
    ledger = Ledger()
    run_id = f"r{int(time.time()) % 100000}"
    if args.rate_share is not None and not 0 < args.rate_share <= 1:
        raise ValueError(f"rate_share must be in (0, 1], not {args.rate_share}")
    if args.neighbour_share and (limit_factory is None or not 0 < args.neighbour_share <= 1):
        raise ValueError("a neighbour needs a rate limit and a share of its rate in (0, 1]")
    # The product's PacedCalls come from its EMF metrics, read off its log: on when asked about sharing.
    with_metrics = args.rate_share is not None or bool(args.neighbour_share)
    prove = args.prove and mode == "on_behalf_of" and not args.dry_run
    deliver = args.deliver and mode == "on_behalf_of" and not args.dry_run

    with local_aws_environment() as aws, Auth0Emulator(
        domain=DOMAIN, rate_limit=limit_factory() if limit_factory else None,
        legacy_token_exchange_field=(mode == "legacy_resource_server" and not args.current_tenant),
    ) as emulator, tempfile.TemporaryDirectory(prefix="tee-demo-") as work:
        emulator.token_lifetime = args.token_lifetime
        emulator.plan = args.plan
        emulator.add_m2m_client(*WORKER_CLIENT, scopes=required_scopes(mode, with_grants=prove,
                                                                      with_credentials=deliver))
        emulator.add_m2m_client(*ADMIN_CLIENT, scopes=["create:resource_servers", "read:resource_servers"])
        emulator.add_m2m_client(*NEIGHBOUR_CLIENT, scopes=["read:resource_servers"])
        progress("local AWS (moto) and Auth0 emulator up; deploying template.yaml locally")
        parameters = {"Auth0Domain": DOMAIN, "TokenExchangeMode": mode, "DryRun": "true" if args.dry_run else "false"}
        if args.rate_share is not None:
            parameters["ManagementApiRateShare"] = f"{args.rate_share:g}"
        if prove:
            _prepare_proof(emulator)
            parameters["DownstreamGrants"] = json.dumps({DOWNSTREAM_API: [DOWNSTREAM_SCOPE]})
        announcements = _prepare_delivery(parameters) if deliver else None
        # With credentials delivered, the worker handles client secrets: its every log line is kept
        # and scanned for every secret the emulator issued (none may appear).
        worker_lines: list[tuple[str, str]] = []

        def keep_line(instance: str, line: str) -> None:
            worker_lines.append((instance, line))
        stack = deploy_local_stack(
            parameters,
            credentials={"client_id": WORKER_CLIENT[0], "client_secret": WORKER_CLIENT[1]},
            overrides={"VisibilityTimeout": args.visibility_timeout},
        )
        function_timeout = args.function_timeout or stack.function.timeout
        if args.visibility_timeout < function_timeout:
            # Lambda refuses such an event source: a message would be delivered again while its
            # first invocation still runs, and could be deleted by the copy while the first fails.
            raise ValueError(f"visibility timeout {args.visibility_timeout} s is shorter than the function "
                             f"timeout {function_timeout} s")
        concurrency = worker_concurrency(stack, args.concurrency)
        function = worker_function(
            stack, aws=aws, auth0_base_url=emulator.base_url, work_dir=Path(work),
            environment={"POWERTOOLS_LOG_LEVEL": "INFO",
                         "POWERTOOLS_METRICS_DISABLED": "false" if with_metrics else "true",
                         **args.extra_environment},
            code_dir=args.function_dir, handler=args.handler, timeout=function_timeout, max_instances=concurrency,
            extra_sys_path=args.extra_sys_path,
            on_log=_tee(*[receiver for receiver in (ledger.on_log, args.on_log, keep_line if deliver else None)
                          if receiver is not None]),
        )
        stream = LogStream(stack.put_auth0_event, ledger, duplicates="duplicates" in faults,
                           delays="delays" in faults)
        emulator.on_log_event = stream
        _inject_faults(emulator, faults, args.apis)
        if args.setup is not None:
            args.setup(emulator, stack)

        mapping = worker_event_source(stack, function, batching_window=args.batching_window,
                                      maximum_concurrency=concurrency)
        mapping.start()
        creator = Creator(emulator)
        neighbour = None
        if args.neighbour_share and limit_factory is not None:
            neighbour = Neighbour(emulator, args.neighbour_share * limit_factory().per_second, stream.first_event)
            neighbour.start()
        styles = ["dashboard", "terraform", "sdk"]
        create_started = time.time()
        try:
            _create_apis(args.apis, creator, emulator, ledger, styles, run_id, direct=args.direct_create)
            deadline = time.monotonic() + args.timeout
            last = ""
            while time.monotonic() < deadline:
                _collect_dead_letters(stack, ledger)
                counts = ledger.counts()
                line = (f"created {len(ledger.rows)}/{args.apis} · enabled {counts['enabled']} · "
                        f"already {counts['already_enabled']} · skipped {counts['skipped']} · "
                        f"dead-lettered {counts['dead_lettered']} · pending {counts['pending']}")
                if line != last:
                    progress(line)
                    last = line
                if counts["pending"] == 0:
                    break
                time.sleep(0.25)
        finally:
            if neighbour is not None:
                neighbour.stop()  # the last outcome is in (or the run gave up)
            mapping.stop()
            peak_rss_mb = _peak_rss_mb(function)  # of the warm instances, before they are stopped
            function.stop()
            emulator.on_log_event = None
        _collect_dead_letters(stack, ledger)
        elapsed = time.time() - create_started
        duplicate_clients = _verify(emulator, ledger, mode, args.dry_run)
        if announcements is not None:
            _collect_delivery(ledger, announcements)
        exchanges = 0  # the proof's own requests to /oauth/token: not the worker's token requests
        if prove:
            progress("proving each enabled API: its service exchanges a user's token for the downstream API")
            exchanges = _prove(emulator, ledger, from_secrets=deliver)

        rows = sorted(ledger.rows.values(), key=lambda r: r.identifier)
        latencies = [r.latency_ms for r in rows if r.latency_ms is not None]
        finished = [r.finished_at for r in rows if r.finished_at is not None]
        streamed = [r.created_at for r in rows if r.created_at]
        counts = ledger.counts()
        others_calls = creator.calls + (neighbour.sent if neighbour else 0)
        others_429s = creator.rate_limited + (neighbour.rate_limited if neighbour else 0)
        others_tokens = creator.token_requests + (neighbour.token_requests if neighbour else 0)
        worker_429s = max(0, emulator.rate_limited - others_429s)
        served = emulator.management_calls - others_calls - worker_429s
        share = args.rate_share if args.rate_share is not None else function.environment.get(
            "MANAGEMENT_API_RATE_SHARE")
        return {
            "apis_created": len(rows),
            "enabled": counts["enabled"] + counts["already_enabled"],
            "skipped": counts["skipped"],
            "dry_run": counts["dry_run"],
            "dead_lettered": counts["dead_lettered"],
            "lost": counts["pending"],
            "duplicate_clients": duplicate_clients,
            "token_requests": emulator.token_requests - others_tokens - exchanges,
            # Every request the worker sent, those answered 429 included; "served" leaves those out.
            "management_calls": emulator.management_calls - others_calls,
            "management_calls_served": served,
            "management_calls_per_api": round(served / max(1, len(rows)), 2),
            "rate_limited": worker_429s,
            "creator_rate_limited": creator.rate_limited,
            "rate_share": None if share is None else float(share),
            # Calls the worker held back to keep the tenant's reserve (its PacedCalls metric); None
            # when the run had metrics off.
            "paced": int(ledger.metrics.get("PacedCalls", 0)) if with_metrics else None,
            "neighbour": neighbour.summary() if neighbour else None,
            "exchanges_ok": sum(1 for r in rows if r.proof == "ok") if prove else None,
            "exchanges_failed": sum(1 for r in rows if r.proof not in (None, "ok")) if prove else None,
            "plan": args.plan,
            "credentials_stored": sum(1 for r in rows if r.secret) if deliver else None,
            "secrets_in_worker_logs": _secrets_in(worker_lines, emulator) if deliver else None,
            "events_announced": sum(r.events for r in rows) if deliver else None,
            "latency_ms_p50": _percentile(latencies, 50),
            "latency_ms_p95": _percentile(latencies, 95),
            "seconds": round(elapsed, 2),
            "total_seconds": round(time.monotonic() - started, 2),
            # From the first "API created" event streamed to the last outcome (the queue's drain time).
            "drain_seconds": round(max(finished) - min(streamed), 2) if finished and streamed else None,
            "mode": mode,
            "rate_limit": args.rate_limit,
            "faults": sorted(faults),
            "log_events_streamed": stream.events,
            "duplicate_events_streamed": stream.duplicates_sent,
            "batches": mapping.stats.batches,
            "function_errors": mapping.stats.function_errors,
            "cold_starts": function.cold_starts,
            "cold_start_ms_median": round(statistics.median(function.init_ms), 1) if function.init_ms else None,
            "maximum_concurrency": concurrency,
            "invocations": mapping.stats.batches,
            "failed_records": mapping.stats.failed_records,  # deliveries that went back to the queue
            "peak_rss_mb": peak_rss_mb,  # VmHWM of each warm instance (Linux; empty elsewhere)
            "dead_letter_reasons": sorted({r.reason for r in rows if r.status == "dead_lettered"}),
            "apis": [
                {"api_id": r.api_id, "identifier": r.identifier, "style": r.style, "status": r.status,
                 "reason": r.reason, "latency_ms": None if r.latency_ms is None else round(r.latency_ms, 1),
                 "proof": r.proof, "secret": r.secret, "events": r.events if deliver else None}
                for r in rows
            ],
            "worker_errors": ledger.errors[:20],
        }


def _tee(*receivers: Callable[[str, str], None]) -> Callable[[str, str], None]:
    def send(instance: str, line: str) -> None:
        for receive in receivers:
            receive(instance, line)

    return send


def _inject_faults(emulator: Auth0Emulator, faults: set[str], apis: int) -> None:
    some = max(1, apis // 5)
    if "5xx" in faults:
        emulator.inject(Fault("status", status=503, times=some, path_prefix="/api/v2/clients"))
        emulator.inject(Fault("status", status=500, times=some, path_prefix="/api/v2/resource-servers/"))
    if "latency" in faults:
        emulator.inject(Fault("latency", delay=0.5, times=some, path_prefix="/api/v2/resource-servers/"))
    if "drop" in faults:
        emulator.inject(Fault("drop", times=max(1, some // 2), path_prefix="/api/v2/clients"))
    if "401" in faults:
        emulator.inject(Fault("unauthorized", times=2, path_prefix="/api/v2/resource-servers/"))


def _create_apis(n: int, creator: Creator, emulator: Auth0Emulator, ledger: Ledger, styles: list[str],
                 run_id: str, *, direct: bool = False) -> None:
    """N APIs: one system API (as Auth0 would log one), the rest through Dashboard/Terraform/SDK bodies.

    ``direct``: the bodies go to the emulator's state directly instead of ``POST /resource-servers``.
    """
    create = emulator.create_resource_server if direct else creator.create
    system = {"identifier": f"https://system.{run_id}.example.com/api/", "name": "System API"}
    plan: list[tuple[str, dict]] = [("system", system)] if n > 0 else []
    plan += [(styles[i % len(styles)], Creator.body(i, styles[i % len(styles)], run_id)) for i in range(1, n)]

    def register(style: str, server: dict) -> None:
        with ledger.lock:
            ledger.rows.setdefault(server["id"], ApiRow(server["id"], server["identifier"], style, time.time()))

    # Register before the event can be handled: the row must exist when the worker's log arrives.
    original = emulator.on_log_event

    def stream_and_register(record: dict) -> None:
        details = record.get("data", {}).get("details", {})
        body = details.get("response", {}).get("body") or {}
        if details.get("request", {}).get("path") == "/api/v2/resource-servers" and body.get("id"):
            style = "system" if body.get("is_system") else _style_of(body.get("identifier", ""))
            register(style, body)
        if original is not None:
            original(record)

    emulator.on_log_event = stream_and_register
    try:
        for _style, body in plan[:1]:
            emulator.create_resource_server(body, is_system=True)
        threads = []
        chunks = [plan[1:][i::4] for i in range(4)]
        for chunk in chunks:
            thread = threading.Thread(target=lambda c=chunk: [create(b) for _, b in c], daemon=True)
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
    finally:
        emulator.on_log_event = original


def _peak_rss_mb(function: LocalFunction) -> list[float]:
    """Peak resident memory (``VmHWM``, Linux) of each live instance of ``function``, in MB."""
    peaks = []
    for instance in list(function._instances):  # noqa: SLF001 - the local stand-in's own bookkeeping
        try:
            status = Path(f"/proc/{instance.process.pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(round(int(line.split()[1]) / 1024, 1))
    return peaks


def _style_of(identifier: str) -> str:
    for style in ("dashboard", "terraform"):
        if identifier.startswith(f"https://{style}-"):
            return style
    return "sdk"


def _collect_dead_letters(stack: Any, ledger: Ledger) -> None:
    """Dead letters are outcomes too: read them (and leave them for an operator's replay)."""
    import boto3
    from token_exchange_enabler.events import MalformedEvent, parse_sqs_body

    sqs = boto3.client("sqs")
    for url in (stack.dlq_url, stack.delivery_dlq_url):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=1,
                                       MessageAttributeNames=["All"]).get("Messages", [])
        for message in messages:
            attributes = message.get("MessageAttributes", {})
            reason = attributes.get("ERROR_REASON", {}).get("StringValue") or "retries exhausted (maxReceiveCount)"
            api_id = attributes.get("API_ID", {}).get("StringValue")
            if api_id is None:
                try:
                    fact = parse_sqs_body(message["Body"])
                    api_id = getattr(fact, "api_id", None)
                except MalformedEvent:
                    api_id = None
            if api_id:
                ledger.finish(api_id, "dead_lettered", reason)


def _verify(emulator: Auth0Emulator, ledger: Ledger, mode: str, dry_run: bool) -> int:
    """Check each outcome against the tenant; count APIs with more than one Custom API client."""
    per_identifier: dict[str, list[dict]] = {}
    for client in emulator.clients:
        identifier = client.get("resource_server_identifier")
        if client.get("app_type") == "resource_server" and isinstance(identifier, str):
            per_identifier.setdefault(identifier, []).append(client)
    servers = {s["id"]: s for s in emulator.resource_servers}
    for row in ledger.rows.values():
        if row.status not in ("enabled", "already_enabled") or dry_run:
            continue
        if mode == "on_behalf_of":
            clients = per_identifier.get(row.identifier, [])
            ok = any("on_behalf_of_token_exchange" in ((c.get("token_exchange") or {}).get(
                "allow_any_profile_of_type") or []) for c in clients)
        else:
            ok = bool(servers.get(row.api_id, {}).get("token_exchange"))
        if not ok:
            row.status, row.reason = "pending", "the worker said enabled, but the tenant disagrees"
    return sum(1 for clients in per_identifier.values() if len(clients) > 1)


def _prepare_proof(emulator: Auth0Emulator) -> None:
    """The downstream API (created before the log stream is attached: it is no "new API") and the
    user; the downstream API lets first-party clients skip consent, as On-Behalf-Of requires."""
    emulator.create_resource_server({
        "identifier": DOWNSTREAM_API, "name": "Downstream (demo)",
        "scopes": [{"value": DOWNSTREAM_SCOPE}, {"value": "write:data"}],
        "skip_consent_for_verifiable_first_party_clients": True,
    })
    emulator.add_user(DEMO_USER, permissions={DOWNSTREAM_API: [DOWNSTREAM_SCOPE, "write:data"]})


def _secrets_in(lines: list[tuple[str, str]], emulator: Auth0Emulator) -> int:
    """How many worker log lines contain a client secret the emulator issued (there must be none)."""
    from local.auth0_emulator import known_secrets

    secrets = [secret for secret in known_secrets() if len(secret) >= 16]
    return sum(1 for _, line in lines if any(secret in line for secret in secrets))


def _prepare_delivery(parameters: dict[str, str]) -> str:
    """The stack's delivery settings, and the local bus with a rule that keeps what it hears in a
    queue; returns that queue's URL."""
    import boto3

    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name=DEMO_BUS)
    queue_url = sqs.create_queue(QueueName=f"{DEMO_BUS}-heard")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=f"{DEMO_BUS}-enabled", EventBusName=DEMO_BUS,
                    EventPattern=json.dumps({"source": ["token-exchange-enabler"],
                                             "detail-type": ["Token Exchange Enabled"]}))
    events.put_targets(Rule=f"{DEMO_BUS}-enabled", EventBusName=DEMO_BUS, Targets=[{"Id": "heard", "Arn": queue_arn}])
    parameters["ClientSecretsPrefix"] = SECRETS_PREFIX
    parameters["NotificationBusName"] = DEMO_BUS
    return queue_url


def _collect_delivery(ledger: Ledger, queue_url: str) -> None:
    """Where each API's credentials went (the secret's name, never its value) and the events heard."""
    import boto3

    sqs, secrets = boto3.client("sqs"), boto3.client("secretsmanager")
    by_id = {row.api_id: row for row in ledger.rows.values()}
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", [])
        if not messages:
            break
        for message in messages:
            detail = json.loads(message["Body"]).get("detail") or {}
            row = by_id.get(str(detail.get("api_id")))
            if row is not None:
                row.events += 1
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    for row in ledger.rows.values():
        if row.status not in ("enabled", "already_enabled"):
            continue
        try:
            row.secret = secrets.describe_secret(SecretId=SECRETS_PREFIX + row.api_id)["Name"]
        except secrets.exceptions.ResourceNotFoundException:
            row.secret = None


def _prove(emulator: Auth0Emulator, ledger: Ledger, *, from_secrets: bool = False) -> int:
    """For each enabled API, what its service would do: exchange a user's access token for the API
    for a token to the downstream API, as the API's Custom API client — with the credentials stored
    for it in Secrets Manager when ``from_secrets`` (as the service would read them), else with the
    client's credentials as the tenant holds them. Returns the exchanges sent."""
    import boto3

    secrets = boto3.client("secretsmanager") if from_secrets else None
    sent = 0
    clients: dict[str, list[dict]] = {}
    for client in emulator.clients:
        if client.get("app_type") == "resource_server":
            clients.setdefault(str(client.get("resource_server_identifier")), []).append(client)
    for row in ledger.rows.values():
        if row.status not in ("enabled", "already_enabled"):
            continue
        found = clients.get(row.identifier, [])
        if len(found) != 1:
            row.proof = f"{len(found)} Custom API clients"
            continue
        (client,) = found
        client_id, client_secret = client["client_id"], client["client_secret"]
        if secrets is not None:
            if row.secret is None:
                row.proof = "no stored credentials"
                continue
            stored = json.loads(secrets.get_secret_value(SecretId=row.secret)["SecretString"])
            client_id, client_secret = stored["client_id"], stored["client_secret"]
        subject = emulator.issue_user_token(DEMO_USER, row.identifier)
        result = exchange(emulator.base_url, client_id=client_id, client_secret=client_secret,
                          subject_token=subject, audience=DOWNSTREAM_API, scope=DOWNSTREAM_SCOPE)
        sent += 1
        row.proof = "ok" if result.ok else (result.error or f"HTTP {result.status}")
    return sent
