"""The public face of the emulator: :class:`Auth0Emulator`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .app import EmulatorApp, LogCallback
from .errors import ApiError
from .faults import Fault, FaultInjector
from .limits import EntityLimits, limits_for
from .logstream import build_sapi_record, dashboard_actor, eventbridge_envelope
from .partner import PartnerEventBridge
from .ratelimit import RateLimit, TokenBucket
from .server import ServerThread
from .state import MANAGEMENT_SCOPES, Tenant, new_object_id, random_string
from .tokens import M2MClient, TokenIssuer

#: The token endpoint's own bucket: Auth0 publishes 30/s (Free) to 100/s (Enterprise).
DEFAULT_TOKEN_RATE_LIMIT = RateLimit(burst=30, per_second=30.0)


class Auth0Emulator:
    """An Auth0 tenant's token endpoint and Management API on ``http://127.0.0.1:<free port>``.

    Example::

        with Auth0Emulator(domain="acme.eu.auth0.com", rate_limit=RateLimit.free()) as emu:
            emu.add_m2m_client("cid", "secret", scopes=["read:resource_servers"])
            requests.post(f"{emu.base_url}/oauth/token", json={...})

    Args:
        domain: the tenant's canonical domain; the token audience is ``https://{domain}/api/v2/``.
        rate_limit: the Management API's token bucket, ``None`` for no limit (headers are still sent).
        token_lifetime: seconds an access token lives (``expires_in``); may be fractional in tests.
        token_format: ``"opaque"`` random strings or ``"jwt"`` (HS256, standard-library signed).
        legacy_token_exchange_field: accept the 2019 beta ``token_exchange`` list on resource servers
            (a tenant of that era) instead of rejecting it as an unknown field (today's API).
        token_rate_limit: the ``/oauth/token`` bucket (``None``: no limit).
        plan: ``"free"``, ``"essentials"``, ``"professional"`` or ``"enterprise"``: Auth0's published
            entity limits of that plan (applications, APIs, client grants; see
            :mod:`~local.auth0_emulator.limits`); ``None`` (the default): no limit.
        event_bridge: the AWS side of EventBridge log streams
            (:class:`~local.auth0_emulator.partner.PartnerEventBridge`, e.g.
            :class:`~local.auth0_emulator.partner.LocalEventBridgePartner`); ``None``: streams exist but
            deliver nothing. Can be set later (:attr:`event_bridge`).
        host, port: where to listen (port 0: a free port).
    """

    def __init__(
        self,
        domain: str = "acme.eu.auth0.com",
        rate_limit: RateLimit | None = None,
        token_lifetime: float = 86400,
        token_format: str = "opaque",
        legacy_token_exchange_field: bool = False,
        *,
        token_rate_limit: RateLimit | None = DEFAULT_TOKEN_RATE_LIMIT,
        plan: str | None = None,
        event_bridge: PartnerEventBridge | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.domain = domain
        self._host = host
        self._port = port
        self._plan = plan
        self._tenant = Tenant(
            domain, legacy_token_exchange=legacy_token_exchange_field, entity_limits=limits_for(plan)
        )
        self._app = EmulatorApp(
            tenant=self._tenant,
            issuer=TokenIssuer(domain=domain, lifetime=token_lifetime, token_format=token_format),
            management_bucket=TokenBucket(rate_limit),
            token_bucket=TokenBucket(token_rate_limit),
            faults=FaultInjector(),
        )
        self._app.event_bridge = event_bridge
        self._server: ServerThread | None = None
        self._base_url: str | None = None
        # The "Dashboard" that seeded objects are attributed to in their log records.
        self._dashboard_client_id = random_string(32)
        self._admin_user_id = f"auth0|{new_object_id()}"
        # The application users log in with when a test mints their tokens (issue_user_token).
        self.login_client_id = random_string(32)

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> str:
        """Start serving (idempotent); return the base URL ``http://127.0.0.1:PORT``."""
        if self._server is None:
            server = ServerThread(self._app, self._host, self._port)
            server.start()
            self._server = server
            self._base_url = f"http://{server.host}:{server.port}"
        return self.base_url

    def stop(self) -> None:
        """Stop serving and close every connection (idempotent). The state is kept."""
        if self._server is not None:
            self._server.stop()
            self._server = None
            self._base_url = None

    def __enter__(self) -> Auth0Emulator:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server is up."""
        return self._server is not None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running server."""
        if self._base_url is None:
            raise RuntimeError("the Auth0 emulator is not running: call start() first")
        return self._base_url

    # -- settings that can change while running --------------------------------------------------

    @property
    def token_lifetime(self) -> float:
        """Lifetime (s) of tokens issued from now on; assigning it leaves issued tokens as they are."""
        return self._app.issuer.lifetime

    @token_lifetime.setter
    def token_lifetime(self, seconds: float) -> None:
        if seconds <= 0:
            raise ValueError("token_lifetime must be positive")
        self._app.issuer.lifetime = seconds

    @property
    def token_format(self) -> str:
        """``"opaque"`` or ``"jwt"``: the format of tokens issued from now on."""
        return self._app.issuer.token_format

    @token_format.setter
    def token_format(self, token_format: str) -> None:
        if token_format not in ("opaque", "jwt"):
            raise ValueError("token_format must be 'opaque' or 'jwt'")
        self._app.issuer.token_format = token_format

    @property
    def legacy_token_exchange_field(self) -> bool:
        """Whether resource servers accept the 2019 beta ``token_exchange`` field (takes effect at once)."""
        return self._tenant.legacy_token_exchange

    @legacy_token_exchange_field.setter
    def legacy_token_exchange_field(self, enabled: bool) -> None:
        self._tenant.legacy_token_exchange = bool(enabled)

    @property
    def plan(self) -> str | None:
        """The plan whose entity limits apply (``None``: unlimited); assigning one takes effect at once."""
        return self._plan

    @plan.setter
    def plan(self, plan: str | None) -> None:
        self._tenant.entity_limits = limits_for(plan)
        self._plan = plan

    @property
    def entity_limits(self) -> EntityLimits:
        """The limits in force; assign an :class:`~local.auth0_emulator.limits.EntityLimits` for custom ones."""
        return self._tenant.entity_limits

    @entity_limits.setter
    def entity_limits(self, limits: EntityLimits) -> None:
        self._tenant.entity_limits = limits
        self._plan = None

    @property
    def audience(self) -> str:
        """The Management API audience, ``https://{domain}/api/v2/``."""
        return f"https://{self.domain}/api/v2/"

    # -- credentials and tokens --------------------------------------------------------------------

    def add_m2m_client(self, client_id: str, client_secret: str, scopes: Iterable[str] | None = None) -> None:
        """Let ``client_id``/``client_secret`` get Management API tokens carrying ``scopes``.

        ``scopes=None`` grants every scope the emulated routes use. These credentials stand for the
        tenant's own admin application: they are kept by :meth:`reset` and are not listed among
        :attr:`clients`.
        """
        granted = tuple(MANAGEMENT_SCOPES if scopes is None else scopes)
        self._tenant.add_m2m_client(M2MClient(client_id, client_secret, granted))

    def issue_token(self, client_id: str, scopes: Iterable[str] | None = None) -> str:
        """A token for a registered M2M client without an HTTP round trip (not counted)."""
        client = self._tenant.m2m_client(client_id)
        if client is None:
            raise KeyError(f"unknown M2M client {client_id!r}: call add_m2m_client() first")
        token, _ = self._app.issuer.issue(client, tuple(client.scopes if scopes is None else scopes))
        return token

    # -- users and their tokens ------------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        permissions: Mapping[str, Iterable[str]] | None = None,
        *,
        email: str | None = None,
    ) -> dict[str, Any]:
        """Create (or replace) a user whose permissions per API audience are ``permissions``.

        The permissions stand for what Role-Based Access Control gives the user (directly or through
        roles); they bound the scopes of the user's tokens, from a login (:meth:`issue_user_token`) or
        an On-Behalf-Of exchange. Returns ``{"user_id", ["email",] "permissions"}``.
        """
        normalized = {audience: list(scopes) for audience, scopes in (permissions or {}).items()}
        return self._tenant.add_user(user_id, normalized, email=email)

    @property
    def users(self) -> list[dict[str, Any]]:
        """A snapshot of every user added with :meth:`add_user`."""
        return self._tenant.list_users()

    def issue_user_token(
        self,
        user_id: str,
        audience: str,
        scopes: Iterable[str] | None = None,
        *,
        client_id: str | None = None,
        lifetime: float | None = None,
    ) -> str:
        """The access token a login would give ``user_id`` for the API ``audience`` (no HTTP, not counted).

        Its scopes are ``scopes`` (every permission when ``None``) limited, as RBAC does at login, to
        the user's permissions for that API and to the API's scopes; a scope the user lacks is left
        out, not an error. ``client_id`` is the application the user logged in with (``azp``;
        default :attr:`login_client_id`); ``lifetime`` defaults to the API's ``token_lifetime``.
        Raises ``KeyError`` for an unknown user and ``ValueError`` for an unknown or system API.
        """
        user = self._tenant.get_user(user_id)
        if user is None:
            raise KeyError(f"unknown user {user_id!r}: call add_user() first")
        api = self._tenant.resource_server_by_identifier(audience)
        if api is None:
            raise ValueError(f"no API with identifier {audience!r} in this tenant")
        if api.get("is_system"):
            raise ValueError("user tokens for a system API are not emulated")
        api_scopes = [s["value"] for s in api.get("scopes", []) if isinstance(s, dict) and "value" in s]
        permitted = user["permissions"].get(audience, [])
        wanted = list(dict.fromkeys(permitted if scopes is None else scopes))
        granted = tuple(s for s in wanted if s in permitted and s in api_scopes)
        token, _ = self._app.issuer.issue_user_token(
            client_id=client_id or self.login_client_id,
            user_id=user_id,
            audience=audience,
            scopes=granted,
            lifetime=float(api.get("token_lifetime") or 86400) if lifetime is None else lifetime,
        )
        return token

    def token_claims(self, token: str) -> dict[str, Any]:
        """The claims of a token this emulator issued (opaque ones included), as its JWT form has them.

        Raises :class:`~local.auth0_emulator.errors.ApiError` (401) for a token that is unknown,
        expired or signed with a rotated key.
        """
        info = self._app.issuer.lookup(token)
        return info.claims(self._app.issuer.issuer)

    def rotate_signing_key(self) -> None:
        """Invalidate every token issued so far, as a rotated signing key does (401 on next use)."""
        self._app.issuer.rotate_signing_key()

    # -- seeding and inspecting state ----------------------------------------------------------------

    def create_resource_server(self, body: dict[str, Any], *, is_system: bool = False) -> dict[str, Any]:
        """Create an API directly (no HTTP, no rate limit), as if made in the Auth0 Dashboard.

        The body is validated like ``POST /api/v2/resource-servers`` (an invalid one raises
        :class:`~local.auth0_emulator.errors.ApiError`), and the ``sapi`` "Create a resource server"
        record is emitted just as for an HTTP POST.
        """
        created = self._tenant.create_resource_server(body, is_system=is_system)
        record = build_sapi_record(
            domain=self.domain,
            description="Create a resource server",
            method="POST",
            path="/api/v2/resource-servers",
            query={},
            request_body=body,
            status=201,
            response_body=created,
            actor=dashboard_actor(self._admin_user_id, self._dashboard_client_id),
        )
        self._app.emit(record)
        return created

    @property
    def system_api(self) -> dict[str, Any]:
        """The tenant's "Auth0 Management API" resource server."""
        return self._tenant.get_resource_server(self._tenant.system_api_id)

    @property
    def resource_servers(self) -> list[dict[str, Any]]:
        """A snapshot of every resource server, the system API included."""
        return self._tenant.list_resource_servers()

    @property
    def clients(self) -> list[dict[str, Any]]:
        """A snapshot of every client created through the API."""
        return self._tenant.list_clients()

    @property
    def client_grants(self) -> list[dict[str, Any]]:
        """A snapshot of every client grant."""
        return self._tenant.list_client_grants()

    @property
    def log_events(self) -> list[dict[str, Any]]:
        """Every record emitted since the start or the last :meth:`reset`.

        ``sapi`` records of Management API writes and ``success_on_behalf_of_token_exchange`` /
        ``failed_on_behalf_of_token_exchange`` records of On-Behalf-Of exchanges.
        """
        return self._app.log_events

    def eventbridge_events(self, **envelope_options: Any) -> list[dict[str, Any]]:
        """:attr:`log_events` wrapped as Auth0's EventBridge partner source delivers them."""
        return [eventbridge_envelope(r, self.domain, **envelope_options) for r in self.log_events]

    @property
    def on_log_event(self) -> LogCallback | None:
        """Called with each record (see :attr:`log_events`), outside every lock, before the HTTP response is sent."""
        return self._app.on_log_event

    @on_log_event.setter
    def on_log_event(self, callback: LogCallback | None) -> None:
        self._app.on_log_event = callback

    # -- log streams (/api/v2/log-streams) ------------------------------------------------------------

    @property
    def event_bridge(self) -> PartnerEventBridge | None:
        """The AWS side of EventBridge log streams; assigning it takes effect at once.

        With one set, creating an ``eventbridge`` stream creates its partner event source, deleting
        the stream deletes the source, and each record an active, matching stream carries is handed
        to :meth:`~local.auth0_emulator.partner.PartnerEventBridge.deliver`. ``None``: nothing is
        delivered (each such record counts as undelivered in :attr:`log_stream_stats`).
        """
        return self._app.event_bridge

    @event_bridge.setter
    def event_bridge(self, partner: PartnerEventBridge | None) -> None:
        self._app.event_bridge = partner

    @property
    def log_streams(self) -> list[dict[str, Any]]:
        """A snapshot of every log stream, as ``GET /api/v2/log-streams`` answers."""
        return self._tenant.list_log_streams()

    def set_log_stream_status(self, stream_id: str, status: str) -> dict[str, Any]:
        """Set a stream's ``status`` (``active``, ``paused`` or ``suspended``) as Auth0 itself would,
        e.g. suspending a failing stream: no HTTP, no ``sapi`` record. Returns the stream.

        Raises ``KeyError`` for an unknown stream and ``ValueError`` for another status.
        """
        try:
            return self._tenant.set_log_stream_status(stream_id, status)
        except ApiError as exc:
            raise KeyError(f"unknown log stream {stream_id!r}") from exc

    @property
    def log_stream_stats(self) -> dict[str, dict[str, int]]:
        """``{stream id: {"delivered": n, "undelivered": m}}`` since the start or the last :meth:`reset`.

        A record counts for a stream only if the stream was ``active`` and its filters matched it;
        it is undelivered when no partner is set (:attr:`event_bridge`), when the stream's event
        source has no associated bus, or when the put failed. Every existing stream is listed;
        deleted ones only if they counted something.
        """
        return self._app.log_stream_stats()

    # -- faults and limits -------------------------------------------------------------------------

    def inject(self, fault: Fault) -> Fault:
        """Activate a fault (see :class:`~local.auth0_emulator.faults.Fault`)."""
        return self._app.faults.inject(fault)

    def clear_faults(self) -> None:
        """Remove every active fault."""
        self._app.faults.clear()

    @property
    def faults(self) -> list[Fault]:
        """The faults still active."""
        return self._app.faults.active

    @property
    def rate_limit(self) -> RateLimit | None:
        """The Management API bucket's limit; assigning it starts again from a full bucket."""
        return self._app.management_bucket.limit

    @rate_limit.setter
    def rate_limit(self, rate_limit: RateLimit | None) -> None:
        self._app.management_bucket.configure(rate_limit)

    def set_rate_limit(self, rate_limit: RateLimit | None) -> None:
        """Change the Management API limit, starting from a full bucket (same as assigning ``rate_limit``)."""
        self.rate_limit = rate_limit

    # -- statistics --------------------------------------------------------------------------------

    @property
    def counters(self) -> dict[str, int]:
        """Requests per ``"METHOD /route/template"`` (faulted and rejected ones included)."""
        return self._app.stats()["counters"]

    @property
    def token_requests(self) -> int:
        """Requests to ``/oauth/token``, whatever their outcome."""
        return self._app.stats()["token_requests"]

    @property
    def issued_tokens(self) -> list[str]:
        """Every access token issued so far (to scan logs and outputs for leaks)."""
        return self._app.issuer.issued_tokens

    @property
    def tokens_issued(self) -> int:
        """Tokens ``/oauth/token`` actually issued."""
        return self._app.stats()["tokens_issued"]

    @property
    def management_calls(self) -> int:
        """Requests to ``/api/v2``, rejected ones included."""
        return self._app.stats()["management_calls"]

    @property
    def rate_limited(self) -> int:
        """429 responses sent."""
        return self._app.stats()["rate_limited"]

    def reset(self) -> None:
        """Forget objects (log streams included), users, counters, records and faults; keep the server,
        M2M clients, system API, plan and :attr:`event_bridge`. Nothing is done on the AWS side: the
        event sources of forgotten streams stay; the next EventBridge stream again gets the tenant's
        stable source name.

        Tokens already issued stay valid (Auth0 tokens cannot be revoked); buckets are refilled.
        """
        self._tenant.reset()
        self._app.reset_stats()
        self._app.faults.clear()
        self._app.management_bucket.refill()
        self._app.token_bucket.refill()
