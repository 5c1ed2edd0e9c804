"""The emulator's request handling, independent of the HTTP transport.

One request goes through, in order: counting, fault injection, the rate-limit bucket, routing,
authentication (``Authorization: Bearer``), the route's scope, query-string validation, body
parsing and validation, the tenant operation, and — for a successful write — the ``sapi`` log
record. Every step answers the way Auth0 does when it fails.

Every log record (:meth:`EmulatorApp.emit`) goes to ``on_log_event`` and then to each ``active`` log
stream whose filters match its category; an EventBridge stream hands it, wrapped in the partner
source's envelope, to the :class:`~local.auth0_emulator.partner.PartnerEventBridge` in
``event_bridge``. A delivery that fails is logged and counted, never raised.

``/oauth/token`` (client credentials) authenticates the credentials registered with
``add_m2m_client`` first, exactly as before; any other ``client_id`` must be a client of the tenant
whose ``grant_types`` include ``client_credentials``, and gets for an API the scopes of its client
grant to that API.

Routes are matched on the raw, still percent-encoded path: ``{id}`` matches one segment without
``/``, which is then percent-decoded once. An id can therefore never reach another route, whatever
it contains (``..``, ``%2F``, ``?``...).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from base64 import b64decode, b64encode
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, overload
from urllib.parse import parse_qs, unquote

from . import errors, exchange, schemas
from .errors import ApiError, oauth_error
from .faults import Fault, FaultInjector
from .logstream import (
    Actor,
    build_obo_record,
    build_sapi_record,
    decode_auth0_client,
    eventbridge_envelope,
    log_category,
)
from .partner import PartnerEventBridge
from .ratelimit import Decision, TokenBucket
from .state import Tenant
from .tokens import TokenInfo, TokenIssuer, parse_bearer

logger = logging.getLogger(__name__)

TOKEN_PATH = "/oauth/token"
MANAGEMENT_PREFIX = "/api/v2"
UNMATCHED = "(unmatched)"
_JSON = "application/json; charset=utf-8"

LogCallback = Callable[[dict[str, Any]], None]


class Headers(Protocol):
    """A request's headers as the emulator reads them: by name, regardless of case, as the HTTP
    server's ``http.client.HTTPMessage`` does (a plain dict also fits, with names as written)."""

    @overload
    def get(self, name: str, /) -> str | None: ...

    @overload
    def get(self, name: str, default: str, /) -> str: ...


@dataclass
class HttpRequest:
    """What the transport received."""

    method: str
    target: str
    headers: Headers
    body: bytes = b""
    client_ip: str = "127.0.0.1"


@dataclass
class HttpResponse:
    """What the transport should send (``drop``: close the connection without a response)."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


@dataclass(frozen=True)
class Route:
    """One Management API operation."""

    method: str
    template: str
    scope: str
    handler: str
    description: str | None = None

    @property
    def key(self) -> str:
        """``"METHOD /template"``: the key of :attr:`EmulatorApp.counters` and of the spec's parameters."""
        return f"{self.method} {self.template}"

    @property
    def pattern(self) -> re.Pattern[str]:
        """The template as a regular expression over the raw path."""
        return re.compile("^" + re.escape(self.template).replace(r"\{id\}", "(?P<id>[^/]+)") + "$")


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/v2/resource-servers", "read:resource_servers", "list_resource_servers"),
    Route(
        "POST",
        "/api/v2/resource-servers",
        "create:resource_servers",
        "create_resource_server",
        "Create a resource server",
    ),
    Route("GET", "/api/v2/resource-servers/{id}", "read:resource_servers", "get_resource_server"),
    Route(
        "PATCH",
        "/api/v2/resource-servers/{id}",
        "update:resource_servers",
        "update_resource_server",
        "Update a resource server",
    ),
    Route(
        "DELETE",
        "/api/v2/resource-servers/{id}",
        "delete:resource_servers",
        "delete_resource_server",
        "Delete a resource server",
    ),
    Route("GET", "/api/v2/clients", "read:clients", "list_clients"),
    Route("POST", "/api/v2/clients", "create:clients", "create_client", "Create a client"),
    Route("GET", "/api/v2/clients/{id}", "read:clients", "get_client"),
    Route("PATCH", "/api/v2/clients/{id}", "update:clients", "update_client", "Update a client"),
    Route("DELETE", "/api/v2/clients/{id}", "delete:clients", "delete_client", "Delete a client"),
    Route(
        "POST",
        "/api/v2/clients/{id}/rotate-secret",
        "update:client_keys",
        "rotate_client_secret",
        "Rotate a client secret",
    ),
    Route("GET", "/api/v2/client-grants", "read:client_grants", "list_client_grants"),
    Route(
        "POST", "/api/v2/client-grants", "create:client_grants", "create_client_grant", "Create client grant"
    ),
    Route("GET", "/api/v2/client-grants/{id}", "read:client_grants", "get_client_grant"),
    Route(
        "PATCH",
        "/api/v2/client-grants/{id}",
        "update:client_grants",
        "update_client_grant",
        "Update client grant",
    ),
    Route(
        "DELETE",
        "/api/v2/client-grants/{id}",
        "delete:client_grants",
        "delete_client_grant",
        "Delete client grant",
    ),
    Route("GET", "/api/v2/log-streams", "read:log_streams", "list_log_streams"),
    Route("POST", "/api/v2/log-streams", "create:log_streams", "create_log_stream", "Create a log stream"),
    Route("GET", "/api/v2/log-streams/{id}", "read:log_streams", "get_log_stream"),
    Route("PATCH", "/api/v2/log-streams/{id}", "update:log_streams", "update_log_stream", "Update a log stream"),
    Route("DELETE", "/api/v2/log-streams/{id}", "delete:log_streams", "delete_log_stream", "Delete a log stream"),
)
_COMPILED = tuple((route, route.pattern) for route in ROUTES)
_SECRET_READ_SCOPES = {"read:client_keys", "read:client_credentials"}


def match_route(method: str, raw_path: str) -> tuple[Route | None, str | None]:
    """The route for a raw path and its decoded ``{id}``, or ``(None, None)``."""
    for route, pattern in _COMPILED:
        if route.method == method and (m := pattern.match(raw_path)):
            return route, unquote(m.group("id")) if "id" in m.groupdict() else None
    return None, None


@dataclass
class Call:
    """One authenticated Management API call being handled."""

    request: HttpRequest
    route: Route
    path: str
    entity_id: str | None
    query: dict[str, Any]
    token: TokenInfo
    body: Any = None


@dataclass
class Result:
    """A handler's outcome."""

    status: int
    body: Any = None
    accessed_secrets: list[str] | None = None


def _json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> HttpResponse:
    return HttpResponse(status, body, {"Content-Type": _JSON, **(headers or {})})


NO_AUDIENCE = "No audience parameter was provided, and no default audience has been configured"


def _access_denied(description: str, headers: Mapping[str, str]) -> HttpResponse:
    """The token endpoint's 403 ``access_denied``."""
    return _json_response(403, oauth_error("access_denied", description), headers)


def _not_authorized(audience: str) -> str:
    return (f'Client is not authorized to access "{audience}". You need to create a "client-grant" '
            "associated to this API.")


def _requested_scopes(params: Mapping[str, Any], granted: tuple[str, ...]) -> tuple[tuple[str, ...], list[str]]:
    """The token's scopes (the requested ``scope``, else every granted one) and those requested but not granted."""
    if not params.get("scope"):
        return tuple(granted), []
    requested = tuple(str(params["scope"]).split())
    return requested, [scope for scope in requested if scope not in granted]


def _paginate(items: list[dict[str, Any]], query: Mapping[str, Any], key: str) -> Any:
    """Offset pagination: a bare page, or ``{start, limit, total, <key>}`` with ``include_totals``."""
    page = query.get("page", 0)
    per_page = query.get("per_page", 50)
    selected = items[page * per_page : page * per_page + per_page]
    if query.get("include_totals"):
        return {"start": page * per_page, "limit": per_page, "total": len(items), key: selected}
    return selected


def _checkpoint(
    tenant: Tenant, items: list[dict[str, Any]], query: Mapping[str, Any], key: str, id_field: str
) -> dict[str, Any]:
    """Checkpoint pagination (``from``/``take``): ``next`` is an opaque cursor, absent on the last page."""
    take = query.get("take", 50)
    start = 0
    if "from" in query:
        try:
            start = int(b64decode(query["from"], validate=True).decode("ascii"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise schemas.raise_query_error(f"Invalid value for from: {query['from']}") from exc
    remaining = [item for item in items if tenant.order_of(item[id_field]) >= start]
    body: dict[str, Any] = {key: remaining[:take]}
    if len(remaining) > take:
        body["next"] = b64encode(str(tenant.order_of(remaining[take][id_field])).encode()).decode("ascii")
    return body


def _project(obj: dict[str, Any], query: Mapping[str, Any]) -> dict[str, Any]:
    """Apply ``fields``/``include_fields``."""
    fields = [f for f in str(query.get("fields", "")).split(",") if f]
    if not fields:
        return obj
    if query.get("include_fields", True):
        return {k: v for k, v in obj.items() if k in fields}
    return {k: v for k, v in obj.items() if k not in fields}


class EmulatorApp:
    """Handles requests for one emulated tenant; thread-safe."""

    def __init__(
        self,
        *,
        tenant: Tenant,
        issuer: TokenIssuer,
        management_bucket: TokenBucket,
        token_bucket: TokenBucket,
        faults: FaultInjector,
    ) -> None:
        self.tenant = tenant
        self.issuer = issuer
        self.management_bucket = management_bucket
        self.token_bucket = token_bucket
        self.faults = faults
        self.on_log_event: LogCallback | None = None
        self.event_bridge: PartnerEventBridge | None = None
        self._lock = threading.Lock()
        self._counters: Counter[str] = Counter()
        self._token_requests = 0
        self._tokens_issued = 0
        self._management_calls = 0
        self._rate_limited = 0
        self._log_events: list[dict[str, Any]] = []
        self._stream_stats: dict[str, Counter[str]] = {}

    # -- statistics --------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """A consistent snapshot of the counters."""
        with self._lock:
            return {
                "counters": dict(self._counters),
                "token_requests": self._token_requests,
                "tokens_issued": self._tokens_issued,
                "management_calls": self._management_calls,
                "rate_limited": self._rate_limited,
            }

    @property
    def log_events(self) -> list[dict[str, Any]]:
        """Every record emitted so far (oldest first): ``sapi`` and On-Behalf-Of exchange records."""
        with self._lock:
            return list(self._log_events)

    def reset_stats(self) -> None:
        """Zero the counters and forget the emitted records."""
        with self._lock:
            self._counters.clear()
            self._token_requests = self._tokens_issued = self._management_calls = self._rate_limited = 0
            self._log_events.clear()
            self._stream_stats.clear()

    def log_stream_stats(self) -> dict[str, dict[str, int]]:
        """``{stream id: {"delivered": n, "undelivered": m}}`` for every stream that exists or was counted."""
        with self._lock:
            counted = {sid: dict(c) for sid, c in self._stream_stats.items()}
        stats = {s["id"]: {"delivered": 0, "undelivered": 0} for s in self.tenant.list_log_streams()}
        for stream_id, counts in counted.items():
            stats[stream_id] = {"delivered": counts.get("delivered", 0), "undelivered": counts.get("undelivered", 0)}
        return stats

    def _count_delivery(self, stream_id: str, delivered: bool) -> None:
        with self._lock:
            self._stream_stats.setdefault(stream_id, Counter())["delivered" if delivered else "undelivered"] += 1

    def _count_429(self) -> None:
        with self._lock:
            self._rate_limited += 1

    # -- log stream --------------------------------------------------------------------------------

    def emit(self, record: dict[str, Any]) -> None:
        """Keep a record, hand it to ``on_log_event``, then stream it; failures are logged, never raised."""
        with self._lock:
            self._log_events.append(record)
        callback = self.on_log_event
        if callback is not None:
            try:
                callback(record)
            except Exception:  # noqa: BLE001 - a test's callback must never break the emulated API
                logger.exception("on_log_event callback failed for log %s", record.get("log_id"))
        self._stream(record)

    def _stream(self, record: dict[str, Any]) -> None:
        """Deliver a record through every active log stream whose filters match it."""
        category = log_category(record)
        for stream, source_uuid in self.tenant.active_log_streams():
            filters = stream.get("filters") or []
            if filters and not any(f.get("name") == category for f in filters if isinstance(f, dict)):
                continue
            self._count_delivery(stream["id"], self._deliver(stream, source_uuid, record))

    def _deliver(self, stream: dict[str, Any], source_uuid: str, record: dict[str, Any]) -> bool:
        partner = self.event_bridge
        if partner is None or stream.get("type") != "eventbridge":
            return False
        sink = stream["sink"]
        event = eventbridge_envelope(
            record,
            self.tenant.domain,
            tenant_uuid=source_uuid,
            region=sink["awsRegion"],
            account=sink["awsAccountId"],
        )
        try:
            return bool(partner.deliver(sink["awsPartnerEventSource"], sink["awsAccountId"], sink["awsRegion"], event))
        except Exception:  # noqa: BLE001 - a failed delivery must never break the emulated API
            logger.exception("log stream %s: delivery of log %s failed", stream["id"], record.get("log_id"))
            return False

    # -- entry point -------------------------------------------------------------------------------

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer one request as Auth0 would."""
        raw_path, _, raw_query = request.target.partition("?")
        method = request.method.upper()
        is_token = raw_path == TOKEN_PATH
        is_management = raw_path == MANAGEMENT_PREFIX or raw_path.startswith(MANAGEMENT_PREFIX + "/")
        route, entity_id = match_route(method, raw_path) if is_management else (None, None)
        if is_token and method == "POST":
            key = f"POST {TOKEN_PATH}"
        else:
            key = route.key if route else f"{method} {UNMATCHED}"
        with self._lock:
            self._counters[key] += 1
            if is_token:
                self._token_requests += 1
            if is_management:
                self._management_calls += 1

        fault = self.faults.take(method, raw_path)
        if fault is not None and fault.after:
            # The request takes effect (a write is made and streamed), then its answer is lost.
            response = self._answer(request, method, raw_path, raw_query, route, entity_id, is_token, is_management)
            return self._apply_fault(fault, is_token) or response
        if fault is not None:
            faulted = self._apply_fault(fault, is_token)
            if faulted is not None:
                return faulted
        return self._answer(request, method, raw_path, raw_query, route, entity_id, is_token, is_management)

    def _answer(
        self,
        request: HttpRequest,
        method: str,
        raw_path: str,
        raw_query: str,
        route: Route | None,
        entity_id: str | None,
        is_token: bool,
        is_management: bool,
    ) -> HttpResponse:
        """The answer to a request that no fault stopped."""
        if is_token:
            if method != "POST":
                return _json_response(404, errors.not_found().body())
            return self._token_endpoint(request)
        if not is_management:
            return _json_response(404, errors.not_found().body())

        decision = self.management_bucket.take()
        headers = decision.headers()
        if not decision.allowed:
            self._count_429()
            return _json_response(429, errors.too_many_requests().body(), headers)
        if route is None:
            return _json_response(404, errors.not_found().body(), headers)
        try:
            result, call = self._management_call(request, route, raw_path, raw_query, entity_id)
        except ApiError as exc:
            extra = {"WWW-Authenticate": f'Bearer error="{exc.message}"'} if exc.status == 401 else {}
            return _json_response(exc.status, exc.body(), {**headers, **extra})
        if route.description and 200 <= result.status < 300:
            self._log_write(call, result)
        if result.status == 204:
            return HttpResponse(204, None, headers)
        return _json_response(result.status, result.body, headers)

    def _apply_fault(self, fault: Fault, is_token: bool) -> HttpResponse | None:
        if fault.kind == "latency":
            time.sleep(fault.delay)
            return None
        if fault.kind == "drop":
            return HttpResponse(drop=True)
        if fault.kind == "unauthorized":
            if is_token:
                return _json_response(401, oauth_error("access_denied", "Unauthorized"))
            error = errors.unauthorized(errors.INVALID_SIGNATURE)
            return _json_response(401, error.body(), {"WWW-Authenticate": f'Bearer error="{error.message}"'})
        headers: dict[str, str] = {}
        if fault.status == 429:
            self._count_429()
            headers = {
                "x-ratelimit-limit": "1",
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": str(int(time.time()) + 1),
            }
            if is_token:
                headers["Retry-After"] = "1"
        if is_token:
            code = {429: "too_many_requests"}.get(
                fault.status, "server_error" if fault.status >= 500 else "invalid_request"
            )
            return _json_response(fault.status, oauth_error(code, errors.reason(fault.status)), headers)
        return _json_response(fault.status, errors.status_error(fault.status).body(), headers)

    # -- /oauth/token ------------------------------------------------------------------------------

    def _token_endpoint(self, request: HttpRequest) -> HttpResponse:
        decision: Decision = self.token_bucket.take()
        headers = {**decision.headers(), "Cache-Control": "no-store", "Pragma": "no-cache"}
        if not decision.allowed:
            self._count_429()
            headers["Retry-After"] = str(decision.retry_after)
            return _json_response(
                429, oauth_error("too_many_requests", "Global limit has been reached"), headers
            )
        try:
            params = self._parse_body(request)
        except ApiError:
            return _json_response(400, oauth_error("invalid_request", "Invalid request body"), headers)
        if not isinstance(params, dict):
            return _json_response(400, oauth_error("invalid_request", "Invalid request body"), headers)
        params = {k: v for k, v in params.items() if v is not None}
        basic = request.headers.get("Authorization", "")
        if basic.lower().startswith("basic "):
            try:
                user, _, password = b64decode(basic[6:].strip()).decode().partition(":")
                params.setdefault("client_id", unquote(user))
                params.setdefault("client_secret", unquote(password))
            except (ValueError, UnicodeDecodeError):
                return _json_response(401, oauth_error("access_denied", "Unauthorized"), headers)

        grant_type = params.get("grant_type")
        if not grant_type:
            return _json_response(
                400, oauth_error("invalid_request", "Missing required parameter: grant_type"), headers
            )
        if grant_type == exchange.TOKEN_EXCHANGE_GRANT:
            return self._token_exchange(request, params, headers)
        if grant_type != "client_credentials":
            return _json_response(
                400, oauth_error("unsupported_grant_type", f"Unsupported grant type: {grant_type}"), headers
            )
        if not params.get("client_id"):
            return _json_response(
                400, oauth_error("invalid_request", "Missing required parameter: client_id"), headers
            )
        client = self.tenant.m2m_client(str(params["client_id"]))
        if client is None:
            return self._tenant_client_credentials(params, headers)
        if params.get("client_secret") != client.client_secret:
            return _json_response(401, oauth_error("access_denied", "Unauthorized"), headers)
        audience = params.get("audience")
        if not audience:
            return _access_denied(NO_AUDIENCE, headers)
        if audience != self.issuer.audience:
            if self.tenant.resource_server_by_identifier(str(audience)) is None:
                return _access_denied(f"Service not enabled within domain: {audience}", headers)
            return _access_denied(_not_authorized(str(audience)), headers)
        scopes, missing = _requested_scopes(params, client.scopes)
        if missing:
            return _access_denied(f"Client has not been granted scopes: {', '.join(missing)}", headers)
        token, _ = self.issuer.issue(client, scopes)
        return self._token_response(token, self.issuer.lifetime, scopes, headers)

    def _token_response(
        self, token: str, lifetime: float, scopes: tuple[str, ...], headers: dict[str, str]
    ) -> HttpResponse:
        with self._lock:
            self._tokens_issued += 1
        body = {
            "access_token": token,
            "expires_in": int(lifetime) if float(lifetime).is_integer() else lifetime,
            "scope": " ".join(scopes),
            "token_type": "Bearer",
        }
        return _json_response(200, body, headers)

    def _tenant_client_credentials(self, params: dict[str, Any], headers: dict[str, str]) -> HttpResponse:
        """Client credentials for a client of the tenant (not registered with ``add_m2m_client``).

        Its current ``client_secret`` (a rotated one at once); ``client_credentials`` among its
        ``grant_types``; a client grant to the API (``subject_type`` absent or ``client``), whose
        ``scope`` (or every scope of the API with ``allow_all_scopes``) the token carries.
        """
        client_id = str(params["client_id"])
        client = self.tenant.find_client(client_id)
        secret = client.get("client_secret") if client is not None else None
        if client is None or not secret or params.get("client_secret") != secret:
            return _json_response(401, oauth_error("access_denied", "Unauthorized"), headers)
        if "client_credentials" not in (client.get("grant_types") or []):
            return _json_response(
                403,
                oauth_error("unauthorized_client", "Grant type 'client_credentials' not allowed for the client."),
                headers,
            )
        audience = params.get("audience")
        if not audience:
            return _access_denied(NO_AUDIENCE, headers)
        api = self.tenant.resource_server_by_identifier(str(audience))
        if api is None:
            return _access_denied(f"Service not enabled within domain: {audience}", headers)
        grant = self.tenant.client_credentials_grant(client_id, str(audience))
        if grant is None:
            return _access_denied(_not_authorized(str(audience)), headers)
        if grant.get("allow_all_scopes") is True:
            granted = tuple(s["value"] for s in api.get("scopes", []) if isinstance(s, dict) and "value" in s)
        else:
            granted = tuple(grant.get("scope") or ())
        scopes, missing = _requested_scopes(params, granted)
        if missing:
            return _access_denied(f"Client has not been granted scopes: {', '.join(missing)}", headers)
        # A Management API token lives as long as the M2M credentials' ones; another API's, its token_lifetime.
        if audience == self.issuer.audience:
            lifetime = self.issuer.lifetime
        else:
            lifetime = float(api.get("token_lifetime") or 86400)
        token, _ = self.issuer.issue_client_token(
            client_id=client_id, audience=str(audience), scopes=scopes, lifetime=lifetime
        )
        return self._token_response(token, lifetime, scopes, headers)

    def _token_exchange(self, request: HttpRequest, params: dict[str, Any], headers: dict[str, str]) -> HttpResponse:
        """``grant_type=urn:ietf:params:oauth:grant-type:token-exchange``: On-Behalf-Of only."""
        if not exchange.is_on_behalf_of(params):
            subject_type = params.get("subject_token_type")
            description = (
                f"Unsupported subject_token_type: {subject_type}"
                if subject_type
                else "Missing required parameter: subject_token_type"
            )
            return _json_response(400, oauth_error("invalid_request", description), headers)
        attempt = exchange.Attempt()
        try:
            body = exchange.exchange(self.tenant, self.issuer, params, attempt)
        except exchange.ExchangeError as exc:
            self._log_exchange(request, attempt, success=False, description=exc.description)
            return _json_response(exc.status, oauth_error(exc.error, exc.description), headers)
        with self._lock:
            self._tokens_issued += 1
        self._log_exchange(request, attempt, success=True, description=exchange.SUCCESS_DESCRIPTION)
        return _json_response(200, body, headers)

    def _log_exchange(
        self, request: HttpRequest, attempt: exchange.Attempt, *, success: bool, description: str
    ) -> None:
        self.emit(
            build_obo_record(
                domain=self.tenant.domain,
                success=success,
                description=description,
                client_id=attempt.client_id,
                client_name=attempt.client_name,
                audience=attempt.audience,
                user_id=attempt.user_id,
                user_name=attempt.user_name,
                subject_token_type=attempt.subject_token_type,
                requested_token_type=attempt.requested_token_type,
                actor=attempt.actor,
                ip=request.client_ip,
                user_agent=request.headers.get("User-Agent"),
                auth0_client=decode_auth0_client(request.headers.get("Auth0-Client")),
                scope=attempt.scope,
                access_token_jti=attempt.token_jti,
            )
        )

    # -- /api/v2 -----------------------------------------------------------------------------------

    @staticmethod
    def _parse_body(request: HttpRequest) -> Any:
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if not request.body.strip():
            return {}
        if content_type == "application/x-www-form-urlencoded":
            try:
                form = parse_qs(request.body.decode("utf-8"), keep_blank_values=True)
            except UnicodeDecodeError as exc:
                raise errors.bad_request("Invalid request payload", "invalid_body") from exc
            return {k: v[0] if len(v) == 1 else v for k, v in form.items()}
        try:
            return json.loads(request.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise errors.bad_request("Invalid request payload JSON format", "invalid_body") from exc

    def _management_call(
        self, request: HttpRequest, route: Route, raw_path: str, raw_query: str, entity_id: str | None
    ) -> tuple[Result, Call]:
        token = self.issuer.validate(parse_bearer(request.headers.get("Authorization")))
        if route.scope not in token.scopes:
            raise errors.insufficient_scope(route.scope)
        query = schemas.parse_query(route.key, parse_qs(raw_query, keep_blank_values=True))
        call = Call(request, route, raw_path, entity_id, query, token)
        if route.method in ("POST", "PATCH"):
            call.body = self._parse_body(request)
        result = getattr(self, f"_op_{route.handler}")(call)
        return result, call

    def _log_write(self, call: Call, result: Result) -> None:
        headers = call.request.headers
        actor = Actor(
            client_id=call.token.client_id,
            ip=call.request.client_ip,
            user_agent=headers.get("User-Agent"),
            auth={
                "user": {},
                "strategy": "jwt",
                "credentials": {"jti": call.token.token_id, "scopes": list(call.token.scopes)},
            },
            auth0_client=decode_auth0_client(headers.get("Auth0-Client")),
        )
        record = build_sapi_record(
            domain=self.tenant.domain,
            description=call.route.description or "",
            method=call.route.method,
            path=call.path,
            query=call.query,
            request_body=call.body if call.body is not None else {},
            status=result.status,
            response_body=result.body,
            actor=actor,
            accessed_secrets=result.accessed_secrets,
        )
        self.emit(record)

    # -- operations ------------------------------------------------------------------------------

    def _op_list_resource_servers(self, call: Call) -> Result:
        items = self.tenant.list_resource_servers(call.query.get("identifiers"))
        return Result(200, _paginate(items, call.query, "resource_servers"))

    def _op_get_resource_server(self, call: Call) -> Result:
        return Result(200, self.tenant.get_resource_server(call.entity_id or ""))

    def _op_create_resource_server(self, call: Call) -> Result:
        return Result(201, self.tenant.create_resource_server(call.body))

    def _op_update_resource_server(self, call: Call) -> Result:
        return Result(200, self.tenant.update_resource_server(call.entity_id or "", call.body))

    def _op_delete_resource_server(self, call: Call) -> Result:
        self.tenant.delete_resource_server(call.entity_id or "")
        return Result(204)

    def _client_view(self, client: dict[str, Any], call: Call) -> dict[str, Any]:
        if not _SECRET_READ_SCOPES & set(call.token.scopes):
            client.pop("client_secret", None)
        return _project(client, call.query)

    def _op_list_clients(self, call: Call) -> Result:
        query = call.query
        if "q" in query:
            raise schemas.raise_query_error("The q parameter is not supported by the emulator")
        app_types = {t for t in str(query.get("app_type", "")).split(",") if t}

        def wanted(client: dict[str, Any]) -> bool:
            if app_types and client.get("app_type") not in app_types:
                return False
            if "is_first_party" in query and client.get("is_first_party", False) != query["is_first_party"]:
                return False
            if query.get("is_global"):
                return False
            return (
                "external_client_id" not in query
                or client.get("external_client_id") == query["external_client_id"]
            )

        clients = self.tenant.list_clients(wanted)
        if "from" in query or "take" in query:
            page = _checkpoint(self.tenant, clients, query, "clients", "client_id")
            page["clients"] = [self._client_view(c, call) for c in page["clients"]]
            return Result(200, page)
        return Result(200, _paginate([self._client_view(c, call) for c in clients], query, "clients"))

    def _op_get_client(self, call: Call) -> Result:
        return Result(200, self._client_view(self.tenant.get_client(call.entity_id or ""), call))

    def _op_create_client(self, call: Call) -> Result:
        return Result(201, self.tenant.create_client(call.body), accessed_secrets=["client_secret"])

    def _op_update_client(self, call: Call) -> Result:
        body = call.body
        if (
            isinstance(body, dict)
            and "client_secret" in body
            and "update:client_keys" not in call.token.scopes
        ):
            raise ApiError(
                403,
                "Some fields cannot be updated with the permissions granted by the bearer token scopes: "
                "client_secret requires update:client_keys",
                "insufficient_scope",
            )
        client = self.tenant.update_client(call.entity_id or "", body)
        if not ({"update:client_keys"} | _SECRET_READ_SCOPES) & set(call.token.scopes):
            client.pop("client_secret", None)
        secrets_touched = ["client_secret"] if "client_secret" in client else None
        return Result(200, client, accessed_secrets=secrets_touched)

    def _op_rotate_client_secret(self, call: Call) -> Result:
        """200 with the client and its new ``client_secret`` (the spec's RotateClientSecretResponseContent)."""
        return Result(200, self.tenant.rotate_client_secret(call.entity_id or ""), accessed_secrets=["client_secret"])

    def _op_delete_client(self, call: Call) -> Result:
        self.tenant.delete_client(call.entity_id or "")
        return Result(204)

    def _op_create_client_grant(self, call: Call) -> Result:
        return Result(201, self.tenant.create_client_grant(call.body))

    def _op_list_client_grants(self, call: Call) -> Result:
        query = call.query
        filters = {
            k: query[k]
            for k in ("audience", "client_id", "subject_type", "allow_any_organization", "default_for")
            if k in query
        }
        grants = self.tenant.list_client_grants(lambda g: all(g.get(k) == v for k, v in filters.items()))
        if "from" in query or "take" in query:
            return Result(200, _checkpoint(self.tenant, grants, query, "client_grants", "id"))
        return Result(200, _paginate(grants, query, "client_grants"))

    def _op_get_client_grant(self, call: Call) -> Result:
        return Result(200, self.tenant.get_client_grant(call.entity_id or ""))

    def _op_update_client_grant(self, call: Call) -> Result:
        return Result(200, self.tenant.update_client_grant(call.entity_id or "", call.body))

    def _op_delete_client_grant(self, call: Call) -> Result:
        self.tenant.delete_client_grant(call.entity_id or "")
        return Result(204)

    def _op_list_log_streams(self, call: Call) -> Result:
        return Result(200, self.tenant.list_log_streams())

    def _op_get_log_stream(self, call: Call) -> Result:
        return Result(200, self.tenant.get_log_stream(call.entity_id or ""))

    def _op_create_log_stream(self, call: Call) -> Result:
        """200, as the spec and a streamed ``sapi`` record of a real create show (not 201)."""
        stream = self.tenant.create_log_stream(call.body)
        self._partner_call("create_source", stream)
        return Result(200, stream)

    def _op_update_log_stream(self, call: Call) -> Result:
        return Result(200, self.tenant.update_log_stream(call.entity_id or "", call.body))

    def _op_delete_log_stream(self, call: Call) -> Result:
        stream = self.tenant.delete_log_stream(call.entity_id or "")
        self._partner_call("delete_source", stream)
        return Result(204)

    def _partner_call(self, operation: str, stream: dict[str, Any]) -> None:
        """``create_source``/``delete_source`` of an EventBridge stream's source; a failure is logged only."""
        partner = self.event_bridge
        if partner is None or stream.get("type") != "eventbridge":
            return
        sink = stream["sink"]
        try:
            getattr(partner, operation)(sink["awsPartnerEventSource"], sink["awsAccountId"], sink["awsRegion"])
        except Exception:  # noqa: BLE001 - the stream exists (or is gone) whatever the AWS side answered
            logger.exception("log stream %s: %s of its partner event source failed", stream["id"], operation)
